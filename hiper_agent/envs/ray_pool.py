"""Ray env pool: the envs as Ray actors, a few per actor, on this machine or on an existing Ray cluster.

``RayEnvPool`` implements :class:`~hiper_agent.envs.pool.EnvPool`, so the rollout code is the same as for the local
pool, and its transcripts are identical to :class:`~hiper_agent.envs.pool.SyncEnvPool`'s under the same seeds (each
env is the same object, built by the same factory, driven by the same calls; only the process differs).

Fault tolerance by replay. An env's state is determined by its construction, its last seeded reset and the actions
sent since then, so the pool keeps that log per env (a few dozen short strings per episode). When a worker dies
mid-rollout (node lost, OOM kill, ``ray.kill``), the pool starts a new actor with the same env factories, replays
each of its envs' logs to restore their states, checks that the replayed observations equal the ones the
rollout saw, and sends the failed call again: the rollout never notices and no episode is lost. An env whose
episodes do not follow from its seed (an unseeded first reset, outside randomness) cannot be replayed: the pool
then raises instead of returning a different trajectory.

Ray is imported lazily (``pip install hiper[ray]``). See docs/scale.md for running on a cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from hiper_agent.envs.pool import EnvPool, StepResult, reset_envs, step_envs

__all__ = ["RayEnvPool"]


@dataclass
class _EnvLog:
    """What rebuilds one env's state: its resets and actions since its last seeded reset, and what each returned."""

    events: list[tuple[str, Any, Any]] = field(default_factory=list)  # ("reset", seed, options) | ("step", action, _)
    observations: list[Any] = field(default_factory=list)  # the observation each event returned (to check a replay)

    def add(self, event: tuple[str, Any, Any], obs: Any) -> None:
        if event[0] == "reset" and event[1] is not None:  # a seeded reset fixes the state: older events don't matter
            self.events.clear()
            self.observations.clear()
        self.events.append(event)
        self.observations.append(obs)


class _OurRay:
    """The Ray instance a pool started (rather than one the user initialised), and how many pools are open on it."""

    started = False
    pools = 0


class _EnvWorker:
    """A Ray actor holding a few envs (``local`` index = position in ``env_fns``)."""

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]]) -> None:
        self.envs = [fn() for fn in env_fns]

    def reset(
        self, local: Sequence[int], seeds: Sequence[int | None], options: Sequence[dict[str, Any] | None]
    ) -> list[tuple[Any, dict[str, Any]]]:
        return reset_envs(self.envs, local, seeds, options)

    def step(self, local: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        return step_envs(self.envs, local, actions)

    def replay(self, local: int, events: Sequence[tuple[str, Any, Any]]) -> list[Any]:
        """Re-runs an env's log; returns the observation of each event."""
        env = self.envs[local]
        return [
            env.reset(seed=first, options=second)[0] if kind == "reset" else env.step(first)[0]
            for kind, first, second in events
        ]

    def close(self) -> None:
        for env in self.envs:
            env.close()


class RayEnvPool(EnvPool):
    """N envs spread over ``num_workers`` Ray actors; a dead actor is replaced and its envs replayed.

    Args:
        env_fns: picklable env factories (:func:`~hiper_agent.envs.pool.make_env_fns`), one per env; they run in
            the actors, so the packages they import must be importable there (see docs/scale.md).
        num_workers: actors (at most one per env: more are not started); env ``i`` lives on actor
            ``i * num_workers // num_envs`` (contiguous blocks).
        address: the Ray cluster to join when Ray is not initialised yet (``"auto"``, ``"ray://host:10001"``);
            ``None`` starts a local instance. An already initialised Ray is used as it is.
        init_kwargs: more ``ray.init`` keywords when the pool initialises Ray (``num_cpus``, ``runtime_env``...).
        num_cpus_per_worker: CPUs each actor reserves in Ray's scheduler. The default 0 reserves none (text envs
            are light and mostly wait), so a training pool and its evaluation pools fit on a machine of any size;
            actors are spread over the cluster's nodes either way.
        max_restarts: how many times in a row one call may find its actor dead before the pool gives up.

    Example:
        >>> from hiper_agent.envs.pool import make_env_fns
        >>> pool = RayEnvPool(make_env_fns("HiPER/ALFWorld-v0", 8), num_workers=2)  # doctest: +SKIP
        >>> [(obs, info)] = pool.reset([3], seeds=[0], options=[None])  # doctest: +SKIP
        >>> [(obs, reward, terminated, truncated, info)] = pool.step([3], ["look"])  # doctest: +SKIP
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        num_workers: int = 2,
        *,
        address: str | None = None,
        init_kwargs: dict[str, Any] | None = None,
        num_cpus_per_worker: float = 0.0,
        max_restarts: int = 3,
    ) -> None:
        if not env_fns:
            raise ValueError("RayEnvPool needs at least one env factory")
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers} (use SyncEnvPool for no workers)")
        num_workers = min(num_workers, len(env_fns))
        if max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, got {max_restarts}")
        try:
            import ray
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError("RayEnvPool needs Ray: pip install 'hiper[ray]'") from err
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, **(init_kwargs or {}))
            _OurRay.started, _OurRay.pools = True, 0
        elif _OurRay.pools == 0:  # ours shuts down with its last pool: a running Ray with none open is the user's
            _OurRay.started = False
        # pools on a Ray instance this module started shut it down with the last of them (a trainer has several)
        self._on_our_ray = _OurRay.started
        _OurRay.pools += self._on_our_ray
        self.num_envs = len(env_fns)
        self.num_workers = num_workers
        self.max_restarts = max_restarts
        #: actors replaced so far (one per death)
        self.num_restarts = 0
        self._env_fns = list(env_fns)
        self._where = [(i * num_workers // self.num_envs, 0) for i in range(self.num_envs)]  # (worker, local index)
        self._members: list[list[int]] = [[] for _ in range(num_workers)]
        for i, (w, _) in enumerate(self._where):
            self._where[i] = (w, len(self._members[w]))
            self._members[w].append(i)
        self._actor_cls = ray.remote(num_cpus=num_cpus_per_worker, scheduling_strategy="SPREAD")(_EnvWorker)
        self._actors = [self._new_actor(w) for w in range(num_workers)]
        self._logs = [_EnvLog() for _ in range(self.num_envs)]
        self._closed = False

    # ------------------------------------------------------------------ EnvPool
    def reset(
        self, indices: Sequence[int], seeds: Sequence[int | None], options: Sequence[dict[str, Any] | None]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """See `EnvPool.reset`."""
        if not len(indices) == len(seeds) == len(options):
            raise ValueError(f"got {len(indices)} indices, {len(seeds)} seeds and {len(options)} options")
        args = {i: (s, copy.deepcopy(o)) for i, s, o in zip(indices, seeds, options, strict=True)}
        results = self._call("reset", indices, lambda group: ([args[i][0] for i in group], [args[i][1] for i in group]))
        for i, (obs, _info) in zip(indices, results, strict=True):
            self._logs[i].add(("reset", *args[i]), obs)
        return results

    def step(self, indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        """See `EnvPool.step`."""
        if len(indices) != len(actions):
            raise ValueError(f"got {len(indices)} indices and {len(actions)} actions")
        act = dict(zip(indices, actions, strict=True))
        results = self._call("step", indices, lambda group: ([act[i] for i in group],))
        for i, result in zip(indices, results, strict=True):
            self._logs[i].add(("step", act[i], None), result[0])
        return results

    def close(self) -> None:
        """Close the envs and end the actors (and Ray, when a pool started it and this is the last one open)."""
        if self._closed:
            return
        self._closed = True
        ray = self._ray
        if ray.is_initialized():
            try:
                ray.get([a.close.remote() for a in self._actors])
            except _worker_lost_errors(ray):
                pass  # a dead actor has nothing left to close
            for actor in self._actors:
                ray.kill(actor)
        if self._on_our_ray:
            _OurRay.pools -= 1
            if _OurRay.pools == 0 and _OurRay.started:
                ray.shutdown()
                _OurRay.started = False

    # ------------------------------------------------------------------ workers
    @property
    def actors(self) -> list[Any]:
        """The current actor handles, one per worker (e.g. to place or kill them)."""
        return list(self._actors)

    def worker_of(self, index: int) -> int:
        """The worker that holds env ``index``."""
        return self._where[self._check_index(index)][0]

    def _check_index(self, index: int) -> int:
        if not 0 <= index < self.num_envs:
            raise IndexError(f"env index {index} out of range for a pool of {self.num_envs} envs")
        return index

    def _new_actor(self, worker: int) -> Any:
        return self._actor_cls.remote([self._env_fns[i] for i in self._members[worker]])

    def _call(self, method: str, indices: Sequence[int], make_args: Callable[[list[int]], tuple]) -> list[Any]:
        """Run ``method`` on every worker that holds some of ``indices`` (in parallel); results in ``indices`` order."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        if len(set(indices)) != len(indices):
            raise ValueError(f"indices must be distinct, got {list(indices)}")
        groups: dict[int, list[int]] = {}
        for i in indices:
            groups.setdefault(self._where[self._check_index(i)][0], []).append(i)
        pending = {w: self._submit(method, w, group, make_args(group)) for w, group in groups.items()}
        out: dict[int, Any] = {}
        for w, group in groups.items():
            results = self._get(method, w, group, make_args(group), pending[w])
            out.update(zip(group, results, strict=True))
        return [out[i] for i in indices]

    def _submit(self, method: str, worker: int, group: list[int], args: tuple) -> Any:
        local = [self._where[i][1] for i in group]
        return getattr(self._actors[worker], method).remote(local, *args)

    def _get(self, method: str, worker: int, group: list[int], args: tuple, ref: Any) -> list[Any]:
        lost = _worker_lost_errors(self._ray)
        for attempt in range(self.max_restarts + 1):
            try:
                if attempt:  # the actor died: replace it, restore its envs, send the call again
                    self._restart(worker)
                    ref = self._submit(method, worker, group, args)
                return self._ray.get(ref)
            except lost as err:
                if attempt == self.max_restarts:
                    raise RuntimeError(
                        f"env worker {worker} died {attempt + 1} times in a row during {method}; giving up "
                        f"(raise max_restarts={self.max_restarts} if the cluster is flaky)"
                    ) from err
        raise AssertionError("unreachable")

    def _restart(self, worker: int) -> None:
        """Replace a dead actor and replay its envs' logs (see the module docstring)."""
        ray = self._ray
        ray.kill(self._actors[worker], no_restart=True)
        self._actors[worker] = actor = self._new_actor(worker)
        self.num_restarts += 1
        members = self._members[worker]
        replayed = ray.get([actor.replay.remote(self._where[i][1], self._logs[i].events) for i in members])
        for i, observations in zip(members, replayed, strict=True):
            if not all(_same(a, b) for a, b in zip(observations, self._logs[i].observations, strict=True)):
                raise RuntimeError(
                    f"env {i} is not deterministic: replaying its log after worker {worker} died gave another "
                    "observation; reset it with a seed (and keep its dynamics seeded) so it can be restored"
                )


def _worker_lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """The Ray errors that mean "the actor or its node is gone" (an env's own exception is not one of them)."""
    exc = ray.exceptions
    names = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "OutOfMemoryError")
    return tuple(getattr(exc, n) for n in names if hasattr(exc, n))


def _same(a: Any, b: Any) -> bool:
    """Whether two observations are equal (strings, numbers, or numpy arrays and nested structures of them)."""
    try:
        equal = a == b
        if isinstance(equal, bool):
            return equal
    except Exception:  # noqa: BLE001  (some types refuse comparison: fall back to numpy's)
        pass
    import numpy as np

    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except Exception:  # noqa: BLE001
        return False
