"""Hierarchy vs flat: does hierarchical credit assignment train better agents than flat credit assignment?

The fast candidate-scoring policy (``--policy scorer``: planner + executor; ``flat-scorer``: executor only) on
composite ALFWorld tasks (``num_subtasks=K``), every arm trained from scratch with the same env-step budget and the
same shaping, then evaluated on the same fixed panel of held-out games:

- ``hiper``      hierarchical policy + HAE (HiPER);
- ``hier-gae``   hierarchical policy + flat GAE (the paper's "planning alone" ablation);
- ``flat-gae``   flat policy + GAE (PPO);
- ``flat-grpo``  flat policy + GRPO (groups of 8 envs share a task);
- ``flat-gigpo`` flat policy + GiGPO (same groups).

    python benchmarks/hierarchy_vs_flat.py --out runs/hvf            # default grid: arms a-d, K=1..3, 3 seeds
    python benchmarks/hierarchy_vs_flat.py --out runs/hvf --full     # all five arms, K=1..4, 5 seeds
    python benchmarks/hierarchy_vs_flat.py --out runs/hvf --resume   # finish a grid from its results.json

It writes ``OUT/results.json`` (per arm, K and seed: final held-out success on the panel, its Wilson 95 % CI, the
success-vs-env-steps curve), ``OUT/hierarchy_vs_flat.png`` (success vs K; success vs env steps) and prints the
table, with the env steps each arm needs to reach 80 % of the best arm's final success.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ARMS: dict[str, dict[str, Any]] = {
    "hiper": {"policy": "scorer", "advantage_estimator": "hae", "group_size": 1},
    "hier-gae": {"policy": "scorer", "advantage_estimator": "gae", "group_size": 1},
    "flat-gae": {"policy": "flat-scorer", "advantage_estimator": "gae", "group_size": 1},
    "flat-grpo": {"policy": "flat-scorer", "advantage_estimator": "grpo", "group_size": 8},
    "flat-gigpo": {"policy": "flat-scorer", "advantage_estimator": "gigpo", "group_size": 8},
}
DEFAULT_GRID = {"arms": ["hiper", "hier-gae", "flat-gae", "flat-grpo"], "ks": [1, 2, 3], "seeds": [0, 1, 2]}
FULL_GRID = {"arms": list(ARMS), "ks": [1, 2, 3, 4], "seeds": [0, 1, 2, 3, 4]}


def run_key(arm: str, k: int, seed: int) -> str:
    """The id of one run in results.json."""
    return f"{arm}/K{k}/s{seed}"


def run_config(arm: str, k: int, seed: int, args: argparse.Namespace) -> Any:
    """The trainer config of one run: the `cpu-v1` preset, the arm's policy and estimator, K subtasks, the budget."""
    from hiper_agent.training.ppo_config import HiPERConfig

    steps_per_subtask = HiPERConfig.from_preset("cpu-v1").env.max_episode_steps
    return HiPERConfig.from_preset(
        "cpu-v1", **ARMS[arm], seed=seed, env_kwargs={"num_subtasks": k, "pool_size": args.pool_size},
        max_episode_steps=steps_per_subtask * k,
        total_env_steps=args.budget * k, num_iterations=10**6, eval_split=args.split, eval_episodes=args.eval_episodes,
        eval_every=args.eval_every, checkpoint_every=0, log_tensorboard=False, progress=False,
        output_dir=str(Path(args.out) / "runs"), exp_name=f"{arm}-K{k}-s{seed}", overwrite=True,
    )  # fmt: skip


def train_one(arm: str, k: int, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train and evaluate one run (in a worker process); returns its record for results.json."""
    from hiper_agent.training.ppo_trainer import train

    t0 = time.perf_counter()
    config = run_config(arm, k, seed, args)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the grid's bar is the progress
        history = train(config)["history"]
    prefix = f"eval/{args.split}"
    evals = [r for r in history if r.get(f"{prefix}/success_rate") is not None]
    curve = [[int(r.get("rollout/total_env_steps", 0)), r[f"{prefix}/success_rate"]] for r in evals]
    final = evals[-1]
    return {
        "arm": arm, "K": k, "seed": seed, "final_success": final[f"{prefix}/success_rate"],
        "ci": [final[f"{prefix}/success_ci_low"], final[f"{prefix}/success_ci_high"]],
        "episodes": int(final[f"{prefix}/episodes"]), "curve": curve,
        "train_episodes": int(max(r.get("rollout/total_episodes", 0) for r in history)),
        "train_env_steps": int(max(r.get("rollout/total_env_steps", 0) for r in history)),
        "seconds": time.perf_counter() - t0,
    }  # fmt: skip


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean over seeds and the half-width of its 95 % t-interval (0 with one seed)."""
    from scipy import stats

    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def steps_to_reach(curves: list[list[list[float]]], target: float) -> float | None:
    """Env steps at which the seeds' mean curve first reaches ``target`` (curves share their evaluation points)."""
    points = min(len(c) for c in curves)
    for i in range(points):
        if sum(c[i][1] for c in curves) / len(curves) >= target:
            return sum(c[i][0] for c in curves) / len(curves)
    return None


def table(results: dict[str, Any], arms: list[str], ks: list[int]) -> str:
    """Markdown: per K and arm, mean final success +- 95 % CI over seeds, and env steps to 80 % of the best arm."""
    lines = ["| K | arm | seeds | held-out success (mean ± 95% CI over seeds) | per-seed | env steps to 80% of best |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for k in ks:
        runs = {a: [r for r in results["runs"].values() if r["arm"] == a and r["K"] == k] for a in arms}
        finals = {a: mean_ci([r["final_success"] for r in rs]) for a, rs in runs.items() if rs}
        if not finals:
            continue
        best = max(m for m, _ in finals.values())
        for arm in arms:
            rs = sorted(runs[arm], key=lambda r: r["seed"])
            if not rs:
                continue
            mean, half = finals[arm]
            reach = steps_to_reach([r["curve"] for r in rs], 0.8 * best) if best > 0 else None
            per_seed = " ".join(f"{100 * r['final_success']:.0f}" for r in rs)
            lines.append(f"| {k} | {arm} | {len(rs)} | {100 * mean:.1f}% ± {100 * half:.1f} | {per_seed} | "
                         f"{'-' if reach is None else f'{reach:,.0f}'} |")  # fmt: skip
    return "\n".join(lines)


def plot(results: dict[str, Any], arms: list[str], ks: list[int], out: Path) -> Path:
    """Success vs K (mean and 95 % CI over seeds) and, per K, success vs env steps (mean curve over seeds)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * (1 + len(ks)), 3.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 1 + len(ks), squeeze=False)[0]
    colors = dict(zip(ARMS, ("tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple"), strict=True))
    for arm in arms:
        xs, ys, es = [], [], []
        for k in ks:
            rs = [r["final_success"] for r in results["runs"].values() if r["arm"] == arm and r["K"] == k]
            if rs:
                mean, half = mean_ci(rs)
                xs.append(k), ys.append(100 * mean), es.append(100 * half)
        axes[0].errorbar(xs, ys, yerr=es, marker="o", capsize=3, color=colors[arm], label=arm)
        for ax, k in zip(axes[1:], ks, strict=True):
            curves = [r["curve"] for r in results["runs"].values() if r["arm"] == arm and r["K"] == k]
            if curves:
                n = min(len(c) for c in curves)
                ax.plot([sum(c[i][0] for c in curves) / len(curves) for i in range(n)],
                        [100 * sum(c[i][1] for c in curves) / len(curves) for i in range(n)], "o-", ms=3,
                        color=colors[arm], label=arm)  # fmt: skip
    axes[0].set(xlabel="subtasks per task (K)", ylabel="held-out success (%)", title="final success vs K",
                xticks=ks)  # fmt: skip
    for ax, k in zip(axes[1:], ks, strict=True):
        ax.set(xlabel="training env steps", title=f"K = {k}: success vs env steps")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_ylim(-3, 103)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Hierarchy vs flat on composite ALFWorld ({results['meta']['split']}, "
                 f"{results['meta']['eval_episodes']} games per panel, equal env-step budgets)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    path = out / "hierarchy_vs_flat.png"
    fig.savefig(path, dpi=120)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--out", required=True, help="Output folder (results.json, the plot, the runs).")
    parser.add_argument("--full", action="store_true", help="All five arms, K = 1..4, 5 seeds.")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), help="Override the grid's arms.")
    parser.add_argument("--ks", nargs="+", type=int, help="Override the grid's K values.")
    parser.add_argument("--seeds", nargs="+", type=int, help="Override the grid's seeds.")
    parser.add_argument("--budget", type=int, default=10_000, help="Training env steps per run, per subtask (x K).")
    parser.add_argument("--eval-episodes", type=int, default=100, help="Games in the fixed held-out panel.")
    parser.add_argument("--eval-every", type=int, default=6, help="Iterations between curve points.")
    parser.add_argument("--split", default="valid_seen", help="Held-out split of the panel.")
    parser.add_argument("--pool-size", type=int, default=256,
                        help="Games per split compiled ahead (training draws from the first N train games).")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="Runs trained in parallel (one core each).")
    parser.add_argument("--resume", action="store_true", help="Skip runs already in OUT/results.json.")
    args = parser.parse_args(argv)
    grid = dict(FULL_GRID if args.full else DEFAULT_GRID)
    for name in ("arms", "ks", "seeds"):
        grid[name] = getattr(args, name) or grid[name]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_file = out / "results.json"
    meta = {"budget_per_subtask": args.budget, "eval_episodes": args.eval_episodes, "split": args.split,
            "command": " ".join(["python", "benchmarks/hierarchy_vs_flat.py", *(argv or sys.argv[1:])])}  # fmt: skip
    results: dict[str, Any] = {"meta": meta, "runs": {}}
    if args.resume and results_file.is_file():
        results["runs"] = json.loads(results_file.read_text())["runs"]
    todo = [(a, k, s) for k in grid["ks"] for s in grid["seeds"] for a in grid["arms"]
            if run_key(a, k, s) not in results["runs"]]  # fmt: skip
    print(f"{len(todo)} runs to train ({len(results['runs'])} already in {results_file}), {args.workers} at a time")
    from tqdm import tqdm

    from hiper_envs.alfworld.pool import shared_pool

    if args.eval_episodes > args.pool_size:
        parser.error(f"--eval-episodes ({args.eval_episodes}) must be <= --pool-size ({args.pool_size})")
    for k in sorted({k for _, k, _ in todo}):  # compile the games once, here, before the workers load them
        for split in ("train", args.split):
            shared_pool(split, args.pool_size, num_subtasks=k)

    with ProcessPoolExecutor(max_workers=args.workers) as pool, tqdm(total=len(todo), unit="run") as bar:
        futures = {pool.submit(train_one, a, k, s, args): (a, k, s) for a, k, s in todo}
        for future in as_completed(futures):
            record = future.result()
            results["runs"][run_key(record["arm"], record["K"], record["seed"])] = record
            results_file.write_text(json.dumps(results, indent=1))  # after every run: --resume loses nothing
            bar.set_postfix_str(f"{run_key(record['arm'], record['K'], record['seed'])} "
                                f"{100 * record['final_success']:.0f}%")  # fmt: skip
            bar.update()
    arms = [a for a in ARMS if any(r["arm"] == a for r in results["runs"].values())]
    ks = sorted({r["K"] for r in results["runs"].values()})
    print(table(results, arms, ks))
    print(f"plot: {plot(results, arms, ks, out)}")
    print(f"results: {results_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
