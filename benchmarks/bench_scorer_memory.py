"""Training speed of the scorer with and without its episode memory: env steps/s of whole PPO iterations.

Each arm is a `HiPERTrainer` of the ``cpu`` preset (its envs, games compiled ahead, 32 envs, PPO settings) that
differs only in ``scorer_memory``; the arms take turns, one training iteration each (rollout + advantages + PPO
update), so that the load of a shared box hits them alike. An arm's speed is its env steps over the seconds of
its iterations, and its CPU ms per env step (this process's CPU time; the env runs in-process), which a busy box
changes less than wall time. Episodes differ between arms (the policies differ), so compare per step.

Usage::

    python benchmarks/bench_scorer_memory.py                       # 3 iterations an arm, off / slots / episode
    python benchmarks/bench_scorer_memory.py --iterations 1 --arms off episode
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

# Parse the arguments first: fast_downward's translator overwrites sys.argv.
_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--iterations", type=int, default=3, help="training iterations an arm")
_PARSER.add_argument("--arms", nargs="+", default=["off", "slots", "episode"], help="scorer_memory values")
_PARSER.add_argument("--num-envs", type=int, default=32, help="envs (the cpu preset's 32)")
_PARSER.add_argument("--seed", type=int, default=1, help="run seed of every arm")


def main() -> int:
    """Run the arms; print a table and a final JSON line."""
    args = _PARSER.parse_args()
    from hiper_agent.training.ppo_config import HiPERConfig
    from hiper_agent.training.ppo_trainer import HiPERTrainer

    out = tempfile.mkdtemp(prefix="bench_scorer_memory-")
    run = {"seed": args.seed, "num_envs": args.num_envs, "eval_every": 0, "checkpoint_every": 0, "progress": False}
    trainers = {
        arm: HiPERTrainer(HiPERConfig.from_preset("cpu-v1", scorer_memory=arm, output_dir=out, exp_name=arm, **run))
        for arm in args.arms
    }
    totals = {arm: {"steps": 0.0, "seconds": 0.0, "cpu_seconds": 0.0, "update_s": 0.0} for arm in args.arms}
    try:
        for it in range(1, args.iterations + 1):
            for arm, trainer in trainers.items():
                cpu, wall = time.process_time(), time.perf_counter()
                metrics = trainer._iteration(it)
                t = totals[arm]
                t["seconds"] += time.perf_counter() - wall
                t["cpu_seconds"] += time.process_time() - cpu
                t["steps"] += metrics["rollout/total_env_steps"] - t["steps"]
                t["update_s"] += metrics["time/update_s"]
                print(
                    f"iteration {it} {arm:<8} {metrics['rollout/total_env_steps']:6.0f} steps so far, "
                    f"success {metrics['rollout/success_rate']:.2f}, {metrics['time/rollout_s']:.1f} s rollout, "
                    f"{metrics['time/update_s']:.1f} s update",
                    flush=True,
                )
    finally:
        for trainer in trainers.values():
            trainer.close()

    base = args.arms[0]
    print(f"\n{'memory':<10}{'steps':>8}{'steps/s':>10}{'CPU ms/step':>13}{'update share':>14}{'x ' + base:>10}")
    summary: dict[str, dict[str, float]] = {}
    for arm, t in totals.items():
        summary[arm] = {
            "steps": t["steps"],
            "steps_per_s": t["steps"] / t["seconds"],
            "cpu_ms_per_step": 1000 * t["cpu_seconds"] / t["steps"],
            "update_share": t["update_s"] / t["seconds"],
        }
    for arm, s in summary.items():
        ratio = s["steps_per_s"] / summary[base]["steps_per_s"]
        s["ratio"] = ratio
        print(
            f"{arm:<10}{s['steps']:>8.0f}{s['steps_per_s']:>10.1f}{s['cpu_ms_per_step']:>13.2f}"
            f"{s['update_share']:>14.2f}{ratio:>10.2f}"
        )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    arms = {a: {k: round(v, 3) for k, v in s.items()} for a, s in summary.items()}
    print(json.dumps({"iterations": args.iterations, "num_envs": args.num_envs, "load_average": load, "arms": arms}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
