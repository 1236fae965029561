"""Env pools: the rollout's view of N environments, each reset and stepped by index.

The rollout plays one episode per env and stops stepping an env once its episode ends, so it needs to reset and
step *subsets* of the envs; Gymnasium's vector envs step all of them in lockstep with autoreset, which does not
fit. An `EnvPool` is that narrow interface, with interchangeable backends whose transcripts are identical under
the same seeds:

- `SyncEnvPool`: the envs in this process, stepped one after another (default; no overhead).
- `RayEnvPool` (``hiper_agent.envpool_ray``, ``pip install hiper[ray]``): Ray actors, locally or on a cluster;
  a dead worker is replaced and its envs replayed.
- other backends (worker processes) implement the same three methods.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym

__all__ = ["EnvPool", "StepResult", "SyncEnvPool", "make_env_fns"]

#: ``(observation, reward, terminated, truncated, info)`` of one env step.
StepResult = tuple[Any, float, bool, bool, dict[str, Any]]


class EnvPool(abc.ABC):
    """N environments addressed by index (``0 .. num_envs - 1``)."""

    num_envs: int

    @abc.abstractmethod
    def reset(
        self, indices: Sequence[int], seeds: Sequence[int | None], options: Sequence[dict[str, Any] | None]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """Reset the envs ``indices`` (``env.reset(seed=seeds[k], options=options[k])``); ``(obs, info)`` each."""

    @abc.abstractmethod
    def step(self, indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        """Step the envs ``indices`` with ``actions`` (one each), in order."""

    def close(self) -> None:  # noqa: B027  (optional hook: a pool without resources has nothing to release)
        """Release the envs (and any workers)."""

    def __enter__(self) -> EnvPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncEnvPool(EnvPool):
    """The envs in this process. Also accepts already-built envs (``SyncEnvPool.from_envs``)."""

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]]) -> None:
        self.envs = [fn() for fn in env_fns]
        self.num_envs = len(self.envs)

    @classmethod
    def from_envs(cls, envs: Sequence[gym.Env]) -> SyncEnvPool:
        """Wrap envs built elsewhere (they are closed with the pool)."""
        pool = cls([])
        pool.envs = list(envs)
        pool.num_envs = len(pool.envs)
        return pool

    def reset(
        self, indices: Sequence[int], seeds: Sequence[int | None], options: Sequence[dict[str, Any] | None]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """See `EnvPool.reset`."""
        return [self.envs[i].reset(seed=s, options=o) for i, s, o in zip(indices, seeds, options, strict=True)]

    def step(self, indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        """See `EnvPool.step`."""
        return [self.envs[i].step(a) for i, a in zip(indices, actions, strict=True)]

    def close(self) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()


def make_env_fns(env_id: str, num_envs: int, **kwargs: Any) -> list[Callable[[], gym.Env]]:
    """``num_envs`` picklable thunks ``lambda: gym.make(env_id, **kwargs)`` (for any pool backend)."""
    return [_EnvFn(env_id, kwargs) for _ in range(num_envs)]


class _EnvFn:
    """A picklable env factory (lambdas do not pickle for worker processes)."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]) -> None:
        self.env_id, self.kwargs = env_id, dict(kwargs)

    def __call__(self) -> gym.Env:
        import hiper_envs  # noqa: F401  (registers the HiPER/* ids in a fresh worker process)

        return gym.make(self.env_id, **self.kwargs)
