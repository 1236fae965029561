"""Advantage estimators selected by name (the pattern of verl's `ADV_ESTIMATOR_REGISTRY`)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

__all__ = ["AdvantageEstimator", "get_advantage_fn", "list_advantages", "register_advantage"]


class AdvantageEstimator(str, Enum):
    """Names of the built-in estimators (an Enum to avoid spelling errors in configs)."""

    HAE = "hae"
    """Hierarchical advantage estimation (HiPER): low, high and switch advantages."""
    GAE = "gae"
    """Turn-level GAE with one critic (PPO)."""
    GRPO = "grpo"
    """Group-normalized episode return."""
    RLOO = "rloo"
    """Leave-one-out group baseline."""
    GIGPO = "gigpo"
    """GRPO plus step-level groups over identical anchor observations."""


# An estimator takes (trajectories, config) and returns one `Advantages` per trajectory (see credit.api).
AdvantageFn = Callable[..., Any]

_REGISTRY: dict[str, AdvantageFn] = {}


def _key(name: str | AdvantageEstimator) -> str:
    return name.value if isinstance(name, AdvantageEstimator) else str(name)


def register_advantage(name: str | AdvantageEstimator) -> Callable[[AdvantageFn], AdvantageFn]:
    """Decorator that registers an estimator under `name` (case-sensitive).

    Raises:
        ValueError: `name` is already taken by a different function (re-registering the same one is allowed,
            so that reloading a module does not fail).
    """
    key = _key(name)

    def decorator(fn: AdvantageFn) -> AdvantageFn:
        existing = _REGISTRY.get(key)
        if existing is not None and existing is not fn:
            raise ValueError(f"advantage estimator {key!r} is already registered to {existing.__qualname__}")
        _REGISTRY[key] = fn
        return fn

    return decorator


def get_advantage_fn(name: str | AdvantageEstimator) -> AdvantageFn:
    """Returns the estimator registered under `name`.

    Raises:
        ValueError: Unknown name; the message lists the registered ones.
    """
    key = _key(name)
    if key not in _REGISTRY:
        raise ValueError(f"unknown advantage estimator {key!r}; registered: {', '.join(list_advantages())}")
    return _REGISTRY[key]


def list_advantages() -> list[str]:
    """Names of the registered estimators, sorted."""
    return sorted(_REGISTRY)
