"""Hierarchy vs flat: does HiPER (hierarchical policy + HAE) train better agents than flat ones at equal budgets?

Every arm is the preset's learner (``cpu``: the candidate scorer), changed only in its hierarchy and estimator:

- ``hiper``        hierarchical policy + HAE, with the executor's subgoal bonus (the learner's recipe);
- ``hier-gae``     hierarchical policy + flat GAE (the paper's "planning alone" ablation), the same reward;
- ``flat-gae``     flat policy + GAE (PPO);
- ``flat-grpo``    flat policy + GRPO (groups of 8 envs share a task);
- ``flat-gigpo``   flat policy + GiGPO (same groups);
- ``hiper-sparse`` HiPER without the subgoal bonus (the paper's reward).

Shaping is identical wherever a term exists for both arms of a comparison (``benchmarks/study/arms.py``). Each run trains on a mix of composite
ALFWorld tasks of K = 1, 2, 3 subtasks (the learner's own recipe), for the same env-step budget in every arm, then
plays a fixed panel per K greedily. Protocol
(``benchmarks/study/grid.py``): with ``--full``/``--tune`` each arm first gets the same sweep (lr × sampling
temperature, one seed, K = 1 and the largest K) scored on a ``valid_seen`` panel, its best point is frozen, and
the reported numbers come from fresh seeds on a ``valid_unseen`` panel that no tuning run saw.

    python benchmarks/hierarchy_vs_flat.py --out runs/hvf                # 4 arms × 3 seeds, K = 1..3, 47 min on 2 cores
    python benchmarks/hierarchy_vs_flat.py --out runs/hvf-full --full    # tune, then 7 arms × 5 seeds (~5 h)
    python benchmarks/hierarchy_vs_flat.py --out runs/hvf --resume       # complete an interrupted grid

It writes ``OUT/results.json`` (the protocol, every command, the tuning cells and frozen points, every (arm, K,
seed) cell with its per-game outcomes and curve, the statistics), ``OUT/hierarchy_vs_flat.png`` and
``OUT/table.md``, and prints the table. ``benchmarks/hierarchy_vs_flat_report.py`` redraws them from the file.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks.study` from a script run

from benchmarks.study.arms import ARMS  # noqa: E402
from benchmarks.study.grid import Study  # noqa: E402
from benchmarks.study.protocol import DEFAULT_GRID, FULL_GRID, Grid, Protocol  # noqa: E402
from benchmarks.study.report import markdown, plot, summarize, tuning_markdown  # noqa: E402

DEFAULTS = Protocol()  # --full runs the same protocol; it adds the sweep, arms and seeds
ROOT = Path(__file__).resolve().parents[1]
#: The committed study whose frozen points the default grid reuses.
TUNED = ROOT / "benchmarks" / "results" / "hierarchy_vs_flat.json"
#: Flag -> Protocol field, for the flags whose default is the Protocol's.
PROTOCOL_FLAGS = {
    "budget": "budget",
    "num_envs": "num_envs",
    "eval_episodes": "report_episodes",
    "curve_episodes": "curve_episodes",
    "eval_every": "eval_every",
}


def _default(field: str) -> str:
    return f"default {getattr(DEFAULTS, field):,}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--out", required=True, help="Output folder (results.json, the plot, the table, the runs).")
    p.add_argument(
        "--full",
        action="store_true",
        help=f"Tune, then all {len(FULL_GRID.arms)} arms × {len(FULL_GRID.seeds)} seeds, "
        f"K = {FULL_GRID.ks[0]}..{FULL_GRID.ks[-1]}.",
    )
    p.add_argument("--tune", action="store_true", help="Run the tuning sweep before the report (--full does).")
    p.add_argument(
        "--tuned",
        metavar="RESULTS_JSON",
        help="Use the frozen points of an earlier study instead of "
        f"tuning (default: {TUNED.relative_to(ROOT)} when it has them, else the preset's).",
    )
    p.add_argument("--untuned", action="store_true", help="Use the preset's lr and temperature for every arm.")
    p.add_argument("--resume", action="store_true", help="Complete OUT/results.json; finished runs are kept.")
    p.add_argument("--dry-run", action="store_true", help="Print the runs and a time estimate; train nothing.")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), help="Override the grid's arms.")
    p.add_argument("--ks", nargs="+", type=int, help="Override the grid's K mix (subtasks per task), each scored.")
    p.add_argument("--seeds", nargs="+", type=int, help="Override the grid's training seeds.")
    p.add_argument("--preset", default=DEFAULTS.preset, help="The learner every arm starts from.")
    p.add_argument("--budget", type=int, help=f"Training env steps per run, over the K mix ({_default('budget')}).")
    p.add_argument(
        "--num-envs",
        type=int,
        help="Envs per iteration, spread evenly over the K mix "
        f"({_default('num_envs')}; with groups of 8, a multiple of 8 × the number of K's).",
    )
    p.add_argument("--steps-per-subtask", type=int, help="Episode step limit per subtask (default: the preset's).")
    p.add_argument("--eval-episodes", type=int, help=f"Games of the report panel ({_default('report_episodes')}).")
    p.add_argument(
        "--curve-episodes",
        type=int,
        help=f"Games (the panel's first) played at each point of the learning curve ({_default('curve_episodes')}).",
    )
    p.add_argument("--eval-every", type=int, help=f"Iterations between curve points ({_default('eval_every')}).")
    p.add_argument(
        "--tune-episodes",
        type=int,
        default=DEFAULTS.tune_episodes,
        help=f"Games of the valid_seen validation panel (default {DEFAULTS.tune_episodes}).",
    )
    p.add_argument(
        "--lr-factors",
        nargs="+",
        type=float,
        default=list(DEFAULTS.lr_factors),
        help="Tuning: learning rates as multiples of the preset's.",
    )
    p.add_argument(
        "--temperatures",
        nargs="+",
        type=float,
        default=list(DEFAULTS.temperatures),
        help="Tuning: sampling temperatures of the training rollouts.",
    )
    p.add_argument(
        "--pool-size",
        type=int,
        default=DEFAULTS.pool_size,
        help="Games per split compiled ahead (training draws from the first N train games).",
    )
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        dest="overrides",
        help="Config fields set alike for every arm, VALUE as JSON (e.g. num_envs=16).",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Runs trained in parallel, one core each (0: in this process, one after another).",
    )
    args = p.parse_args(argv)
    overrides = {}
    for item in args.overrides:
        name, sep, value = item.partition("=")
        if not sep:
            p.error(f"--set takes FIELD=VALUE, got {item!r}")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value  # a bare string
    args.overrides = overrides
    if sum(bool(x) for x in (args.tuned, args.tune or args.full, args.untuned)) > 1:
        p.error("choose one of --tuned FILE, --tune/--full and --untuned")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    grid_defaults = FULL_GRID if args.full else DEFAULT_GRID
    grid = Grid(*(tuple(getattr(args, name) or getattr(grid_defaults, name)) for name in ("arms", "ks", "seeds")))
    tuned = args.tuned
    if tuned is None and not (args.tune or args.full or args.untuned) and TUNED.is_file():
        frozen = json.loads(TUNED.read_text())
        if frozen["meta"]["protocol"]["preset"] == args.preset and set(grid.arms) <= set(frozen["tuning"]["best"]):
            tuned = str(TUNED)
            print(f"frozen lr and temperature per arm from {TUNED.relative_to(ROOT)} (--untuned: the preset's)")
    command = shlex.join(["python", "benchmarks/hierarchy_vs_flat.py", *(sys.argv[1:] if argv is None else argv)])
    chosen = {field: getattr(args, flag) for flag, field in PROTOCOL_FLAGS.items() if getattr(args, flag) is not None}
    try:
        protocol = Protocol(
            **chosen,
            preset=args.preset,
            steps_per_subtask=args.steps_per_subtask,
            tune_episodes=args.tune_episodes,
            pool_size=args.pool_size,
            lr_factors=tuple(args.lr_factors),
            temperatures=tuple(args.temperatures),
            overrides=args.overrides,
        )
        study = Study(
            Path(args.out),
            protocol,
            grid,
            tune=args.tune or args.full,
            tuned_file=tuned,
            workers=args.workers,
            command=command,
            resume=args.resume or args.dry_run,
        )
        if args.dry_run:
            print(study.estimate())
            return 0
    except (FileExistsError, ValueError) as err:  # bad settings: a clear message, nothing written
        print(f"error: {err}", file=sys.stderr)
        return 2
    results = study.run_all()
    results["stats"] = summarize(results)
    study.save()
    table = "\n\n".join(t for t in (markdown(results), tuning_markdown(results)) if t)
    (study.out / "table.md").write_text(table + "\n")
    print(table)
    print(f"plot: {plot(results, study.out / 'hierarchy_vs_flat.png')}")
    print(f"results: {study.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
