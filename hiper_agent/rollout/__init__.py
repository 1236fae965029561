"""From envs to a batch of experience: play episodes (`collect_rollouts`), store them, compute their advantages.

- ``collect.py``: one episode in each env of a pool, with batched policy calls (training and evaluation alike);
- ``buffer.py``: `RolloutBuffer`, an iteration's episodes -> advantages (``hiper_agent.credit``) -> minibatches;
- ``expert.py``: the env's own expert played for demonstrations (the warm start's data).

Imported lazily (the rollout needs torch).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["RolloutBuffer", "RolloutStats", "collect_rollouts", "expert_episodes", "group_resets", "rollout_metrics"]

_LAZY = {
    "RolloutBuffer": "hiper_agent.rollout.buffer",
    "RolloutStats": "hiper_agent.rollout.collect",
    "collect_rollouts": "hiper_agent.rollout.collect",
    "group_resets": "hiper_agent.rollout.collect",
    "rollout_metrics": "hiper_agent.rollout.collect",
    "expert_episodes": "hiper_agent.rollout.expert",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hiper_agent.rollout' has no attribute {name!r}")
