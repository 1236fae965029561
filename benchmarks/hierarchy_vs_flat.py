"""Hierarchy vs flat: does HiPER (hierarchical policy + HAE) train better agents than flat ones at equal budgets?

Every arm is the preset's learner (``cpu``: the candidate scorer), changed only in its hierarchy and estimator:

- ``hiper``       hierarchical policy + HAE;
- ``hier-gae``    hierarchical policy + flat GAE (the paper's "planning alone" ablation);
- ``flat-gae``    flat policy + GAE (PPO);
- ``flat-grpo``   flat policy + GRPO (groups of 8 envs share a task);
- ``flat-gigpo``  flat policy + GiGPO (same groups);
- ``hiper-bonus`` HiPER + the executor subgoal bonus (the project's shaped recipe; only with ``--arms``).

Reward shaping is the same for every arm (see ``benchmarks/study/arms.py``). Runs train on composite ALFWorld
tasks (K subtasks), env-step budget per subtask × K, then play a fixed panel greedily. Protocol
(``benchmarks/study/grid.py``): with ``--full``/``--tune`` each arm first gets the same sweep (lr × sampling
temperature, one seed, K = 1 and the largest K) scored on a ``valid_seen`` panel, its best point is frozen, and
the reported numbers come from fresh seeds on a ``valid_unseen`` panel that no tuning run saw.

    python benchmarks/hierarchy_vs_flat.py --out runs/hvf                # 4 arms, K = 1..3, 3 seeds, <= 60 min
    python benchmarks/hierarchy_vs_flat.py --out runs/hvf-full --full    # tune, then 5 arms, K = 1..3, 5 seeds
    python benchmarks/hierarchy_vs_flat.py --out runs/hvf --resume       # complete an interrupted grid

It writes ``OUT/results.json`` (the protocol, every command, the tuning cells and frozen points, every (arm, K,
seed) run with its per-game outcomes and curve, the statistics), ``OUT/hierarchy_vs_flat.png`` and
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
from benchmarks.study.grid import DEFAULT_GRID, FULL_GRID, Grid, Protocol, Study  # noqa: E402
from benchmarks.study.report import markdown, plot, summarize  # noqa: E402

DEFAULTS = Protocol()
ROOT = Path(__file__).resolve().parents[1]
#: The committed study whose frozen points the default grid reuses.
TUNED = ROOT / "benchmarks" / "results" / "hierarchy_vs_flat.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--out", required=True, help="Output folder (results.json, the plot, the table, the runs).")
    parser.add_argument("--full", action="store_true", help="Tune, then all five arms, K = 1..3, 5 seeds.")
    parser.add_argument("--tune", action="store_true", help="Run the tuning sweep before the report (--full does).")
    parser.add_argument("--tuned", metavar="RESULTS_JSON",
                        help="Use the frozen points of an earlier study instead of tuning (default: "
                        f"{TUNED.relative_to(ROOT)} when it exists and has them, else the preset's).")  # fmt: skip
    parser.add_argument("--untuned", action="store_true", help="Use the preset's lr and temperature for every arm.")
    parser.add_argument("--resume", action="store_true", help="Complete OUT/results.json; finished runs are kept.")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), help="Override the grid's arms.")
    parser.add_argument("--ks", nargs="+", type=int, help="Override the grid's K values (subtasks per task).")
    parser.add_argument("--seeds", nargs="+", type=int, help="Override the grid's training seeds.")
    parser.add_argument("--preset", default=DEFAULTS.preset, help="The learner every arm starts from.")
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULTS.budget_per_subtask,
        help="Training env steps per subtask (a run at K subtasks trains K times as many).",
    )
    parser.add_argument("--steps-per-subtask", type=int, default=DEFAULTS.steps_per_subtask,
                        help="Episode step limit per subtask (default: the preset's max_episode_steps).")  # fmt: skip
    parser.add_argument("--eval-episodes", type=int, default=DEFAULTS.report_episodes,
                        help="Games of the valid_unseen report panel.")  # fmt: skip
    parser.add_argument("--curve-episodes", type=int, default=DEFAULTS.curve_episodes,
                        help="Games (the panel's first) played at each point of the learning curve.")  # fmt: skip
    parser.add_argument("--tune-episodes", type=int, default=DEFAULTS.tune_episodes,
                        help="Games of the valid_seen validation panel (tuning).")  # fmt: skip
    parser.add_argument("--eval-every", type=int, default=DEFAULTS.eval_every, help="Iterations between curve points.")
    parser.add_argument("--lr-factors", nargs="+", type=float, default=list(DEFAULTS.lr_factors),
                        help="Tuning: learning rates as multiples of the preset's.")  # fmt: skip
    parser.add_argument("--temperatures", nargs="+", type=float, default=list(DEFAULTS.temperatures),
                        help="Tuning: sampling temperatures of the training rollouts.")  # fmt: skip
    parser.add_argument(
        "--pool-size",
        type=int,
        default=DEFAULTS.pool_size,
        help="Games per split compiled ahead (training draws from the first N train games).",
    )
    parser.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE", dest="overrides",
                        help="Config fields set alike for every arm, VALUE as JSON (e.g. num_envs=16).")  # fmt: skip
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Runs trained in parallel, one core each (0: in this process, one after another).",
    )
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.overrides:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set takes FIELD=VALUE, got {item!r}")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value  # a bare string
    args.overrides = overrides
    if sum(bool(x) for x in (args.tuned, args.tune or args.full, args.untuned)) > 1:
        parser.error("choose one of --tuned FILE, --tune/--full and --untuned")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = FULL_GRID if args.full else DEFAULT_GRID
    grid = Grid(tuple(args.arms or base.arms), tuple(args.ks or base.ks), tuple(args.seeds or base.seeds))
    tuned = args.tuned
    if tuned is None and not (args.tune or args.full or args.untuned) and TUNED.is_file():
        frozen = json.loads(TUNED.read_text())
        if frozen["meta"]["protocol"]["preset"] == args.preset and set(grid.arms) <= set(frozen["tuning"]["best"]):
            tuned = str(TUNED)
            print(f"frozen lr and temperature per arm from {TUNED.relative_to(ROOT)} (--untuned: the preset's)")
    command = shlex.join(["python", "benchmarks/hierarchy_vs_flat.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        protocol = Protocol(preset=args.preset, budget_per_subtask=args.budget,
                            steps_per_subtask=args.steps_per_subtask, tune_episodes=args.tune_episodes,
                            report_episodes=args.eval_episodes, curve_episodes=args.curve_episodes,
                            eval_every=args.eval_every, pool_size=args.pool_size,
                            lr_factors=tuple(args.lr_factors), temperatures=tuple(args.temperatures),
                            overrides=args.overrides)  # fmt: skip
        study = Study(Path(args.out), protocol, grid, tune=args.tune or args.full, tuned_file=tuned,
                      workers=args.workers, command=command, resume=args.resume)  # fmt: skip
    except (FileExistsError, ValueError) as err:  # bad settings: a clear message, nothing written
        print(f"error: {err}", file=sys.stderr)
        return 2
    results = study.run_all()
    results["stats"] = summarize(results)
    study.save()
    table = markdown(results)
    (study.out / "table.md").write_text(table + "\n")
    print(table)
    print(f"plot: {plot(results, study.out / 'hierarchy_vs_flat.png')}")
    print(f"results: {study.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
