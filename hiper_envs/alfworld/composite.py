"""Composite long-horizon tasks: ``K`` dependent ALFWorld subtasks in one episode, done in order.

A composite game is one room with ``K`` subtasks on distinct target object types, e.g. "heat some mug and put it
in cabinet, then clean some apple and put it in diningtable". Its PDDL goal is the conjunction of the subtasks'
official goals, so the planner proves the whole episode solvable and the stock alfworld tools see an ordinary
solvable game; the *order* is enforced by the environment, which checks ``spec.subtasks`` one at a time from the
engine facts (each subtask's ``pddl_params`` names distinct object types, so its condition is unambiguous).

Rules that keep the subtasks from undoing each other:

- distinct target object types, and no distractor of a target type, so finishing a later subtask never needs an
  earlier subtask's object (and never satisfies a subtask by accident);
- ``look_at_obj_in_light`` (whose goal is to *hold* the object under the lamp) comes at most once and always
  last: any later subtask would make the agent put the object down and undo it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hiper_envs.alfworld.spec import TASK_TYPES

__all__ = [
    "HOLDING_TASK",
    "MAX_SUBTASKS",
    "STEPS_PER_SUBTASK",
    "compose_task",
    "sample_task_types",
    "step_limit",
    "validate_request",
]

#: The largest supported number of subtasks per episode.
MAX_SUBTASKS = 5
#: ALFWorld's usual episode budget (50 steps), granted once per subtask.
STEPS_PER_SUBTASK = 50
#: The task type whose goal is a state the agent must still be in at the end (holding the object under the lamp).
HOLDING_TASK = "look_at_obj_in_light"


def step_limit(num_subtasks: int, steps_per_subtask: int = STEPS_PER_SUBTASK) -> int:
    """The recommended ``max_episode_steps`` for a game of ``num_subtasks`` subtasks: ``50 * K``.

    ALFWorld's optimal plans take 4-15 steps per subtask (navigation dominates), and the usual 50-step budget
    leaves room to explore; the rooms do not grow with ``K``, so the budget grows linearly.
    """
    return steps_per_subtask * num_subtasks


def compose_task(goals: Sequence[str]) -> str:
    """Join the subtasks' goal sentences: ``"heat some mug and put it in cabinet, then clean some apple ..."``."""
    return ", then ".join(goal.strip().rstrip(".").lower() for goal in goals)


def validate_request(num_subtasks: int, task_types: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``num_subtasks`` subtasks can be drawn from ``task_types``."""
    if not isinstance(num_subtasks, int) or not 1 <= num_subtasks <= MAX_SUBTASKS:
        raise ValueError(f"num_subtasks must be an int in 1..{MAX_SUBTASKS}, got {num_subtasks!r}")
    unknown = [t for t in task_types if t not in TASK_TYPES]
    if unknown or not task_types:
        raise ValueError(f"task_types must be a non-empty subset of {TASK_TYPES}, got {list(task_types)!r}")
    if num_subtasks > 1 and set(task_types) == {HOLDING_TASK}:
        raise ValueError(
            f"num_subtasks={num_subtasks} needs a task type other than {HOLDING_TASK!r}: it can only be the "
            "last subtask of a composite game (its goal is to keep holding the object)"
        )


def sample_task_types(
    rng: np.random.Generator, first: str, supported: Sequence[str], num_subtasks: int
) -> list[str] | None:
    """Draw the subtask types of one game.

    ``first`` plus ``K - 1`` uniform draws from the room's ``supported`` types, with ``look_at_obj_in_light`` at
    most once and moved to the end.

    Returns:
        The ordered task types, or ``None`` when the room supports too few types for ``num_subtasks``.
    """
    types = [first]
    for _ in range(num_subtasks - 1):
        options = [t for t in supported if t != HOLDING_TASK or HOLDING_TASK not in types]
        if not options:
            return None
        types.append(options[int(rng.integers(len(options)))])
    return [t for t in types if t != HOLDING_TASK] + [t for t in types if t == HOLDING_TASK]
