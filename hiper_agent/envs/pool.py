"""Env pools: the rollout's view of N environments, each reset and stepped by index.

The rollout plays one episode per env and stops stepping an env once its episode ends, so it needs to reset and
step *subsets* of the envs; Gymnasium's vector envs step all of them in lockstep with autoreset, which does not
fit. An `EnvPool` is that narrow interface, with interchangeable backends whose transcripts are identical under
the same seeds:

- `SyncEnvPool`: the envs in this process, stepped one after another (default; no overhead).
- `SubprocEnvPool`: the envs spread over worker processes (each owns a contiguous block of them and steps its
  share of a subset while the others step theirs); pays when env steps cost more than the pipe round trip
  (~0.1-0.3 ms a message) and there are cores to spare. See `benchmarks/bench_rollout.py`.
- `RayEnvPool` (``hiper_agent.envs.ray_pool``, ``pip install hiper[ray]``): Ray actors, locally or on a cluster;
  a dead worker is replaced and its envs replayed.
"""

from __future__ import annotations

import abc
import multiprocessing
import os
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym

__all__ = ["EnvPool", "StepResult", "SubprocEnvPool", "SyncEnvPool", "make_env_fns", "reset_envs", "step_envs"]

#: ``(observation, reward, terminated, truncated, info)`` of one env step.
StepResult = tuple[Any, float, bool, bool, dict[str, Any]]


def reset_envs(
    envs: Sequence[gym.Env],
    indices: Sequence[int],
    seeds: Sequence[int | None],
    options: Sequence[dict[str, Any] | None],
) -> list[tuple[Any, dict[str, Any]]]:
    """``envs[i].reset(seed=seeds[k], options=options[k])`` for each ``i = indices[k]``, in order (every backend)."""
    return [envs[i].reset(seed=s, options=o) for i, s, o in zip(indices, seeds, options, strict=True)]


def step_envs(envs: Sequence[gym.Env], indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
    """``envs[i].step(actions[k])`` for each ``i = indices[k]``, in order (every backend)."""
    return [envs[i].step(a) for i, a in zip(indices, actions, strict=True)]


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
        return reset_envs(self.envs, indices, seeds, options)

    def step(self, indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        """See `EnvPool.step`."""
        return step_envs(self.envs, indices, actions)

    def close(self) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()


class SubprocEnvPool(EnvPool):
    """The envs in ``num_workers`` worker processes, each owning a contiguous block of envs.

    A call sends one message to every worker that owns some of ``indices``, then collects the replies: the
    workers step their envs concurrently, each its own envs one after another. The transcripts are those of
    `SyncEnvPool` under the same seeds (each env is the same object, stepped in the same order). An exception in a
    worker (an env's ``step`` raising) comes back as a `RuntimeError` carrying the worker's traceback; the pool
    stays usable.

    Code: the worker loop follows Gymnasium's ``AsyncVectorEnv`` / SB3's ``SubprocVecEnv`` (pipes, one worker
    loop per process), but steps subsets of envs, several per worker, without autoreset.

    Args:
        env_fns: picklable env factories (`make_env_fns`), one per env.
        num_workers: worker processes (default: one per CPU, at most one per env).
        context: the ``multiprocessing`` start method. ``spawn`` (default) is safe with torch and Fast Downward
            loaded in the parent; ``fork`` starts faster but copies the parent's threads' locks and libraries.

    Example:
        >>> pool = SubprocEnvPool(make_env_fns("HiPER/ALFWorld-v0", 8, split="train"), num_workers=2)  # doctest: +SKIP
        >>> [(obs, info)] = pool.reset([3], seeds=[0], options=[None])  # doctest: +SKIP
        >>> [(obs, reward, terminated, truncated, info)] = pool.step([3], ["look"])  # doctest: +SKIP
        >>> pool.close()  # doctest: +SKIP
    """

    def __init__(
        self, env_fns: Sequence[Callable[[], gym.Env]], num_workers: int | None = None, context: str = "spawn"
    ) -> None:
        self.num_envs = len(env_fns)
        if self.num_envs == 0:
            raise ValueError("SubprocEnvPool needs at least one env factory")
        num_workers = num_workers or len(_available_cpus())
        if not isinstance(num_workers, int) or num_workers <= 0:
            raise ValueError(f"num_workers must be a positive int, got {num_workers!r}")
        num_workers = min(num_workers, self.num_envs)
        # env i lives in worker self._owner[i] at position self._local[i]; blocks as even as possible
        bounds = [round(k * self.num_envs / num_workers) for k in range(num_workers + 1)]
        self._owner = [w for w in range(num_workers) for _ in range(bounds[w], bounds[w + 1])]
        self._local = [i - bounds[w] for w in range(num_workers) for i in range(bounds[w], bounds[w + 1])]
        ctx = multiprocessing.get_context(context)
        self._conns: list[Connection] = []
        self._processes = []
        self._closed = False
        for w in range(num_workers):
            parent, child = ctx.Pipe()
            process = ctx.Process(
                target=_worker, args=(child, list(env_fns[bounds[w] : bounds[w + 1]])), daemon=True, name=f"envpool-{w}"
            )
            process.start()
            child.close()
            self._conns.append(parent)
            self._processes.append(process)
        try:
            self._collect(range(num_workers))  # surface a failing env factory now
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        """Number of worker processes."""
        return len(self._conns)

    @property
    def worker_pids(self) -> list[int]:
        """The workers' process ids (for monitoring, e.g. their CPU time in ``benchmarks/bench_rollout.py``)."""
        return [process.pid for process in self._processes]

    def reset(
        self, indices: Sequence[int], seeds: Sequence[int | None], options: Sequence[dict[str, Any] | None]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """See `EnvPool.reset`."""
        return self._call("reset", indices, list(zip(seeds, options, strict=True)))

    def step(self, indices: Sequence[int], actions: Sequence[Any]) -> list[StepResult]:
        """See `EnvPool.step`."""
        return self._call("step", indices, list(actions))

    def _call(self, command: str, indices: Sequence[int], args: Sequence[Any]) -> list[Any]:
        if self._closed:
            raise RuntimeError("the SubprocEnvPool is closed")
        if len(indices) != len(args):
            raise ValueError(f"{len(indices)} indices but {len(args)} arguments")
        jobs: dict[int, list[tuple[int, Any]]] = {}
        where: list[tuple[int, int]] = []  # (worker, position in its reply) of each index
        for index, arg in zip(indices, args, strict=True):
            if not 0 <= index < self.num_envs:
                raise IndexError(f"env index {index} out of range for {self.num_envs} envs")
            worker = self._owner[index]
            jobs.setdefault(worker, [])
            where.append((worker, len(jobs[worker])))
            jobs[worker].append((self._local[index], arg))
        for worker, job in jobs.items():
            self._conns[worker].send((command, job))
        replies = self._collect(jobs)
        return [replies[worker][position] for worker, position in where]

    def _collect(self, workers: Any) -> dict[int, Any]:
        replies, errors = {}, []
        for worker in workers:  # read every reply (even after an error) so that no pipe is left out of step
            try:
                ok, payload = self._conns[worker].recv()
            except EOFError:
                ok, payload = False, f"worker {worker} died (exit code {self._processes[worker].exitcode})"
            if ok:
                replies[worker] = payload
            else:
                errors.append(payload)
        if errors:
            raise RuntimeError("env worker failed:\n" + "\n".join(errors))
        return replies

    def close(self) -> None:
        """Close the envs and stop the workers (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for conn in self._conns:
            try:
                conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
        for conn in self._conns:
            conn.close()


def _available_cpus() -> set[int]:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def _worker(conn: Connection, env_fns: list[Callable[[], gym.Env]]) -> None:
    """A worker's loop: build its envs, then serve ``(command, [(local index, argument), ...])`` messages."""
    envs: list[gym.Env] = []
    try:
        envs = [fn() for fn in env_fns]
        conn.send((True, None))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send((False, traceback.format_exc()))
        return
    try:
        while True:
            command, job = conn.recv()
            if command == "close":
                break
            try:
                local = [i for i, _ in job]
                if command == "reset":
                    result = reset_envs(envs, local, [seed for _, (seed, _) in job], [opts for _, (_, opts) in job])
                else:
                    result = step_envs(envs, local, [action for _, action in job])
                conn.send((True, result))
            except Exception:  # noqa: BLE001 - the env's error goes back to the caller
                conn.send((False, traceback.format_exc()))
    except (EOFError, KeyboardInterrupt):  # the parent went away
        pass
    finally:
        for env in envs:
            env.close()
        conn.close()


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
