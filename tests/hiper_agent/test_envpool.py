"""Env pools: SubprocEnvPool plays the same transcripts as SyncEnvPool, steps subsets, reports worker errors."""

import json
import os
import pathlib
import random
import subprocess
import sys

import pytest

from hiper_agent.envs.pool import SubprocEnvPool, SyncEnvPool, make_env_fns
from hiper_envs.alfworld.pool import GamePool

ENV_ID = "HiPER/ALFWorld-v0"
NUM_ENVS = 5  # uneven over 2 workers: blocks of 2 and 3


def play(pool, seed=0, rounds=12):
    """Reset all envs, then step random subsets, resetting the envs whose episode ended; return everything seen."""
    rng = random.Random(seed)
    seen = []
    admissible = {}
    for i, (obs, info) in enumerate(
        pool.reset(range(NUM_ENVS), [seed + i for i in range(NUM_ENVS)], [None] * NUM_ENVS)
    ):
        seen.append((i, obs, info["game_id"]))
        admissible[i] = info["admissible_commands"]
    for _ in range(rounds):
        indices = sorted(rng.sample(range(NUM_ENVS), rng.randint(1, NUM_ENVS)), reverse=rng.random() < 0.5)
        actions = [rng.choice(admissible[i] + ["fly"]) for i in indices]
        done = []
        for i, (obs, reward, terminated, truncated, info) in zip(indices, pool.step(indices, actions), strict=True):
            seen.append((i, obs, reward, terminated, truncated, info["elapsed_steps"], info["max_episode_steps"]))
            admissible[i] = info["admissible_commands"]
            if terminated or truncated:
                done.append(i)
        if done:
            for i, (obs, info) in zip(done, pool.reset(done, [None] * len(done), [None] * len(done)), strict=True):
                seen.append((i, "reset", obs, info["game_id"]))
                admissible[i] = info["admissible_commands"]
    return seen


@pytest.fixture(scope="module")
def env_fns():
    pool = GamePool("valid_seen", size=4, seed=0)  # travels to the workers with the env factories
    return make_env_fns(ENV_ID, NUM_ENVS, task_source=pool, max_episode_steps=4)


def test_subproc_transcripts_equal_sync(env_fns):
    sync = SyncEnvPool(env_fns)
    expected = play(sync)
    sync.close()
    with SubprocEnvPool(env_fns, num_workers=2) as pool:
        assert pool.num_workers == 2 and pool.num_envs == NUM_ENVS
        assert play(pool) == expected
    assert any(entry[1] == "reset" for entry in expected)  # episodes ended and were reset mid-way


def test_subproc_errors_come_back_and_the_pool_survives(env_fns):
    with SubprocEnvPool(env_fns[:2], num_workers=2) as pool:
        with pytest.raises(RuntimeError, match="reset"):  # step before reset: the env raises in its worker
            pool.step([1], ["look"])
        [(obs, _)] = pool.reset([1], [0], [None])
        assert obs.startswith("-= Welcome")
        with pytest.raises(IndexError):
            pool.step([2], ["look"])
        with pytest.raises(ValueError):
            pool.step([0, 1], ["look"])
    with pytest.raises(RuntimeError, match="closed"):
        pool.step([0], ["look"])


def test_failing_env_factory_is_reported():
    with pytest.raises(RuntimeError, match="num_subtasks"):
        SubprocEnvPool(make_env_fns(ENV_ID, 2, num_subtasks=0), num_workers=1)


def test_bench_rollout_smoke():
    # the smallest run of every arm (2 envs, one iteration, a 2-game pool built in-process)
    script = pathlib.Path(__file__).parents[2] / "benchmarks" / "bench_rollout.py"
    args = ["--num-envs", "2", "--iterations", "1", "--pool-size", "2", "--build-processes", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # the workers import this checkout
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    arms = ["stock/sync", "stock/subproc", "pooled/sync", "pooled/subproc"]
    assert sorted(summary["steps_per_s"]) == sorted(arms) and summary["ratio_vs_stock_sync"]["stock/sync"] == 1.0
    assert all(summary["resets"][arm] == 2 and summary["steps"][arm] >= 2 for arm in arms)
    assert summary["steps"]["stock/sync"] == summary["steps"]["stock/subproc"]  # same seeds, same episodes


def test_bench_rollout_training_arms_smoke():
    # the cpu preset's trainer, shrunk (6 envs = 2 groups per K, a 6-game pool), in-process and with 1 worker
    script = pathlib.Path(__file__).parents[2] / "benchmarks" / "bench_rollout.py"
    args = (
        "--num-envs 2 --iterations 1 --pool-size 2 --build-processes 1 --arms pooled/sync --training-iterations 1 "
        "--training-num-envs 6 --training-pool-size 6 --training-workers 1"
    ).split()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(summary["steps_per_s"]) == {"pooled/sync", "train/in-process", "train/1 subproc workers"}
    assert summary["steps"]["train/in-process"] == summary["steps"]["train/1 subproc workers"] > 0
    assert "metrics as in-process: True" in out.stdout  # same seed, same episodes wherever the envs run
