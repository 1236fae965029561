"""Policy families behind one interface (`Policy`): the LLM policy and the fast candidate-scoring policy.

`make_policy(name, ...)` builds a family by its registry name; `load_policy(folder)` gives back any policy a
trainer saved (its folder records the family in ``policy.json``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hiper_agent.policies.base import Policy
from hiper_agent.types import HEADS, ActionEvaluation, Decision

__all__ = [
    "HEADS",
    "Decision",
    "ActionEvaluation",
    "Policy",
    "load_policy",
    "make_policy",
    "policy_names",
    "register_policy",
]

#: Registry name -> "module:attribute" of a factory ``(**kwargs) -> Policy`` (imported lazily: torch/transformers).
_REGISTRY: dict[str, str] = {}
#: Registry name -> loader ``(folder) -> Policy``, "module:attribute".
_LOADERS: dict[str, str] = {}
POLICY_FILE = "policy.json"


def register_policy(name: str, factory: str, loader: str) -> None:
    """Register a family: ``factory`` and ``loader`` are ``"module:attribute"`` strings, imported on first use."""
    if name in _REGISTRY:
        raise ValueError(f"policy family {name!r} is already registered")
    _REGISTRY[name], _LOADERS[name] = factory, loader


def policy_names() -> tuple[str, ...]:
    """Registered family names."""
    return tuple(_REGISTRY)


def _resolve(target: str) -> Callable[..., Any]:
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def make_policy(name: str, **kwargs: Any) -> Policy:
    """Build the family registered as ``name`` (see `policy_names`)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown policy family {name!r}; known: {', '.join(policy_names())}")
    return _resolve(_REGISTRY[name])(**kwargs)


def load_policy(folder: str | Path, **kwargs: Any) -> Policy:
    """A saved policy, ready to act (evaluation, benchmarks); the family comes from ``folder/policy.json``."""
    folder = Path(folder)
    meta_file = folder / POLICY_FILE
    if not meta_file.is_file():
        raise FileNotFoundError(f"{folder} holds no saved policy ({POLICY_FILE} is missing)")
    family = json.loads(meta_file.read_text())["family"]
    if family not in _LOADERS:
        raise ValueError(f"{folder} holds a {family!r} policy, which is not registered; known: {policy_names()}")
    return _resolve(_LOADERS[family])(folder, **kwargs)


register_policy("llm", "hiper_agent.policies.llm:make_llm_policy", "hiper_agent.policies.llm:load_llm_policy")
register_policy("scorer", "hiper_agent.policies.scorer:make_scorer_policy", "hiper_agent.policies.scorer:load_scorer")
register_policy(
    "flat-scorer", "hiper_agent.policies.scorer:make_flat_scorer_policy", "hiper_agent.policies.scorer:load_scorer"
)
