"""Compiling ALFWorld games from an empty cache (a fresh machine's first run): before vs after, same games.

The ``cpu`` preset's first run builds three game pools (``train``, ``valid_seen``, ``valid_unseen``, 512 games
each: 1,536 games) before it trains. Both arms below build the same ``--games`` games of each split over
``--processes`` worker processes (spawned, as :func:`~hiper_envs.alfworld.pool.shared_pool` does) into a fresh
temporary folder, taking turns split by split (in alternating order) in this process:

- ``before``: what a pool build cost until now: each game generated, then translated twice by Fast Downward
  (the game's SAS task and the optimized one for planning the whole game), pickled into the cache file;
- ``after``: :class:`~hiper_envs.alfworld.pool.GamePool` as it is: the game's translation only (the engine makes
  the planner's translation if :meth:`~hiper_envs.alfworld.engine.AlfredEngine.plan` is ever called).

Prints the wall time of each arm, per game, and the ratio, and the CPU time of the arm (this process and its
workers): on a machine shared with other jobs, wall time follows the load, CPU time much less. Usage (from the
repository root)::

    PYTHONPATH=. python benchmarks/bench_pool.py                 # 64 games per split
    PYTHONPATH=. python benchmarks/bench_pool.py --games 512     # the cpu preset's 1,536 games
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import resource
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

# Parse the arguments first: fast_downward's translator overwrites sys.argv.
_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--games", type=int, default=64, help="games per split (the cpu preset builds 512)")
_PARSER.add_argument("--splits", nargs="+", default=["train", "valid_seen", "valid_unseen"])
_PARSER.add_argument("--processes", type=int, default=2, help="worker processes per build (shared_pool: up to 2)")


def _before_chunk(source, indices: Sequence[int]) -> list[tuple[object, bytes]]:
    """The build as it was: generation, then both translations (the game's and the planner's), compressed."""
    from hiper_envs.alfworld.engine import Translation, translate

    out = []
    for index in indices:
        spec = source[index]
        domain, problem = spec.game["pddl_domain"], spec.game["pddl_problem"]
        game = translate.__wrapped__(domain, problem)
        planner = translate.__wrapped__(domain, problem, optimized_only=True)
        both = Translation(game.task, game.sas, planner.sas_replan, game.name2type)
        out.append((spec, zlib.compress(pickle.dumps(both, protocol=pickle.HIGHEST_PROTOCOL), 1)))
    return out


def _build_before(split: str, size: int, processes: int, folder: str) -> None:
    """GamePool's build loop (chunks over spawned workers, then one pickle file), with the old per-game work."""
    from hiper_envs.alfworld.sources import GeneratedTaskSource

    source = GeneratedTaskSource(split, seed=0, num_games=size, cache_size=0)
    indices = list(range(size))
    chunks = [indices[k::processes] for k in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as executor:
        parts = list(executor.map(_before_chunk, [source] * processes, chunks))
    by_index = {i: item for chunk, part in zip(chunks, parts, strict=True) for i, item in zip(chunk, part, strict=True)}
    built = [by_index[i] for i in indices]
    with open(os.path.join(folder, f"before-{split}.pkl"), "wb") as f:
        pickle.dump(([s for s, _ in built], [b for _, b in built]), f, protocol=pickle.HIGHEST_PROTOCOL)


def _build_after(split: str, size: int, processes: int, folder: str) -> None:
    from hiper_envs.alfworld.pool import GamePool

    GamePool(split, size=size, seed=0, processes=processes, cache_dir=folder)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished (joined) worker processes."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _folder_mb(folder: str) -> float:
    return sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder)) / 1e6


def main() -> int:
    args = _PARSER.parse_args()
    total = args.games * len(args.splits)
    print(
        f"{total} games ({args.games} per split: {', '.join(args.splits)}), {args.processes} processes, "
        f"{os.cpu_count()} CPUs; the arms take turns, one split at a time"
    )
    builds = {"before": _build_before, "after": _build_after}
    seconds = dict.fromkeys(builds, 0.0)
    cpu = dict.fromkeys(builds, 0.0)
    sizes = dict.fromkeys(builds, 0.0)
    for turn, split in enumerate(args.splits):
        # alternate the order: load that drifts during the run does not favour one arm
        for arm in ("before", "after") if turn % 2 == 0 else ("after", "before"):
            with tempfile.TemporaryDirectory(prefix=f"hiper-bench-pool-{arm}-") as folder:
                start, start_cpu = time.perf_counter(), _cpu_seconds()
                builds[arm](split, args.games, args.processes, folder)
                elapsed, used = time.perf_counter() - start, _cpu_seconds() - start_cpu
                seconds[arm] += elapsed
                cpu[arm] += used
                sizes[arm] += _folder_mb(folder)
            print(f"  {split:<13} {arm:<7} {elapsed:8.1f} s wall {used:8.1f} s CPU", flush=True)
    for arm in builds:
        print(
            f"{arm:<7} {seconds[arm]:8.1f} s wall ({1000 * seconds[arm] / total:5.0f} ms/game)  {cpu[arm]:8.1f} s CPU "
            f"({1000 * cpu[arm] / total:5.0f} ms/game)  cache {sizes[arm]:6.1f} MB"
        )
    print(
        f"speed-up (before / after): {seconds['before'] / seconds['after']:.2f}x wall, "
        f"{cpu['before'] / cpu['after']:.2f}x CPU"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
