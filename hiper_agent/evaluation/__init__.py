"""Held-out evaluation: fixed panels of episodes (``panels.py``) and playing a policy on them (``panel_eval.py``).

Imported lazily: `EvalPanel` and `wilson_interval` need nothing heavy, playing a panel needs torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["EvalPanel", "EvalResult", "evaluate", "evaluate_panels", "wilson_interval"]

_LAZY = {
    "EvalPanel": "hiper_agent.evaluation.panels",
    "wilson_interval": "hiper_agent.evaluation.panels",
    "EvalResult": "hiper_agent.evaluation.panel_eval",
    "evaluate": "hiper_agent.evaluation.panel_eval",
    "evaluate_panels": "hiper_agent.evaluation.panel_eval",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hiper_agent.evaluation' has no attribute {name!r}")
