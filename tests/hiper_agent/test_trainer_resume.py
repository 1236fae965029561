"""Exact resume on the smoke preset: a run continued from a checkpoint ends with the same metrics.

The default test resumes from the iteration-1 checkpoint of a finished run. The slow one kills a real training
process with SIGKILL right after its first checkpoint and resumes it from the command line.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hiper_agent.training.checkpoint import list_checkpoints
from hiper_agent.training.ppo_config import HiPERConfig
from hiper_agent.training.ppo_trainer import HiPERTrainer, train

ROOT = Path(__file__).resolve().parents[2]
# the smoke preset, shrunk further: 2 envs in 1 group, 4-step episodes, 2 held-out games
SMALL = dict(num_envs=2, group_size=2, max_episode_steps=4, eval_episodes=2, sft_episodes=2, progress=False)
COMPARED = (
    "rollout/success_rate",
    "rollout/episode_length",
    "train/policy_loss",
    "train/kl",
    "eval/valid_seen/success_rate",
    "rollout/total_env_steps",
)


def trajectory_of(history):
    return [(r["step"], *(None if r.get(k) is None else round(r[k], 6) for k in COMPARED)) for r in history]


def test_resume_from_checkpoint_reproduces_the_run(tmp_path):
    full = train(HiPERConfig.from_preset("smoke", output_dir=str(tmp_path), exp_name="full", **SMALL))
    run_dir = Path(full["run_dir"])
    assert (run_dir / "metrics.jsonl").is_file() and (run_dir / "learning_curve.png").is_file()
    assert [p.name for p in list_checkpoints(run_dir)] == ["iter_000001", "iter_000002"]
    # a copy of the run as it was after iteration 1
    cut = tmp_path / "cut"
    shutil.copytree(run_dir, cut)
    shutil.rmtree(cut / "checkpoints" / "iter_000002")
    resumed = train(HiPERConfig.from_preset("smoke", output_dir=str(tmp_path), exp_name="cut", resume=True, **SMALL))
    assert "eval/valid_seen/success_rate" in full["history"][0] and full["history"][0]["step"] == -1  # before SFT
    assert trajectory_of(resumed["history"]) == trajectory_of(full["history"])
    lines = [json.loads(x) for x in (cut / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [r["step"] for r in full["history"]]


def test_evaluation_before_sft_can_be_skipped(tmp_path):
    config = HiPERConfig.from_preset(
        "smoke", output_dir=str(tmp_path), eval_before_sft=False, num_iterations=0, **SMALL
    )
    history = train(config)["history"]
    assert [r["step"] for r in history] == [-1, 0]  # the SFT record, then the evaluation after it
    assert (
        "sft/loss" in history[0]
        and "eval/valid_seen/success_rate" not in history[0]
        and "eval/valid_seen/success_rate" in history[1]
    )


# the cpu preset shrunk: 8 envs (K = 1, 2, 3), 8-game panels at K = 1 and 4-game ones at K = 2, 3, on 16 games
# compiled ahead (kept in $HIPER_CACHE)
CPU_SMALL = [
    "--num-envs",
    "8",
    "--eval-episodes",
    "8",
    "--eval-episodes-composite",
    "4",
    "--eval-every",
    "3",
    "--env-kwargs",
    "pool_size=16",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "extra"), [("smoke", []), ("cpu", CPU_SMALL), ("cpu", [*CPU_SMALL, "--scorer-memory", "episode"])]
)
def test_sigkill_then_resume_matches_uninterrupted(tmp_path, preset, extra):
    args = [
        sys.executable,
        str(ROOT / "examples" / "train_hiper.py"),
        "--preset",
        preset,
        "--output-dir",
        str(tmp_path),
        "--no-progress",
        "--num-iterations",
        "3",
        "--checkpoint-every",
        "1",
        *extra,
    ]
    subprocess.run([*args, "--exp-name", "ref"], check=True, capture_output=True, timeout=900)
    proc = subprocess.Popen([*args, "--exp-name", "killed"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = tmp_path / "killed" / "checkpoints" / "iter_000001"
    deadline = time.time() + 600
    while not first.is_dir() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.is_dir(), "no checkpoint before the kill"
    subprocess.run([*args, "--exp-name", "killed", "--resume"], check=True, capture_output=True, timeout=900)
    ref = [json.loads(x) for x in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    got = [json.loads(x) for x in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert trajectory_of(got) == trajectory_of(ref)


def test_sft_entry_point_then_rl_from_the_saved_policy(tmp_path):
    from hiper_agent.cli import sft_main
    from hiper_agent.models import load_model

    flags = [
        "--preset",
        "smoke",
        "--output-dir",
        str(tmp_path),
        "--num-envs",
        "2",
        "--group-size",
        "2",
        "--max-episode-steps",
        "4",
        "--eval-episodes",
        "2",
        "--sft-episodes",
        "2",
        "--no-progress",
    ]
    assert sft_main([*flags, "--exp-name", "sft"]) == 0
    folder = tmp_path / "sft" / "sft_policy"
    saved = json.loads((folder / "hiper.json").read_text())
    assert (saved["prompt_style"], saved["history_length"], saved["action_memory"]) == ("compact", 2, 0)
    assert load_model(str(folder)).source == "hf"
    records = [json.loads(x) for x in (tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], "eval/valid_seen/success_rate" in r) for r in records] == [(-1, True), (-1, False), (0, True)]
    assert (tmp_path / "sft" / "config.json").is_file()
    config = HiPERConfig.from_preset(
        "smoke",
        output_dir=str(tmp_path),
        exp_name="rl",
        model=str(folder),
        sft_epochs=0,
        sft_episodes=0,
        num_iterations=1,
        **{k: v for k, v in SMALL.items() if k != "sft_episodes"},
    )
    result = train(config)
    assert (Path(result["run_dir"]) / "policy" / "hiper.json").is_file()
    with pytest.warns(UserWarning, match="history_length=2, this run shows 1: pass --history-length 2"):
        HiPERTrainer(config.replace(exp_name="rl-other-prompts", history_length=1))
    assert result["history"][-1]["step"] == 1


def test_entropy_bonus_raises_the_policys_entropy(tmp_path):
    # entropy_coef is part of the loss. Four PPO epochs over the same turns: the first sees the same policy in both
    # runs, the later ones a policy updated with or without the bonus, so the mean entropy differs by the bonus alone
    def mean_entropy(coef: float) -> float:
        config = HiPERConfig.from_preset(
            "smoke",
            output_dir=str(tmp_path),
            exp_name=f"ent{coef}",
            entropy_coef=coef,
            lr=1e-2,
            ppo_epochs=4,
            num_iterations=1,
            minibatch_size=4,
            grad_accum_steps=1,
            sft_epochs=8,
            eval_every=0,
            checkpoint_every=0,
            **SMALL,
        )
        return train(config)["history"][-1]["train/entropy"]

    low, high = mean_entropy(0.0), mean_entropy(10.0)
    assert high > low + 0.05, (low, high)


def test_progress_shaping_gives_only_the_training_envs_the_oracle(tmp_path):
    config = HiPERConfig.from_preset("smoke", output_dir=str(tmp_path), progress_shaping=1.0, sft_epochs=0, **SMALL)
    trainer = HiPERTrainer(config)
    assert all(env.unwrapped.expert for env in trainer.pool.envs)
    trainer._evaluate(0)
    assert not any(env.unwrapped.expert for pool in trainer.eval_pools.values() for env in pool.envs)
    metrics = trainer._iteration(1)  # rollout with the oracle's plan lengths, shaped advantages, an update
    assert metrics["rollout/episodes"] == 2.0
