"""The candidate-scoring policy family: a fast hierarchical policy (`ScorerPolicy`) and its flat baseline."""

from __future__ import annotations

from hiper_agent.policies.scorer.config import ScorerConfig
from hiper_agent.policies.scorer.policy import (
    FlatScorerPolicy,
    ScorerPolicy,
    load_scorer,
    make_flat_scorer_policy,
    make_scorer_policy,
)

__all__ = [
    "FlatScorerPolicy",
    "ScorerConfig",
    "ScorerPolicy",
    "load_scorer",
    "make_flat_scorer_policy",
    "make_scorer_policy",
]
