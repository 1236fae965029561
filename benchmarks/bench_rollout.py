"""Rollout env throughput: env steps/s *including resets*, for stock vs pooled resets and Sync vs Subproc pools.

The workload is the rollout's (``hiper_agent.rollout``): an *iteration* resets ``--num-envs`` ALFWorld envs
(``train`` split, ``K=1``, the default 50-step budget) with fresh seeds and plays one episode in each with random
admissible actions (no policy cost, ~2 ms env steps), stepping at each turn only the envs whose episode still runs
(one ``pool.step`` call over that subset). Random play rarely wins, so an episode is ~50 steps and a reset comes
every ~50 steps. Each arm plays ``--iterations`` iterations, taking turns with the other arms (so that the load
of a shared box hits every arm alike); its time counts the steps *and* the resets. The one-off set-up is timed
apart: building the game pool, starting the workers, and one warm-up reset of every env (the first reset in a
process imports and parses the grammar; each env loads its planner library).

Besides wall-clock steps/s, each arm reports its CPU time (this process plus the workers, from ``/proc``) per
step and ``parallelism`` = CPU / wall: on a box whose cores are busy with other jobs the workers cannot run in
parallel, and CPU ms/step shows what the backend costs; on idle cores a backend's wall time tends to
CPU / min(workers, cores).

Arms (the ratios are against ``stock/sync`` measured in the same process):

- ``stock``: the plain env on the full train split (10,000 games): nearly every reset is a game's first in the
  process and pays its PDDL->SAS translation (~280 ms) and generation (~55 ms).
- ``pooled``: a :class:`~hiper_envs.alfworld.pool.GamePool` of ``--pool-size`` games, built ahead.
- ``sync``: :class:`~hiper_agent.envs.pool.SyncEnvPool`; ``subproc``: :class:`~hiper_agent.envs.pool.SubprocEnvPool`
  with ``--workers`` processes.

Usage::

    python benchmarks/bench_rollout.py                      # 32 envs, 3 iterations an arm, pool of 64 games
    python benchmarks/bench_rollout.py --num-envs 4 --iterations 1 --pool-size 4   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from typing import Any

# Parse the arguments first: fast_downward's translator overwrites sys.argv.
_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--num-envs", type=int, default=32, help="envs in the pool")
_PARSER.add_argument("--iterations", type=int, default=3, help="rollout iterations (one episode per env) an arm")
_PARSER.add_argument("--pool-size", type=int, default=64, help="games in the GamePool of the pooled arms")
_PARSER.add_argument("--workers", type=int, default=2, help="SubprocEnvPool worker processes")
_PARSER.add_argument("--build-processes", type=int, default=2, help="processes that build the GamePool")
_PARSER.add_argument("--arms", nargs="+", default=["stock/sync", "stock/subproc", "pooled/sync", "pooled/subproc"])
_PARSER.add_argument("--seed", type=int, default=0, help="reset seeds and random-action seed")
_PARSER.add_argument(
    "--training-iterations",
    type=int,
    default=0,
    help="also time N iterations of the `cpu` preset's trainer (scorer policy, rollout + update), env_workers 0 "
    "(in-process) and each of --training-workers, and compare their env steps/s (0: skip)",
)
_PARSER.add_argument("--training-workers", type=int, nargs="+", default=[1, 2], help="env_workers of the trainer arms")
_PARSER.add_argument(
    "--training-num-envs", type=int, default=None, help="the trainer's num_envs (default: the preset's)"
)
_PARSER.add_argument(
    "--training-pool-size", type=int, default=None, help="the trainer's game pool (default: the preset's)"
)

ENV_ID = "HiPER/ALFWorld-v0"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) of this process and of the processes ``pids`` (Linux ``/proc``; else this one)."""
    total = time.process_time()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15 of stat)
        except OSError:
            pass
    return total


def play(pool, num_envs: int, seed: int) -> dict[str, float]:
    """One rollout iteration: reset every env (seeds ``seed ..``), play each episode to its end; return counts."""
    rng = random.Random(seed)
    start = time.perf_counter()
    resets = pool.reset(range(num_envs), list(range(seed, seed + num_envs)), [None] * num_envs)
    admissible = {i: info["admissible_commands"] for i, (_, info) in enumerate(resets)}
    running, steps = list(range(num_envs)), 0
    while running:
        results = pool.step(running, [rng.choice(admissible[i]) for i in running])
        steps += len(running)
        still = []
        for i, (_, _, terminated, truncated, info) in zip(running, results, strict=True):
            admissible[i] = info["admissible_commands"]
            if not (terminated or truncated):
                still.append(i)
        running = still
    return {"seconds": time.perf_counter() - start, "steps": steps, "resets": num_envs}


def training_arms(iterations: int, workers: list[int], **overrides: Any) -> dict[str, dict[str, float]]:
    """The `cpu` preset's trainer for ``iterations`` iterations in-process and with each ``workers`` count.

    ``overrides`` are config fields set over the preset (a smaller ``num_envs`` for a quick check). Returns, per
    arm, env steps per second of rollout time and of whole iterations (rollout + PPO update), and
    whether its training metrics equal the in-process arm's (same seed: the same episodes wherever envs run).
    """
    import tempfile

    from hiper_agent.training.ppo_config import HiPERConfig
    from hiper_agent.training.ppo_trainer import HiPERTrainer

    out: dict[str, dict[str, float]] = {}
    reference = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in [0, *workers]:
            arm = "train/in-process" if n == 0 else f"train/{n} subproc workers"
            config = HiPERConfig.from_preset(
                "cpu",
                num_iterations=iterations,
                eval_every=0,
                checkpoint_every=0,
                log_tensorboard=False,
                progress=False,
                env_workers=n,
                env_backend="subprocess",
                output_dir=tmp,
                exp_name=f"w{n}",
                **overrides,
            )
            history = HiPERTrainer(config).train()["history"]
            steps = max(h.get("rollout/total_env_steps", 0.0) for h in history)
            rollout_s = sum(h["time/rollout_s"] for h in history if "time/rollout_s" in h)
            total_s = sum(h["time/iteration_s"] for h in history if "time/iteration_s" in h)
            learned = [{k: v for k, v in h.items() if k.startswith(("rollout/success", "train/"))} for h in history]
            reference = learned if reference is None else reference
            out[arm] = {
                "steps": steps,
                "rollout_steps_per_s": steps / rollout_s,
                "steps_per_s": steps / total_s,
                "same_metrics": float(learned == reference),
            }
            print(
                f"{arm:<26} {out[arm]['steps_per_s']:8.1f} env steps/s ({steps:.0f} steps; rollout only "
                f"{out[arm]['rollout_steps_per_s']:.1f}/s; metrics as in-process: {learned == reference})",
                flush=True,
            )
    return out


def main() -> int:
    """Run the arms; print a table and a final JSON line."""
    args = _PARSER.parse_args()
    import hiper_envs  # noqa: F401  (registers the ids)
    from hiper_agent.envs.pool import SubprocEnvPool, SyncEnvPool, make_env_fns
    from hiper_envs.alfworld.pool import GamePool

    unknown = set(args.arms) - {"stock/sync", "stock/subproc", "pooled/sync", "pooled/subproc"}
    if unknown:
        _PARSER.error(f"unknown arms {sorted(unknown)}")
    setup: dict[str, float] = {}
    game_pool = None
    if any(arm.startswith("pooled") for arm in args.arms):
        t = time.perf_counter()
        game_pool = GamePool("train", size=args.pool_size, seed=0, processes=args.build_processes)
        setup["pool_build_s"] = time.perf_counter() - t
        print(
            f"GamePool of {args.pool_size} train games built in {setup['pool_build_s']:.1f} s "
            f"({args.build_processes} processes)",
            flush=True,
        )

    pools, pids = {}, {}
    try:
        for arm in args.arms:
            resets, backend = arm.split("/")
            kwargs = {"split": "train"} if resets == "stock" else {"split": "train", "task_source": game_pool}
            fns = make_env_fns(ENV_ID, args.num_envs, **kwargs)
            t = time.perf_counter()
            pool = SyncEnvPool(fns) if backend == "sync" else SubprocEnvPool(fns, num_workers=args.workers)
            pools[arm] = pool
            pids[arm] = pool.worker_pids if isinstance(pool, SubprocEnvPool) else []
            warm = range(10**8, 10**8 + args.num_envs)  # seeds the timed part never uses
            pool.reset(range(args.num_envs), list(warm), [None] * args.num_envs)
            setup[f"{arm} start_s"] = time.perf_counter() - t

        # The arms take turns (iteration r of every arm, then r + 1), so that a change in the box's load hits
        # them alike; iteration r uses the same seeds in every arm (the same games, the same random actions).
        rounds: dict[str, list[dict[str, float]]] = {arm: [] for arm in args.arms}
        for r in range(args.iterations):
            for arm in args.arms:
                cpu = cpu_seconds(pids[arm])
                result = play(pools[arm], args.num_envs, args.seed + r * args.num_envs)
                result["cpu_seconds"] = cpu_seconds(pids[arm]) - cpu
                rounds[arm].append(result)
                print(
                    f"iteration {r} {arm:<16} {result['steps'] / result['seconds']:8.1f} steps/s "
                    f"({result['resets']} resets)",
                    flush=True,
                )
    finally:
        for pool in pools.values():
            pool.close()

    results: dict[str, dict[str, float]] = {}
    for arm, parts in rounds.items():
        result = {key: sum(part[key] for part in parts) for key in parts[0]}
        result["steps_per_s"] = result["steps"] / result["seconds"]
        result["cpu_ms_per_step"] = 1000 * result["cpu_seconds"] / result["steps"]
        result["parallelism"] = result["cpu_seconds"] / result["seconds"]
        results[arm] = result
        print(
            f"{arm:<16} {result['steps_per_s']:8.1f} steps/s  ({result['steps']} steps, {result['resets']} resets, "
            f"{result['seconds']:.1f} s; {result['cpu_ms_per_step']:.2f} CPU ms/step, parallelism "
            f"{result['parallelism']:.2f}; start-up {setup[f'{arm} start_s']:.1f} s)",
            flush=True,
        )

    if args.training_iterations:
        overrides: dict[str, Any] = {}
        if args.training_num_envs:
            overrides["num_envs"] = args.training_num_envs
        if args.training_pool_size:
            overrides["env_kwargs"] = {"pool_size": args.training_pool_size}
        training = training_arms(args.training_iterations, args.training_workers, **overrides)
        base = training["train/in-process"]["steps_per_s"]
        print(f"\n{'arm':<28}{'env steps/s':>12}{'x in-process training':>23}")
        for arm, result in [*training.items(), *((a, r) for a, r in results.items())]:
            print(f"{arm:<28}{result['steps_per_s']:>12.1f}{result['steps_per_s'] / base:>23.2f}")
        results.update(training)

    baseline = results.get("stock/sync")
    ratios = {}
    if baseline is not None:
        print(f"\n{'arm':<16}{'steps/s':>10}{'x stock/sync':>14}{'CPU ms/step':>13}{'parallelism':>13}")
        for arm, result in results.items():
            ratios[arm] = result["steps_per_s"] / baseline["steps_per_s"]
            print(
                f"{arm:<16}{result['steps_per_s']:>10.1f}{ratios[arm]:>14.2f}"
                f"{result['cpu_ms_per_step']:>13.2f}{result['parallelism']:>13.2f}"
            )
    summary = {
        "num_envs": args.num_envs,
        "iterations": args.iterations,
        "steps": {arm: r["steps"] for arm, r in results.items()},
        "pool_size": args.pool_size,
        "workers": args.workers,
        "steps_per_s": {arm: round(r["steps_per_s"], 2) for arm, r in results.items()},
        "ratio_vs_stock_sync": {arm: round(x, 3) for arm, x in ratios.items()},
        "cpu_ms_per_step": {arm: round(r["cpu_ms_per_step"], 3) for arm, r in results.items() if "resets" in r},
        "parallelism": {arm: round(r["parallelism"], 2) for arm, r in results.items() if "resets" in r},
        "resets": {arm: r["resets"] for arm, r in results.items() if "resets" in r},
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "setup_s": {key: round(value, 2) for key, value in setup.items()},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
