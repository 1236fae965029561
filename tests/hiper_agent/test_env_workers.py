"""`--env-workers N`: a training run whose envs live in Ray actors logs exactly what the in-process run logs."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("ray", reason="Ray is optional: pip install 'hiper[ray]' to test --env-workers")

from hiper_agent.ppo_config import HiPERConfig  # noqa: E402
from hiper_agent.ppo_trainer import train  # noqa: E402


def _metrics(run_dir: str) -> list[dict]:
    with open(f"{run_dir}/metrics.jsonl") as f:
        rows = [json.loads(line) for line in f]
    # wall-clock figures differ between any two runs; every other number must match
    return [{k: v for k, v in r.items() if not k.startswith("time/") and not k.endswith("per_s")} for r in rows]


@pytest.mark.slow  # two smoke runs: ~3 min on 2 cores
def test_env_workers_do_not_change_a_run(tmp_path):
    # the smoke preset (SFT warm start, a rollout with subsets of envs still running, evaluation panels in their
    # own pools), shrunk to one PPO iteration
    base = HiPERConfig.from_preset("smoke").replace(output_dir=str(tmp_path), num_iterations=1, progress=False)
    local = train(base.replace(exp_name="local"))
    ray_run = train(base.replace(exp_name="ray", env_workers=2))
    assert len(_metrics(local["run_dir"])) > 1
    assert _metrics(ray_run["run_dir"]) == _metrics(local["run_dir"])
