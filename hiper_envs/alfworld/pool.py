"""``GamePool``: a seeded pool of generated ALFWorld games, generated and compiled ahead so that resets are fast.

Where a reset of a generated game goes (2-core box, ``train`` games, K=1; ``benchmarks/bench_rollout.py``):
~140 ms translating the game's PDDL to SAS (Fast Downward's translator), ~55 ms generating the game (including
the planner's solvability check), ~10 ms building the engine state and the first observation. The engine caches
translations per process (128 games), so only a game's *first* reset in a process is slow; with thousands of
games in a split, nearly every training reset is a first one. A pool does the generation and the translation
ahead, once, for a fixed set of games (optionally over several processes), and keeps each translation pickled
and compressed (~30 kB a game); a reset then unpickles it (~7 ms). ``benchmarks/bench_pool.py`` measures a
build from an empty cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hiper_envs.alfworld.sources import GeneratedTaskSource
from hiper_envs.alfworld.spec import GameSpec
from hiper_envs.core import default_cache_dir

__all__ = ["GamePool", "shared_pool"]

#: What a pool's games and translations depend on besides its arguments: these packages' versions and the source of
#: ``hiper_envs.alfworld`` (the generator, rooms, problems, planner and engine); any change makes a new cache key.
_KEY_PACKAGES = ("alfworld", "textworld", "fast-downward-textworld")
#: Modules of ``hiper_envs.alfworld`` that only *play* games (the env, its subgoals, the expert): editing them
#: leaves every game and translation as it was, so they stay out of the key (no rebuild of the cache).
_PLAY_ONLY = frozenset({"env.py", "subgoals.py", "candidates.py", "expert.py"})
_FORMAT = 2


def _build(source: GeneratedTaskSource, index: int) -> tuple[GameSpec, bytes]:
    from hiper_envs.alfworld.engine import compile_game

    spec = source[index]
    return spec, compile_game(spec.game)


def _build_chunk(source: GeneratedTaskSource, indices: Sequence[int]) -> list[tuple[GameSpec, bytes]]:
    return [_build(source, i) for i in indices]


class GamePool:
    """The first ``size`` games of a generated split, generated and compiled ahead; a ``TaskSource``.

    Game ``i`` of the pool is game ``i`` of ``GeneratedTaskSource(split, seed=seed, ...)`` (so the pool is set by
    ``(split, seed, num_subtasks, task_types, size)``), and an env playing it gives the same transcript as an env
    playing the unpooled source: same seed, same game, same observations. Pass it as ``task_source=`` to
    ``ALFWorldEnv`` / ``gym.make`` / ``make_vec``; it pickles (for worker processes) with its compiled games.

    Args:
        split: ``train``, ``valid_seen`` or ``valid_unseen``.
        size: number of games (``len(pool)``); memory is ~80 kB a game (the game and its compiled translation).
        seed: the generator seed (``game_seed`` of the env).
        num_subtasks: ``K`` subtasks per game.
        task_types: the task types to draw from (default all six).
        processes: build over this many worker processes (1: in this process). Building costs ~0.2 s a game
            on one core.
        cache_dir: keep the built pool in this folder (one file per pool, ~6.5 MB per 100 games) and load it
            from there next time (~0.3 s per 100 games on a busy 2-core box). The file name is a hash of the
            arguments, of the versions of alfworld, textworld and fast-downward-textworld and of the source of
            ``hiper_envs.alfworld`` (but for the modules that only play games: the env, subgoals, expert), so a
            change to any of them builds anew. The file is a pickle: only point this at a folder you trust.

    Example:
        >>> pool = GamePool("train", size=256, seed=0, processes=2)  # doctest: +SKIP
        >>> env = gym.make("HiPER/ALFWorld-v0", task_source=pool)  # doctest: +SKIP
    """

    def __init__(
        self,
        split: str = "train",
        *,
        size: int,
        seed: int = 0,
        num_subtasks: int = 1,
        task_types: Sequence[str] | None = None,
        processes: int = 1,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if not isinstance(processes, int) or processes <= 0:
            raise ValueError(f"processes must be a positive int, got {processes!r}")
        source = GeneratedTaskSource(
            split, seed=seed, num_subtasks=num_subtasks, task_types=task_types, num_games=size, cache_size=0
        )
        self.split, self.seed, self.num_subtasks = source.split, source.seed, num_subtasks
        self.task_types = source.task_types
        self.cache_path = (
            None if cache_dir is None else Path(cache_dir).expanduser() / f"alfworld-pool-{self._key(size)}.pkl"
        )
        if self.cache_path is not None and self.cache_path.exists():
            with open(self.cache_path, "rb") as f:
                self._specs, self._blobs = pickle.load(f)  # noqa: S301 - our own cache (see cache_dir)
            return
        indices = list(range(size))
        if multiprocessing.current_process().daemon:
            processes = 1  # an env worker process (daemonic) may not start processes of its own: build here
        if processes == 1:
            built = _build_chunk(source, indices)
        else:
            chunks = [indices[k::processes] for k in range(processes)]
            # spawn, not fork: the parent may hold Fast Downward's library, whose globals must not be shared
            with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as executor:
                parts = list(executor.map(_build_chunk, [source] * processes, chunks))
            by_index = {
                i: item for chunk, part in zip(chunks, parts, strict=True) for i, item in zip(chunk, part, strict=True)
            }
            built = [by_index[i] for i in indices]
        self._specs = [spec for spec, _ in built]
        self._blobs = [blob for _, blob in built]
        if self.cache_path is not None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            # write then rename: a concurrent reader sees the whole file or none
            with tempfile.NamedTemporaryFile("wb", dir=self.cache_path.parent, delete=False) as f:
                pickle.dump((self._specs, self._blobs), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(f.name, self.cache_path)

    def _key(self, size: int) -> str:
        digest = hashlib.sha256()
        params = [_FORMAT, self.split, self.seed, self.num_subtasks, list(self.task_types), size]
        params += [importlib.metadata.version(name) for name in _KEY_PACKAGES]
        digest.update(json.dumps(params).encode())
        for path in sorted(Path(__file__).parent.glob("*.py")):
            if path.name not in _PLAY_ONLY:
                digest.update(path.read_bytes())
        return digest.hexdigest()[:20]

    def __len__(self) -> int:
        """Number of games in the pool."""
        return len(self._specs)

    def __getitem__(self, index: int) -> GameSpec:
        """Game ``index``; its compiled translation is handed to the engine (a dict insert: every time, cheap)."""
        from hiper_envs.alfworld.engine import add_compiled

        spec = self._specs[index]
        add_compiled(spec.game, self._blobs[index])
        return spec

    def __repr__(self) -> str:
        return (
            f"GamePool(split={self.split!r}, size={len(self)}, seed={self.seed}, num_subtasks={self.num_subtasks}, "
            f"task_types={list(self.task_types)})"
        )


_SHARED: dict[tuple, GamePool] = {}


def shared_pool(
    split: str, size: int, *, seed: int = 0, num_subtasks: int = 1, task_types: Sequence[str] | None = None
) -> GamePool:
    """The pool of these arguments, built once per process (over up to 2 processes) and kept in the cache.

    What ``gym.make("HiPER/ALFWorld-v0", pool_size=N)`` uses: every env of a process with the same split, seed,
    ``K`` and task types shares one pool, and a second run loads it from disk instead of building it.
    """
    key = (split, size, seed, num_subtasks, None if task_types is None else tuple(task_types))
    if key not in _SHARED:
        _SHARED[key] = GamePool(
            split,
            size=size,
            seed=seed,
            num_subtasks=num_subtasks,
            task_types=task_types,
            processes=max(1, min(2, os.cpu_count() or 1)),
            cache_dir=default_cache_dir(),
        )
    return _SHARED[key]
