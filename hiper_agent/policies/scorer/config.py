"""`ScorerConfig`: the sizes and feature settings of the candidate-scoring policy family."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hiper_agent.errors import check_known_fields
from hiper_agent.policies.scorer.memory import MEMORY_MODES

__all__ = ["ScorerConfig"]


@dataclass
class ScorerConfig:
    """Sizes of the scorer's text encoder, heads and critic, and how much history it reads."""

    # Text encoder
    num_buckets: int = 8192
    """Hash buckets of the token (and bigram) embeddings; unseen words share buckets instead of failing."""
    embed_dim: int = 64
    """Width of the token embeddings and of every pooled text vector."""
    bigrams: bool = True
    """Also embed hashed word bigrams ("cabinet 1", "take apple"), so numbered objects are told apart."""

    # Heads
    hidden_dim: int = 128
    """Width of the state encoder and of each scoring / value MLP."""
    history_length: int = 4
    """Recent actions (and the previous observation) the state encoder reads."""

    # Memory of the episode (policies/scorer/memory.py)
    memory: str = "off"
    """What the policy remembers of the episode beyond ``history_length``:

    - off: nothing (the counters ``times_done``, ``visited``, ``sighted`` only; the scorer before issue 21).
    - slots: what was seen where: each object a command named keeps the observation it produced; candidates read
      their objects' slots as overlap features and as learned embeddings.
    - episode: slots, plus an attention-pooled summary of every past (command, observation) in the state.
    """

    # Initialization
    feature_priors: bool = True
    """Start the overlap features' linear terms and the switch prior at hand-set weights (`model.ACTION_PRIOR`,
    `model.SUBGOAL_PRIOR`); False starts them at 0, so the untrained policy is the random MLPs alone (an ablation)."""
    seed: int = 0
    """Seed of the parameter initialization (acting draws from the rollout's generator instead)."""

    def __post_init__(self) -> None:
        for name in ("num_buckets", "embed_dim", "hidden_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.history_length < 0:
            raise ValueError(f"history_length={self.history_length} must be >= 0")
        if self.memory not in MEMORY_MODES:
            raise ValueError(f"memory={self.memory!r} must be one of {', '.join(MEMORY_MODES)}")

    @property
    def slots(self) -> bool:
        """Whether the candidates read the entity slots (memory ``slots`` or ``episode``)."""
        return self.memory != "off"

    @property
    def history_attention(self) -> bool:
        """Whether the state reads the attention summary of the whole episode (memory ``episode``)."""
        return self.memory == "episode"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``policy.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScorerConfig:
        """Inverse of `to_dict`; unknown keys are an error that names them."""
        check_known_fields(cls, data, "ScorerConfig field")
        return cls(**data)
