"""`--env-workers N`: a training run whose envs live in Ray actors logs exactly what the in-process run logs, for
every policy family."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("ray", reason="Ray is optional: pip install 'hiper[ray]' to test --env-workers")

from hiper_agent.training.ppo_config import HiPERConfig  # noqa: E402
from hiper_agent.training.ppo_trainer import train  # noqa: E402


def _metrics(run_dir: str) -> list[dict]:
    with open(f"{run_dir}/metrics.jsonl") as f:
        rows = [json.loads(line) for line in f]
    # wall-clock figures differ between any two runs; every other number must match
    return [{k: v for k, v in r.items() if not k.startswith("time/") and not k.endswith("per_s")} for r in rows]


#: per policy family, a preset shrunk to one PPO iteration (each shrink keeps the parts that touch the env pool: a
#: rollout in which some episodes end before others, and evaluation panels in pools of their own)
RUNS = {
    "llm": ("smoke", {}),  # SFT warm start from expert episodes, then PPO on the tiny LLM
    "scorer": (
        "cpu",
        {
            "num_envs": 4,
            "max_episode_steps": 3,
            "eval_episodes": 4,
            "eval_episodes_composite": 2,
            "eval_every": 1,
            "eval_steps_per_subtask": 3,
            "minibatch_size": 16,
            "env_kwargs": {"pool_size": 16},
        },
    ),
}


@pytest.mark.slow  # two runs per family: ~65 s for llm, ~30 s for scorer, on 2 cores
@pytest.mark.parametrize("family", list(RUNS))
def test_env_workers_do_not_change_a_run(tmp_path, family):
    preset, shrink = RUNS[family]
    base = HiPERConfig.from_preset(preset).replace(output_dir=str(tmp_path), num_iterations=1, progress=False, **shrink)
    assert base.agent.policy == family
    local = train(base.replace(exp_name="local"))
    ray_run = train(base.replace(exp_name="ray", env_workers=2))
    assert len(_metrics(local["run_dir"])) > 1
    assert _metrics(ray_run["run_dir"]) == _metrics(local["run_dir"])


def test_worker_pools_compile_the_games_once_on_a_fresh_cache(tmp_path, monkeypatch):
    """``pool_size`` with env workers on an empty cache: this process compiles the games, the workers load them.

    The workers are daemonic processes, which may not start the build's processes of their own (the first fresh
    run with ``env_workers=2`` failed that way); `make_pool` warms the cache here first.
    """
    import hiper_envs  # noqa: F401
    from hiper_agent.envs import make_pool

    monkeypatch.setenv("HIPER_CACHE", str(tmp_path / "cache"))
    pool = make_pool("HiPER/ALFWorld-v0", 2, 2, "subprocess", split="valid_seen", pool_size=2)
    try:
        (obs, info), _ = pool.reset(range(2), [0, 1], [None, None])
        assert info["admissible_commands"] and obs
    finally:
        pool.close()
    assert len(list((tmp_path / "cache").glob("alfworld-pool-*.pkl"))) == 1  # built once, here
