"""What the env knows and the agent does not: which products and options win the task (the hidden verdicts).

These read the catalog entry and the goal, never the page. The env uses them to verify the subgoals ``open a
matching product`` and ``choose the required options``; the expert (:mod:`hiper_envs.webshop.expert`) to plan. A
product *wins* when buying it with its best options earns the full reward (:func:`webshop_server.reward.get_reward`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["best_options", "options_satisfied", "winnable"]


def best_options(product: dict[str, Any], goal: dict[str, Any]) -> dict[str, str]:
    """The options of ``product`` that best meet the goal's: the goal's exact value where offered, else the value
    fuzzily matching most of the goal's options (the first such), else none for that option."""  # noqa: D205, D209
    from webshop_server.normalize import normalize_color
    from webshop_server.reward import FUZZY_THRESHOLD, fuzzy_score

    goal_options = goal.get("goal_options") or []
    wanted = list(goal_options.items()) if isinstance(goal_options, dict) else list(goal_options)
    chosen: dict[str, str] = {}
    for name, values in product["options"].items():
        exact = goal_options.get(name) if isinstance(goal_options, dict) else None
        pick = exact if exact in values else None
        if pick is None:
            scored = [
                (sum(fuzzy_score(normalize_color(v), normalize_color(w)) > FUZZY_THRESHOLD for w in wanted), -i, v)
                for i, v in enumerate(values)
            ]
            best = max(scored, default=(0, 0, None))  # an option with no values offers nothing to pick
            pick = best[2] if best[0] > 0 else None
        if pick is not None:
            chosen[name] = pick
    return chosen


def options_satisfied(product: dict[str, Any], goal: dict[str, Any], price: float, options: dict[str, str]) -> bool:
    """Whether the chosen ``options`` meet every goal option (a goal without options is always met)."""
    from webshop_server.reward import get_reward

    r = get_reward(product, goal, price, options)
    return r.r_option is None or r.r_option >= 1.0


def winnable(product: dict[str, Any], goal: dict[str, Any], price: float) -> bool:
    """Whether buying ``product`` at ``price`` with its :func:`best_options` wins the task (reward 1.0)."""
    from webshop_server.reward import get_reward

    return get_reward(product, goal, price, best_options(product, goal)).success
