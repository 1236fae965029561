r"""Write generated ALFWorld games to disk in the official layout (playable by the stock ``AlfredTWEnv``).

Usage::

    python -m hiper_envs.alfworld.generate --out DIR --split train --n 100 --seed 0 \
        [--task-types pick_and_place_simple 4 ...] [--num-subtasks K] [--start I]

writes ``DIR/<task_type>-<Obj>-<Mrecep>-<Recep>-<scene>/trial_<game id>/{game.tw-pddl,traj_data.json}`` for games
``I .. I+N-1`` of the split, then prints how many games of each type it wrote. Point the stock env's
``dataset.data_path`` (or :class:`~hiper_envs.alfworld.official.OfficialTaskSource`) at ``DIR``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence

from hiper_envs.alfworld.composite import MAX_SUBTASKS
from hiper_envs.alfworld.procedural import GENERATED_SPLITS
from hiper_envs.alfworld.spec import TASK_TYPES

__all__ = ["main", "parse_task_types"]


def parse_task_types(values: Sequence[str] | None) -> list[str] | None:
    """Task types given by name or by ALFWorld's number (1..6, as in the stock config's ``env.task_types``)."""
    if not values:
        return None
    types = []
    for value in values:
        if value.isdigit() and 1 <= int(value) <= len(TASK_TYPES):
            types.append(TASK_TYPES[int(value) - 1])
        elif value in TASK_TYPES:
            types.append(value)
        else:
            raise argparse.ArgumentTypeError(f"unknown task type {value!r}: use 1..6 or one of {TASK_TYPES}")
    return types


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hiper_envs.alfworld.generate",
        description="Generate solvable ALFWorld games (official layout, playable by the stock AlfredTWEnv).",
    )
    parser.add_argument("--out", required=True, help="output folder (the stock env's dataset.data_path)")
    parser.add_argument("--split", default="train", choices=tuple(GENERATED_SPLITS), help="generated split")
    parser.add_argument("--n", type=int, default=10, help="number of games to write")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--start", type=int, default=0, help="index of the first game")
    parser.add_argument(
        "--task-types", nargs="+", default=None, metavar="TYPE", help="task types (names or 1..6); default all six"
    )
    parser.add_argument(
        "--num-subtasks", type=int, default=1, choices=range(1, MAX_SUBTASKS + 1), help="subtasks per game (K)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    # Parse before anything imports fast_downward: its translator overwrites sys.argv.
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        task_types = parse_task_types(args.task_types)
    except argparse.ArgumentTypeError as err:
        parser.error(str(err))
    if args.n < 0 or args.start < 0:
        parser.error("--n and --start must be >= 0")

    from tqdm import tqdm

    from hiper_envs.alfworld.official import write_game
    from hiper_envs.alfworld.procedural import generate_game

    counts: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    indices = range(args.start, args.start + args.n)
    for index in tqdm(indices, desc=f"generating {args.split}", unit="game", disable=args.quiet):
        spec = generate_game(args.split, index, seed=args.seed, num_subtasks=args.num_subtasks, task_types=task_types)
        write_game(spec, args.out)
        for subtask in spec.subtasks:
            counts[subtask.task_type] += 1
        steps["total"] += len(spec.game["walkthrough"])

    print(f"\nWrote {args.n} games (split={args.split}, seed={args.seed}, K={args.num_subtasks}) to {args.out}")
    print(f"{'task type':<34}{'subtasks':>9}")
    for task_type in TASK_TYPES:
        print(f"{task_type:<34}{counts[task_type]:>9}")
    print(f"{'total':<34}{sum(counts.values()):>9}")
    if args.n:
        print(f"mean optimal plan length: {steps['total'] / args.n:.1f} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
