"""The candidate-scoring policy family: a fast hierarchical policy (`ScorerPolicy`) and its flat baseline."""

from __future__ import annotations

from hiper_agent.policies.scorer.config import ScorerConfig
from hiper_agent.policies.scorer.policy import FlatScorerPolicy, ScorerPolicy, load_scorer

__all__ = ["FlatScorerPolicy", "ScorerConfig", "ScorerPolicy", "load_scorer"]
