"""The `cpu-webshop` preset: its settings, and a tiny run of it end to end (warm start, PPO, test panel, saved
policy), the saved policy then benchmarked by `hiper-bench` on upstream-format data (``catalog_dir=``)."""

import json
from pathlib import Path

import pytest

from hiper_agent.training.ppo_config import PRESETS, HiPERConfig

#: The preset at toy size: 2 iterations of 4 envs in process, a warm start of 6 expert episodes, 4 test goals.
TINY = {
    "num_envs": 4,
    "env_workers": 0,
    "num_iterations": 2,
    "minibatch_size": 32,
    "sft_episodes": 6,
    "sft_epochs": 1,
    "eval_every": 2,
    "eval_episodes": 4,
    "checkpoint_every": 0,
    "log_tensorboard": False,
    "progress": False,
}


def test_preset_is_the_cpu_learner_on_webshop():
    config = HiPERConfig.from_preset("cpu-webshop")
    cpu = HiPERConfig.from_preset("cpu")
    assert config.env.env_id == "HiPER/WebShop-v0" and config.env.env_kwargs == {"split": "train"}
    assert (config.evaluation.eval_split, config.evaluation.eval_episodes, config.env.max_episode_steps) == (
        "test",
        500,
        15,
    )
    assert config.evaluation.eval_temperature == 0.0 and config.evaluation.eval_num_subtasks == ()
    # the learner is the default's: the scorer with memory slots, task-level subgoals, the switch cost, HAE
    for name in ("policy", "scorer_memory", "switch_cost", "advantage_estimator", "subgoal_bonus", "temperature"):
        assert config.to_flat_dict()[name] == cpu.to_flat_dict()[name], name
    assert config.sft.sft_episodes > 0 and config.sft.sft_epochs > 0  # the expert's warm start
    assert PRESETS["cpu"]["env_kwargs"] == {"pool_size": 512}  # the ALFWorld presets are untouched


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_preset_trains_and_evaluates_on_webshop(tmp_path):
    from hiper_agent.policies import load_policy
    from hiper_agent.training.ppo_trainer import train

    config = HiPERConfig.from_preset("cpu-webshop", output_dir=str(tmp_path), exp_name="tiny", **TINY)
    out = train(config)
    last = out["history"][-1]
    assert last["step"] == 2 and last["eval/test/episodes"] == 4
    assert 0.0 <= last["eval/test/success_rate"] <= 1.0 and 0.0 <= last["eval/test/score"] <= 1.0
    assert any(record.get("sft/steps", 0) > 0 for record in out["history"])  # the warm start ran
    assert "test success" in out["summary"]
    policy = load_policy(tmp_path / "tiny" / "policy")
    assert policy.config.memory == "slots"

    # the same saved policy on upstream's file format: hiper-bench through catalog_dir= (3 human goals)
    from hiper_agent.bench.cli import main

    fixture = Path(__file__).parents[1] / "webshop_server" / "fixtures" / "official"
    argv = ["--agent", str(tmp_path / "tiny" / "policy"), "--env", "HiPER/WebShop-v0", "--episodes", "3"]
    argv += ["--env-kwarg", f"catalog_dir={fixture}", "--out", str(tmp_path / "bench"), "--no-plots", "--no-progress"]
    assert main(argv) == 0
    episodes = [json.loads(line) for line in (tmp_path / "bench" / "episodes.jsonl").read_text().splitlines()]
    assert len(episodes) == 3 and all(e["error"] is None and e["steps"] >= 1 for e in episodes)
    assert all(e["task_id"].startswith("webshop-") and "generated" not in e["task_id"] for e in episodes)
