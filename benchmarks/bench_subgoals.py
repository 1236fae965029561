"""Subgoal candidates along expert episodes: what is offered, and how long the expert's options last.

Plays the ALFWorld planner expert on a fixed panel (``valid_seen``: ``--games`` games of each task type at K = 1,
and ``--composite-games`` games at K = 2) and the WebShop oracle on ``--webshop-goals`` test goals, and reports,
over every step of every episode:

- the candidates offered (``info["subgoal_candidates"]``): mean count per step and the share that are primitives
  (ALFWorld: ``go to ...``, ``open ...``, ``close ...``; WebShop: ``open product <asin>``, ``choose <option>:
  <value>``);
- the expert's options (``expert_subgoal`` segments): mean length in steps and the share of 1-step options;
- coverage: the share of the expert's SWITCH steps whose subgoal is among the candidates offered at that step
  (what a candidate-scoring planner needs to imitate or reach the expert's choice);
- the expert's wins.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/bench_subgoals.py        # 10 games per task type, 20 at K = 2, 100 WebShop goals
    PYTHONPATH=. python benchmarks/bench_subgoals.py --games 4 --composite-games 8 --search 0.3
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

# Parse the arguments first: fast_downward's translator overwrites sys.argv.
_PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_PARSER.add_argument("--games", type=int, default=10, help="valid_seen games of each task type (K = 1)")
_PARSER.add_argument("--composite-games", type=int, default=20, help="valid_seen games at K = 2")
_PARSER.add_argument("--search", type=float, default=0.0, help="the expert's search probability (expert_search)")
_PARSER.add_argument("--webshop-goals", type=int, default=100, help="WebShop test goals (0: none)")
_PARSER.add_argument("--json", default=None, help="also write the figures to this file")

_NAVIGATION = ("go to ", "open ", "close ")
_CLICKS = ("open product ", "choose ")  # WebShop's single-click subgoals ("choose the required options" is not one)


def _panel(args: argparse.Namespace) -> list[tuple[str, dict]]:
    from hiper_envs.alfworld.spec import TASK_TYPES

    panel = [(t, {"split": "valid_seen", "task_types": [t], "num_games": args.games}) for t in TASK_TYPES if args.games]
    if args.composite_games:
        panel.append(("composite K=2", {"split": "valid_seen", "num_subtasks": 2, "num_games": args.composite_games}))
    return panel


def main() -> int:
    args = _PARSER.parse_args()
    from hiper_envs.alfworld.demonstrations import expert_demonstrations
    from hiper_envs.alfworld.env import ALFWorldEnv

    totals: dict[str, float] = defaultdict(float)
    rows = []
    print(f"{'panel':<32}{'won':>7}{'cands/step':>11}{'prim %':>7}{'opt len':>9}{'1-step %':>9}{'covered %':>10}")
    for name, kwargs in _panel(args):
        env = ALFWorldEnv(**kwargs, expert=True, expert_search=args.search)
        row: dict[str, float] = defaultdict(float)
        for episode in expert_demonstrations(env, seed=0, game_indices=list(range(kwargs["num_games"]))):
            row["episodes"] += 1
            row["won"] += episode.won
            for step in episode.steps:
                candidates = step.info["subgoal_candidates"]
                row["steps"] += 1
                row["candidates"] += len(candidates)
                row["navigation"] += sum(c.startswith(_NAVIGATION) for c in candidates)
                row["go_to"] += sum(c.startswith("go to ") for c in candidates)
                if step.switch:
                    row["switches"] += 1
                    row["covered"] += step.subgoal in candidates
            lengths = [len(steps) for _, steps in episode.segments]
            row["options"] += len(lengths)
            row["one_step"] += sum(n == 1 for n in lengths)
        env.close()
        for key, value in row.items():
            totals[key] += value
        rows.append({"panel": name, **row})
        _print_row(name, row)
    if totals:
        _print_row("all ALFWorld", totals)
    if args.webshop_goals:
        row = _webshop(args.webshop_goals)
        rows.append({"panel": "webshop", **row})
        _print_row(f"WebShop ({args.webshop_goals} test goals)", row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows, "all": totals}, f, indent=1)
    return 0


def _webshop(goals: int) -> dict[str, float]:
    """The WebShop oracle, switching when its subgoal changes, on the first ``goals`` test goals."""
    from hiper_envs.webshop import WebShopEnv

    env = WebShopEnv(split="test", expert=True)
    row: dict[str, float] = defaultdict(float)
    for index in range(goals):
        _, info = env.reset(options={"game_index": index})
        lengths: list[int] = []
        subgoal = None
        while True:
            candidates = info["subgoal_candidates"]
            row["steps"] += 1
            row["candidates"] += len(candidates)
            clicks = sum(c.startswith(_CLICKS) and c != "choose the required options" for c in candidates)
            row["navigation"] += clicks
            switch = info["expert_subgoal"] != subgoal
            subgoal = info["expert_subgoal"]
            if switch:
                row["switches"] += 1
                row["covered"] += subgoal in candidates
                lengths.append(0)
            lengths[-1] += 1
            _, reward, terminated, truncated, info = env.step(
                {"action": info["expert_action"], "switch": switch, "subgoal": subgoal}
            )
            if terminated or truncated:
                break
        row["episodes"] += 1
        row["won"] += reward >= 1.0
        row["options"] += len(lengths)
        row["one_step"] += sum(n == 1 for n in lengths)
    env.close()
    return row


def _print_row(name: str, row: dict[str, float]) -> None:
    print(
        f"{name:<32}{int(row['won']):>3}/{int(row['episodes']):<3}{row['candidates'] / row['steps']:>11.1f}"
        f"{100 * row['navigation'] / max(row['candidates'], 1):>7.1f}{row['steps'] / row['options']:>9.2f}"
        f"{100 * row['one_step'] / row['options']:>9.1f}{100 * row['covered'] / max(row['switches'], 1):>10.1f}"
        + (f"   (go to: {100 * row['go_to'] / max(row['candidates'], 1):.1f} %)" if "go_to" in row else "")
    )


if __name__ == "__main__":
    sys.exit(main())
