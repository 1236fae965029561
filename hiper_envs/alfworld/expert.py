"""The planner expert: optimal actions from Fast Downward, labelled with canonical subgoals.

Its demonstrations (whole expert episodes, for SFT) are in :mod:`hiper_envs.alfworld.demonstrations`.

The expert plans from the *current* engine state with the planner TextWorld ships (Fast Downward, as alfworld's
``AlfredExpert(expert_type="planner")``), on the part of the room relevant to the goal
(:mod:`hiper_envs.alfworld.relevance`: an exact reduction, so plans stay optimal, while planning on the whole room
can run for minutes). It follows that plan while the episode follows it and replans only when the agent deviates,
so the suffix it follows is still optimal. A composite game is planned one stage at a time: the plan for stage
``k`` targets subtask ``k``'s goal alone, so the expert does the subtasks in the required order.

Segmentation (what ``expert_subgoal`` says): a plan is cut after each *milestone* action (take, put, clean,
heat, cool, use); the moves that prepare it (go to, open) belong to its segment, and the segment is labelled
with the task-level subgoal the milestone completes (:func:`~hiper_envs.alfworld.candidates.canonical_subgoal`,
the vocabulary the env offers as candidates). So ``go to countertop 1, take apple 1 from countertop 1`` is one
option ``take apple``; ``go to fridge 1, open fridge 1, move apple 1 to fridge 1`` is ``put apple 1 in/on
fridge``. Trailing moves with no milestone after them are labelled with the last one (``go to desk 1``). Every
label is a canonical subgoal that the env verifies as achieved exactly when its segment ends.

Searching (``search > 0``): the planner knows where every object is, so its demonstrations never show a miss,
and a policy imitating them has never seen what to do when the object is not where it looked. With
probability ``search`` per visit, the expert on its way to fetch an object first goes to another receptacle
(and opens it if it is closed), as an agent that does not know the room must; it then replans from there.
Detours stay inside the fetch's option (``take apple``, whichever apple it ends up taking) and are drawn from the
env's seeded RNG.
"""

from __future__ import annotations

import numpy as np

from hiper_envs.alfworld.candidates import canonical_subgoal
from hiper_envs.alfworld.engine import AlfredEngine
from hiper_envs.alfworld.relevance import goal_section, plan_from_state
from hiper_envs.alfworld.spec import GameSpec

__all__ = ["PlannerExpert", "segment_plan"]

_PREPARATORY = ("go to ", "open ", "close ")


def segment_plan(plan: list[str]) -> list[tuple[str, bool]]:
    """Label each command of a plan with its segment's canonical subgoal and whether it opens the segment."""
    labels: list[tuple[str, bool]] = []
    start = 0
    for i, command in enumerate(plan):
        subgoal = canonical_subgoal(command)
        last = i == len(plan) - 1
        if (subgoal is not None and not command.startswith(_PREPARATORY)) or last:
            label = subgoal or next((s for s in map(canonical_subgoal, reversed(plan[start : i + 1])) if s), command)
            labels += [(label, j == start) for j in range(start, i + 1)]
            start = i + 1
    return labels


class PlannerExpert:
    """The optimal next action and its canonical subgoal, for the game an :class:`AlfredEngine` is playing."""

    def __init__(self, engine: AlfredEngine, search: float = 0.0) -> None:
        if not 0.0 <= search < 1.0:
            raise ValueError(f"search must be in [0, 1), got {search!r}")
        self._engine = engine
        self._search = search
        self._rng: np.random.Generator | None = None
        self._searched: set[str] = set()
        self._to_open: str | None = None
        self._spec: GameSpec | None = None
        self._plan: list[str] | None = None
        self._labels: list[tuple[str, bool]] = []
        self._pos = 0
        self._stage = -1
        self._last_label: str | None = None
        self._last_ended = False

    def reset(self, spec: GameSpec, rng: np.random.Generator | None = None) -> None:
        """Start a new episode of ``spec`` (after the engine was reset); ``rng`` draws the search detours."""
        self._spec = spec
        self._rng = rng if rng is not None else np.random.default_rng(0)
        self._searched, self._to_open = set(), None
        self._plan, self._labels, self._pos, self._stage = None, [], 0, -1
        self._last_label, self._last_ended = None, False

    def observe(self, command: str) -> None:
        """Record a command the engine executed; a deviation from the plan triggers a replan at the next advice."""
        if self._plan is not None and self._pos < len(self._plan) and command == self._plan[self._pos]:
            self._pos += 1
        else:
            self._plan = None

    def advise(self, stage: int) -> tuple[str, str, bool]:
        """The expert's ``(action, subgoal, switch)`` for the current state, where ``stage`` is the current subtask.

        ``switch`` is ``True`` when the action opens a new segment (a new option).
        """
        assert self._spec is not None, "call reset() first"
        replanned = False
        if self._plan is None or stage != self._stage or self._pos >= len(self._plan):
            self._plan = self._make_plan(stage) or []
            self._labels, self._pos, self._stage = segment_plan(self._plan), 0, stage
            replanned = True
        if not self._plan:  # no plan: the planner found none (or the goal holds); look around, harmlessly
            subtasks = self._spec.subtasks
            label = subtasks[min(stage, len(subtasks) - 1)].goal if subtasks else self._spec.task
            switch, self._last_label, self._last_ended = label != self._last_label, label, False
            return "look", label, switch
        label, starts = self._labels[self._pos]
        if replanned:
            # A new plan continues the option in progress when it pursues the same subgoal (after a deviation).
            switch = self._last_label is None or self._last_ended or label != self._last_label
        else:
            switch = starts
        self._last_label = label
        self._last_ended = self._pos + 1 >= len(self._labels) or self._labels[self._pos + 1][1]
        return self._detour() or self._plan[self._pos], label, switch

    @property
    def steps_left(self) -> int:
        """Commands left in the plan advised last (0 before the first advice or when no plan exists)."""
        return len(self._plan) - self._pos if self._plan else 0

    def _detour(self) -> str | None:
        """A search move instead of the planned one: open the receptacle just visited, or visit another one."""
        assert self._plan is not None and self._rng is not None
        admissible = self._engine.admissible_commands
        if self._to_open is not None:
            command, self._to_open = f"open {self._to_open}", None
            if command in admissible:
                return command
        if not self._search or not self._fetches(self._pos) or self._rng.random() >= self._search:
            return None
        target = self._plan[self._pos]
        choices = [c for c in admissible if c.startswith("go to ") and c != target and c[6:] not in self._searched]
        if not choices:
            return None
        command = choices[int(self._rng.integers(len(choices)))]
        self._searched.add(command[6:])
        self._to_open = command[6:]
        return command

    def _fetches(self, pos: int) -> bool:
        """Whether plan step ``pos`` goes to the receptacle an object is then taken from."""
        assert self._plan is not None
        command = self._plan[pos]
        if not command.startswith("go to "):
            return False
        recep = command[6:]
        following = [c for c in self._plan[pos + 1 : pos + 3] if not c.startswith("open ")]
        return bool(following) and following[0].startswith("take ") and following[0].endswith(f" from {recep}")

    def _make_plan(self, stage: int) -> list[str] | None:
        assert self._spec is not None
        subtasks = self._spec.subtasks
        if len(subtasks) <= 1:
            goal = goal_section(self._spec.game["pddl_problem"])
            targets = subtasks[0:1]
        else:
            from hiper_envs.alfworld.problem import goal_conjuncts

            subtask = subtasks[min(stage, len(subtasks) - 1)]
            goal = f"(:goal\n        (and\n            {goal_conjuncts(subtask.task_type, subtask.pddl_params)}\n        )\n    )"
            targets = (subtask,)
        object_types = None
        if targets and not any(t.pddl_params.get("object_sliced") for t in targets):
            object_types = [t.pddl_params.get(k) or "" for t in targets for k in ("object_target", "toggle_target")]
        return plan_from_state(self._engine, goal, object_types)
