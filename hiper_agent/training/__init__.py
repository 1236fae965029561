"""PPO training, one loop for every policy family: config, trainer, loss, checkpoints, metrics, several processes.

- ``ppo_config.py`` (+ ``config_parts.py``, ``ppo_presets.py``): `HiPERConfig`, its components and the presets;
- ``ppo_trainer.py``: `HiPERTrainer` / `train`, the loop (rollout -> values -> advantages -> update -> log);
- ``ppo_loss.py``: the clipped policy loss, value loss and KL estimators;
- ``distributed.py``: several processes under ``accelerate launch``;
- ``checkpoint.py``, ``metrics.py``, ``plotting.py``: what a run leaves on disk.

Imported lazily, so that reading a config does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PRESETS", "HiPERConfig", "HiPERTrainer", "train"]

_LAZY = {
    "HiPERConfig": "hiper_agent.training.ppo_config",
    "PRESETS": "hiper_agent.training.ppo_config",
    "HiPERTrainer": "hiper_agent.training.ppo_trainer",
    "train": "hiper_agent.training.ppo_trainer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hiper_agent.training' has no attribute {name!r}")
