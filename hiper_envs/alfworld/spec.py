"""Task specifications: what one ALFWorld game is, whatever its source (generated, composite or official data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["TASK_TYPES", "GameSpec", "Subtask", "TaskSource"]

#: The six ALFWorld task types, in the official order (ALFWorld's ``task_types`` 1..6).
TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)


@dataclass(frozen=True)
class Subtask:
    """One ALFWorld task inside a game (a plain game has one; a composite game has ``K``, done in order).

    Attributes:
        task_type: one of :data:`TASK_TYPES`.
        goal: the official goal sentence, e.g. ``"put a clean apple in fridge"``.
        pddl_params: ALFRED's parameters: ``object_target``, ``parent_target``, ``toggle_target``,
            ``mrecep_target`` (type names such as ``"Apple"``, ``"Fridge"``, ``""`` when unused) and
            ``object_sliced`` (bool).
    """

    task_type: str
    goal: str
    pddl_params: dict[str, Any]


@dataclass(frozen=True)
class GameSpec:
    """One playable game.

    Attributes:
        game_id: stable id (the same seed/index always gives the same id).
        split: ``train``, ``valid_seen``, ``valid_unseen`` (or an official split name).
        task: the instruction shown to the agent (the subtasks' goals joined, for composite games).
        task_type: the subtask's type, or ``"composite"`` when there are several subtasks.
        subtasks: the subtasks, in the order they must be done.
        game: the ``game.tw-pddl`` JSON: ``pddl_domain``, ``grammar``, ``pddl_problem``, ``solvable``,
            ``walkthrough``.
        traj_data: the ``traj_data.json`` content (``task_type``, ``pddl_params``, ...), for the stock tools.
        path: the game folder when loaded from disk, else ``None``.
    """

    game_id: str
    split: str
    task: str
    task_type: str
    subtasks: tuple[Subtask, ...]
    game: dict[str, Any]
    traj_data: dict[str, Any] = field(default_factory=dict)
    path: str | None = None


class TaskSource(Protocol):
    """An indexable, deterministic collection of games."""

    def __len__(self) -> int:
        """Number of games."""
        ...

    def __getitem__(self, index: int) -> GameSpec:
        """The game at ``index`` (the same index always gives the same game)."""
        ...
