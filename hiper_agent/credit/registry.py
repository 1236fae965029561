"""Advantage estimators selected by name (the pattern of verl's `ADV_ESTIMATOR_REGISTRY`), with their facts.

Each estimator is registered with what its callers need to know about it, declared once here and read everywhere
else: which critic heads it reads and trains (and so whether it needs a critic at all), which head bootstraps a
truncated episode, and whether its baseline comes from a group of episodes sharing one task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

__all__ = [
    "AdvantageEstimator",
    "AdvantageEstimatorName",
    "EstimatorSpec",
    "get_advantage_fn",
    "get_estimator",
    "list_advantages",
    "register_advantage",
]


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


#: The built-in estimators' names as a type (`AdvantageEstimator`'s values; a test keeps the two equal).
AdvantageEstimatorName = Literal["hae", "gae", "grpo", "rloo", "gigpo"]

# An estimator takes (trajectories, config) and returns one `Advantages` per trajectory (see credit.api).
AdvantageFn = Callable[..., Any]

#: The critic heads an estimator may read, by the names of their values: the executor's `V(s, o)` (`low`), the
#: planner's `V(s)` (`high`) and the switch critic's `V(s, o_prev)` (`switch`).
HEAD_NAMES: tuple[str, ...] = ("low", "high", "switch")


@dataclass(frozen=True)
class EstimatorSpec:
    """A registered estimator and the facts about it that the trainer, the buffer and the policies read."""

    name: str
    """The registry name."""
    fn: AdvantageFn
    """``fn(trajectories, config) -> list[Advantages]``."""
    value_heads: tuple[str, ...] = ()
    """Critic heads whose values it reads and whose returns it gives, the turn-level one first (its
    `values_low`); empty for a critic-free estimator."""
    bootstrap_head: str | None = None
    """The head read at the state after a truncated episode's last turn (its `last_value`)."""
    group_based: bool = False
    """Its baseline comes from the other episodes of a group sharing one task (so groups need >= 2 episodes)."""

    @property
    def needs_critic(self) -> bool:
        """Whether it reads critic values at all."""
        return bool(self.value_heads)


_REGISTRY: dict[str, EstimatorSpec] = {}


def _key(name: str | AdvantageEstimator) -> str:
    return name.value if isinstance(name, AdvantageEstimator) else str(name)


def register_advantage(
    name: str | AdvantageEstimator,
    *,
    value_heads: tuple[str, ...] = (),
    bootstrap_head: str | None = None,
    group_based: bool = False,
) -> Callable[[AdvantageFn], AdvantageFn]:
    """Decorator that registers an estimator under `name` (case-sensitive), with its facts (see `EstimatorSpec`).

    Raises:
        ValueError: `name` is already taken by a different function (re-registering the same one is allowed,
            so that reloading a module does not fail), or a head is not one of `HEAD_NAMES`.
    """
    key = _key(name)
    unknown = [h for h in (*value_heads, *([bootstrap_head] if bootstrap_head else [])) if h not in HEAD_NAMES]
    if unknown:
        raise ValueError(f"estimator {key!r}: unknown critic head(s) {unknown}; choose from {HEAD_NAMES}")

    def decorator(fn: AdvantageFn) -> AdvantageFn:
        existing = _REGISTRY.get(key)
        if existing is not None and existing.fn is not fn:
            raise ValueError(f"advantage estimator {key!r} is already registered to {existing.fn.__qualname__}")
        _REGISTRY[key] = EstimatorSpec(key, fn, tuple(value_heads), bootstrap_head, group_based)
        return fn

    return decorator


def get_estimator(name: str | AdvantageEstimator) -> EstimatorSpec:
    """The estimator registered under `name`, with its facts.

    Raises:
        ValueError: Unknown name; the message lists the registered ones.
    """
    key = _key(name)
    if key not in _REGISTRY:
        raise ValueError(f"unknown advantage estimator {key!r}; registered: {', '.join(list_advantages())}")
    return _REGISTRY[key]


def get_advantage_fn(name: str | AdvantageEstimator) -> AdvantageFn:
    """Returns the estimator function registered under `name` (``get_estimator(name).fn``).

    Raises:
        ValueError: Unknown name; the message lists the registered ones.
    """
    return get_estimator(name).fn


def list_advantages() -> list[str]:
    """Names of the registered estimators, sorted."""
    return sorted(_REGISTRY)
