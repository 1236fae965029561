"""ALFWorld task generation speed: our generator vs the stock solvability check, on the same games.

``ours`` is :func:`~hiper_envs.alfworld.procedural.generate_game`: draw a room, write the PDDL problem and solve it
stage by stage with fast-downward on the room cut down to each subtask (what a fresh ``env.reset()`` index costs).
``stock`` is how alfworld's own ``alfworld-generate`` script checks the same finished game: ``PddlEnv`` +
``AlfredDemangler`` asked for the planner's ``policy_commands`` (what ``AlfredExpert(planner)`` returns), ``load``
then ``reset`` (which translates the full problem twice and plans the full goal at once).
Both plans are checked to have the same length (both planners are optimal; ours is optimal per stage).
Usage::

    python benchmarks/bench_alfworld_tasks.py                 # 20 games per split, K = 1 and 2 (stock: K = 1)
    python benchmarks/bench_alfworld_tasks.py --games 50 --num-subtasks 1 3 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

# Parse the arguments first: fast_downward's translator overwrites sys.argv.
_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--games", type=int, default=20, help="games per split and K")
_PARSER.add_argument("--num-subtasks", type=int, nargs="+", default=[1, 2], help="values of K")
_PARSER.add_argument("--splits", nargs="+", default=["train", "valid_seen", "valid_unseen"])
_PARSER.add_argument(
    "--stock-max-k",
    type=int,
    default=1,
    help="largest K for the stock check (its one-shot search takes minutes a game from K=2 on)",
)
_PARSER.add_argument("--seed", type=int, default=0, help="generator seed")


def _stock_check(env, game: dict) -> tuple[float, int]:
    """Seconds for the stock planner check of one game, and its plan length."""
    start = time.perf_counter()
    env.load(dict(game, walkthrough=None))
    state = env.reset()
    return time.perf_counter() - start, len(state["policy_commands"])


def main() -> int:
    args = _PARSER.parse_args()
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler
    from textworld.envs import PddlEnv

    from hiper_envs.alfworld.procedural import generate_game

    # AlfredExpert(expert_type="planner") reads exactly this: the planner's plan from the current state.
    env = AlfredDemangler(PddlEnv(textworld.EnvInfos(admissible_commands=True, policy_commands=True)))
    generate_game("train", 10**6, seed=args.seed)  # warm-up: imports, layouts, the planner library
    print(f"{'split':<13}{'K':>2}{'ours ms (mean/p95)':>22}{'stock ms (mean)':>17}{'speed-up':>10}{'plan len':>10}")
    mismatches = 0
    for k in args.num_subtasks:
        for split in args.splits:
            ours, stock, lengths = [], [], []
            for index in range(args.games):
                start = time.perf_counter()
                spec = generate_game(split, index, seed=args.seed, num_subtasks=k)
                ours.append(time.perf_counter() - start)
                lengths.append(len(spec.game["walkthrough"]))
                if k <= args.stock_max_k:
                    seconds, length = _stock_check(env, spec.game)
                    stock.append(seconds)
                    mismatches += length != lengths[-1]
            p95 = sorted(ours)[int(0.95 * (len(ours) - 1))]
            mean_ours = statistics.mean(ours)
            if stock:
                mean_stock = statistics.mean(stock)
                stock_cols = f"{1000 * mean_stock:>17.1f}{mean_stock / mean_ours:>9.1f}x"
            else:
                stock_cols = f"{'-':>17}{'-':>10}"
            print(
                f"{split:<13}{k:>2}{1000 * mean_ours:>13.1f} / {1000 * p95:<6.1f}{stock_cols}"
                f"{statistics.mean(lengths):>10.1f}"
            )
    if mismatches:
        print(f"{mismatches} games where the stock plan length differs from ours", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
