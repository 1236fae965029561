"""RayEnvPool: the same transcripts as SyncEnvPool under the same seeds, and a killed worker loses nothing."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from hiper_agent.envs.pool import EnvPool, SyncEnvPool, make_env_fns

ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'hiper[ray]' to test the Ray env pool")
from hiper_agent.envs.ray_pool import RayEnvPool  # noqa: E402

NUM_ENVS = 4
# short episodes keep the test fast (ALFWorld's own limit is 50 steps per subtask); two episodes per env exercise
# the reset between them
ENV_KWARGS = {"max_episode_steps": 5}


def test_pools_share_the_ray_they_started():
    # a trainer opens a training pool and evaluation pools: the first starts Ray, the last one closed shuts it down
    # (runs first in this file, before the module's own Ray instance exists)
    if ray.is_initialized():
        pytest.skip("needs to start Ray itself; another test initialised it first")
    kwargs = {"init_kwargs": {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False}}
    first = RayEnvPool(make_env_fns("HiPER/ALFWorld-v0", 1, **ENV_KWARGS), num_workers=1, **kwargs)
    second = RayEnvPool(make_env_fns("HiPER/ALFWorld-v0", 1, **ENV_KWARGS), num_workers=1, **kwargs)
    first.close()
    assert ray.is_initialized()
    assert second.reset([0], [0], [None])[0][1]["admissible_commands"]  # still served
    second.close()
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def env_fns() -> list:
    return make_env_fns("HiPER/ALFWorld-v0", NUM_ENVS, **ENV_KWARGS)


def kill(actor: Any) -> None:
    """``ray.kill`` and wait until the actor is gone (the kill is asynchronous: a call sent right after may still be
    served), so each kill costs the pool exactly one replacement."""
    ray.kill(actor)
    for _ in range(600):
        try:
            ray.get(actor.replay.remote(0, []), timeout=10)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError("the killed actor still answers")


def play(pool: EnvPool, seed: int, kills: dict[int, int] | None = None) -> list[tuple[Any, ...]]:
    """Two seeded episodes per env with seeded random actions; returns every reset and step result in order.

    Odd-numbered rounds step only the even envs (subsets, as the rollout does once some episodes have ended), an
    action is sometimes invalid text, and ``kills`` maps a round to the worker whose actor is killed before it
    (episode ``e`` plays rounds ``20 e .. 20 e + 19``; round ``20 e - 1`` is just before its reset).
    """
    rngs = [random.Random(seed * 100 + i) for i in range(NUM_ENVS)]
    transcript: list[tuple[Any, ...]] = []
    for episode in range(2):
        seeds = [seed + 10 * episode + i for i in range(NUM_ENVS)]
        if kills and 20 * episode - 1 in kills:
            kill(pool.actors[kills[20 * episode - 1]])
        infos = {}
        resets = pool.reset(range(NUM_ENVS), seeds, [None] * NUM_ENVS)
        for i, (obs, info) in zip(range(NUM_ENVS), resets, strict=True):
            transcript.append(("reset", i, obs, info))
            infos[i] = info
        active = set(range(NUM_ENVS))
        for step in range(20):
            round_ = episode * 20 + step
            if kills and round_ in kills:
                kill(pool.actors[kills[round_]])
            if not active:
                break
            indices = sorted(i for i in active if step % 2 == 0 or i % 2 == 0)
            if not indices:
                continue
            actions = [
                "go nowhere" if rngs[i].random() < 0.2 else rngs[i].choice(infos[i]["admissible_commands"])
                for i in indices
            ]
            for i, action, result in zip(indices, actions, pool.step(indices, actions), strict=True):
                transcript.append(("step", i, action, *result))
                infos[i] = result[-1]
                if result[2] or result[3]:
                    active.discard(i)
    return transcript


@pytest.fixture(scope="module")
def reference() -> list[tuple[Any, ...]]:
    with SyncEnvPool(env_fns()) as pool:
        return play(pool, seed=7)


def test_same_transcript_as_sync_pool(local_ray, reference):
    with RayEnvPool(env_fns(), num_workers=2) as pool:
        assert [pool.worker_of(i) for i in range(NUM_ENVS)] == [0, 0, 1, 1]
        transcript = play(pool, seed=7)
        assert pool.num_restarts == 0
    assert len(reference) > 4 * NUM_ENVS  # the episodes did run
    assert transcript == reference


def test_killed_worker_loses_nothing(local_ray, reference):
    # kills mid-episode (each worker), and worker 1's replacement between episodes (the next call is a reset, and the
    # replay re-runs a finished episode). Each kill is followed by a call to that worker.
    kills = {2: 0, 7: 1, 19: 1}
    with RayEnvPool(env_fns(), num_workers=2) as pool:
        transcript = play(pool, seed=7, kills=kills)
        assert pool.num_restarts == len(kills)
    assert transcript == reference


def test_replay_detects_an_unseeded_env(local_ray):
    # an env reset without a seed cannot be rebuilt: the pool must refuse rather than return another trajectory
    with RayEnvPool(make_env_fns("HiPER/ALFWorld-v0", 1, **ENV_KWARGS), num_workers=1) as pool:
        [(_, info)] = pool.reset([0], [None], [None])
        pool.step([0], [info["admissible_commands"][0]])
        kill(pool.actors[0])
        with pytest.raises(RuntimeError, match="not deterministic"):
            pool.step([0], ["look"])


def test_bad_arguments(local_ray):
    fns = make_env_fns("HiPER/ALFWorld-v0", 2, **ENV_KWARGS)
    with pytest.raises(ValueError, match="num_workers must be >= 1"):
        RayEnvPool(fns, num_workers=0)
    with RayEnvPool(fns, num_workers=3) as pool:  # more workers than envs: one per env
        assert pool.num_workers == 2 and len(pool.actors) == 2
    with RayEnvPool(fns, num_workers=1) as pool:
        with pytest.raises(IndexError, match="out of range"):
            pool.reset([2], [0], [None])
        with pytest.raises(ValueError, match="distinct"):
            pool.reset([0, 0], [0, 1], [None, None])
    with pytest.raises(RuntimeError, match="closed"):
        pool.step([0], ["look"])
