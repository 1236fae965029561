"""HiPER agent: LLM planner/executor policies, HAE credit assignment, PPO training and evaluation.

The main entry points (imported lazily, so ``import hiper_agent`` does not load torch):

- :class:`HiPERConfig` and :func:`train` / :class:`HiPERTrainer`: the PPO trainer (``python examples/train_hiper.py``);
- :class:`Policy`, :func:`make_policy`, :func:`load_policy`: the policy families (LLM, candidate scorer);
- :func:`load_model`, :class:`HFGenerator`: models and batched (optionally constrained) generation;
- :func:`evaluate`, :class:`EvalPanel`: evaluation on fixed panels;
- :mod:`hiper_agent.credit`: HAE and the flat baselines.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "EvalPanel",
    "HFGenerator",
    "HiPERConfig",
    "HiPERTrainer",
    "Policy",
    "PromptBuilder",
    "evaluate",
    "load_model",
    "load_policy",
    "make_policy",
    "train",
]

_LAZY = {
    "HiPERConfig": "hiper_agent.training.ppo_config",
    "HiPERTrainer": "hiper_agent.training.ppo_trainer",
    "train": "hiper_agent.training.ppo_trainer",
    "load_model": "hiper_agent.models",
    "HFGenerator": "hiper_agent.generation",
    "PromptBuilder": "hiper_agent.policies.prompts",
    "evaluate": "hiper_agent.evaluation.panel_eval",
    "EvalPanel": "hiper_agent.evaluation.panels",
    "Policy": "hiper_agent.policies",
    "make_policy": "hiper_agent.policies",
    "load_policy": "hiper_agent.policies",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hiper_agent' has no attribute {name!r}")
