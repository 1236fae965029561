"""ALFWorld for HiPER: ``HiPER/ALFWorld-v0`` (the env), its engine, task specs, subgoals and the planner expert.

Importing this package is light; the TextWorld engine loads when an env is made (``ALFWorldEnv`` and
``expert_demonstrations`` are imported on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hiper_envs.alfworld.spec import TASK_TYPES, GameSpec, Subtask, TaskSource

if TYPE_CHECKING:
    from hiper_envs.alfworld.demonstrations import ExpertEpisode, ExpertStep, expert_demonstrations
    from hiper_envs.alfworld.env import ALFWorldEnv
    from hiper_envs.alfworld.pool import GamePool

__all__ = [
    "TASK_TYPES",
    "ALFWorldEnv",
    "ExpertEpisode",
    "ExpertStep",
    "GamePool",
    "GameSpec",
    "Subtask",
    "TaskSource",
    "expert_demonstrations",
]

_LAZY = {
    "ALFWorldEnv": "hiper_envs.alfworld.env",
    "ExpertEpisode": "hiper_envs.alfworld.demonstrations",
    "ExpertStep": "hiper_envs.alfworld.demonstrations",
    "GamePool": "hiper_envs.alfworld.pool",
    "expert_demonstrations": "hiper_envs.alfworld.demonstrations",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
