"""Env pools: the rollout's view of N Gymnasium envs, reset and stepped by index, in this process or in workers.

`make_pool` picks the backend (`SyncEnvPool`, `SubprocEnvPool`, or `RayEnvPool` in ``hiper_agent.envs.ray_pool``,
imported only when asked for); the trainer, ``hiper-bench`` and the benchmarks build their pools with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hiper_agent.envs.pool import EnvPool, StepResult, SubprocEnvPool, SyncEnvPool, make_env_fns

__all__ = ["EnvPool", "StepResult", "SubprocEnvPool", "SyncEnvPool", "make_env_fns", "make_pool"]


def make_pool(
    env_id: str,
    num_envs: int,
    workers: int = 0,
    backend: str = "ray",
    *,
    per_env: Sequence[Mapping[str, Any]] | None = None,
    **kwargs: Any,
) -> EnvPool:
    """``num_envs`` envs ``gym.make(env_id, **kwargs)`` in one pool, in this process or spread over workers.

    ``per_env`` (one mapping per env) is merged over ``kwargs`` env by env, e.g. to give env groups different
    numbers of subtasks.

    ``workers=0``: in this process; ``workers=N``: over N Ray actors (``backend="ray"``) or worker processes
    (``backend="subprocess"``). The trainer, ``hiper-bench`` and the benchmarks build their pools here; every
    backend gives the same transcripts.
    """
    fns = make_env_fns(env_id, num_envs, **kwargs)
    if per_env is not None:
        if len(per_env) != num_envs:
            raise ValueError(f"per_env has {len(per_env)} entries for {num_envs} envs")
        fns = [fn for extra in per_env for fn in make_env_fns(env_id, 1, **{**kwargs, **extra})]
    if workers <= 0:
        return SyncEnvPool(fns)
    _warm_caches(fns)
    if backend == "subprocess":
        return SubprocEnvPool(fns, num_workers=workers)
    from hiper_agent.envs.ray_pool import RayEnvPool

    return RayEnvPool(fns, num_workers=workers)


def _warm_caches(fns: Sequence[Any]) -> None:
    """Makes one env of each distinct configuration here, then closes it, before the workers start.

    An env whose construction fills a disk cache (ALFWorld's ``pool_size`` compiles its games, over both cores,
    and keeps them in ``$HIPER_CACHE``) then fills it once, in this process, and every worker loads it; without
    this each worker would compile the same games on its own core, racing to write the same file.
    """
    seen: set[str] = set()
    for fn in fns:
        key = repr((getattr(fn, "env_id", None), sorted(getattr(fn, "kwargs", {}).items(), key=str)))
        if key not in seen:
            seen.add(key)
            fn().close()
