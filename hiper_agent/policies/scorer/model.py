"""`ScorerNet`: the scorer's modules (text encoders, state encoders, switch head, candidate scorers, critic).

The actor and the critic have separate encoders, so the two optimizer groups (``policy``, ``critic``) share no
parameter and the value loss never pulls on the policy's features (SB3's ``share_features_extractor=False``).
"""

from __future__ import annotations

import torch
from torch import nn

from hiper_agent.policies.scorer.config import ScorerConfig
from hiper_agent.policies.scorer.features import feature_names
from hiper_agent.policies.scorer.memory import HistoryAttention
from hiper_agent.policies.scorer.text import TextEncoder

__all__ = ["ACTION_PRIOR", "NUM_SCALARS", "SUBGOAL_PRIOR", "CandidateScorer", "ScorerNet"]

#: Initial weight of overlap features in an action's score (learned from there; unnamed features start at 0):
#: follow the subgoal, name the task's objects, go where a task object was seen, do not repeat yourself.
ACTION_PRIOR: dict[str, float] = {
    "task_content": 2.0, "task_any": 1.0, "subgoal_content": 1.0, "subgoal_entities": 1.0, "is_subgoal": 4.0,
    "completes_subgoal": 4.0,  # a task-level subgoal ("take mug") is done by the command naming all its words
    "rivals_subgoal": -2.0,  # ... and not by its verb elsewhere ("put mug 1 in/on fridge": not "move mug 1 to shelf 1")
    "times_done": -2.0, "is_last_action": -2.0, "sighted": 2.0, "visited": -1.0,
    # memory features (only with ScorerConfig.memory on): go where the task's / subgoal's object was seen
    "mem_task": 1.0, "mem_subgoal": 1.0,
}  # fmt: skip
#: The same for subgoals, which also must not re-pick the subgoal in force or the whole task sentence (a
#: subgoal naming the task is where every task word matches, so without this the planner starts stuck on it).
SUBGOAL_PRIOR: dict[str, float] = {**ACTION_PRIOR, "is_subgoal": -2.0, "subgoal_content": 0.0, "completes_subgoal": 0.0,
                                   "rivals_subgoal": 0.0, "subgoal_entities": 0.0, "is_task": -3.0, "mem_subgoal": 0.0}  # fmt: skip

#: State scalars: episode progress, option age, subgoal achieved, subgoal pending, an option is open.
NUM_SCALARS = 5


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.Tanh(), nn.Linear(hidden, out_dim))


class CandidateScorer(nn.Module):
    """Scores a variable number of candidates per row against the row's context, in one flat batch.

    A candidate's score is an MLP over ``[context, candidate, projected context * candidate, features]``: the
    product lets the context select candidate directions, the features carry the exact overlaps. With ``slots``
    the candidate's memory (the embedding of what its objects last showed, `memory.EpisodeMemory`) is projected
    and added to the candidate's own embedding: "go to shelf 1" then reads like "shelf 1, where a mug is". Adding
    rather than concatenating keeps the MLP as wide as without memory (it runs over every candidate of a batch,
    most of the scorer's cost).
    """

    def __init__(
        self, context_dim: int, embed_dim: int, hidden: int, prior: dict[str, float], *, slots: bool = False
    ) -> None:
        super().__init__()
        names = feature_names(slots)
        self.query = nn.Linear(context_dim, embed_dim)
        self.slot = nn.Linear(embed_dim, embed_dim, bias=False) if slots else None
        self.mlp = _mlp(context_dim + 2 * embed_dim + len(names), hidden, 1)
        # A linear term over the overlap features, started at a sensible prior: from scratch, uniform choices
        # over ~30 commands almost never finish an ALFWorld task in 50 steps, so RL would see no reward at all.
        self.prior = nn.Linear(len(names), 1, bias=False)
        with torch.no_grad():
            self.prior.weight.copy_(torch.tensor([prior.get(name, 0.0) for name in names]).unsqueeze(0))

    def forward(
        self,
        context: torch.Tensor,
        owner: torch.Tensor,
        cand: torch.Tensor,
        feats: torch.Tensor,
        slot: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scores ``(M,)`` of ``M`` candidates; ``owner[m]`` is the context row candidate ``m`` belongs to."""
        ctx = context[owner]
        if self.slot is not None:
            if slot is None:
                raise ValueError("this scorer reads the candidates' memory slots: pass slot=")
            cand = cand + self.slot(slot)
        score = self.mlp(torch.cat([ctx, cand, self.query(ctx) * cand, feats], dim=-1)) + self.prior(feats)
        return score.squeeze(-1)


class StateEncoder(nn.Module):
    """State vector from the task, the observation, the previous observation, recent commands and scalars.

    With ``history_attention`` it also reads every past (command, observation) pair through a `HistoryAttention`
    head whose query is the task and the current observation.
    """

    def __init__(self, embed_dim: int, hidden: int, *, history_attention: bool = False) -> None:
        super().__init__()
        self.history = HistoryAttention(2 * embed_dim, embed_dim) if history_attention else None
        width = (5 if history_attention else 4) * embed_dim + NUM_SCALARS
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.Tanh())

    def forward(self, task, obs, prev_obs, recent, scalars, pairs=None, pair_mask=None) -> torch.Tensor:  # noqa: D102
        parts = [task, obs, prev_obs, recent, scalars]
        if self.history is not None:
            parts.append(self.history(torch.cat([task, obs], dim=-1), pairs, pair_mask))
        return self.mlp(torch.cat(parts, dim=-1))


class ScorerNet(nn.Module):
    """Every parameter of one scorer policy; ``hierarchical=False`` drops the planner (flat variant)."""

    def __init__(self, config: ScorerConfig, hierarchical: bool) -> None:
        super().__init__()
        d, h = config.embed_dim, config.hidden_dim
        self.hierarchical = hierarchical
        # Actor
        slots, attention = config.slots, config.history_attention
        self.encoder = TextEncoder(config.num_buckets, d)
        self.state = StateEncoder(d, h, history_attention=attention)
        if hierarchical:
            self.switch_head = _mlp(h + d, h, 2)
            # Switch prior on the subgoal status scalars: SWITCH once the subgoal is achieved, KEEP while pending.
            self.switch_prior = nn.Linear(NUM_SCALARS, 2, bias=False)
            with torch.no_grad():
                self.switch_prior.weight.zero_()
                if config.feature_priors:
                    self.switch_prior.weight[:, 2] = torch.tensor([-1.5, 1.5])
                    self.switch_prior.weight[:, 3] = torch.tensor([1.0, -1.0])
        subgoal_prior, action_prior = (SUBGOAL_PRIOR, ACTION_PRIOR) if config.feature_priors else ({}, {})
        if hierarchical:
            self.subgoal_scorer = CandidateScorer(h + d, d, h, subgoal_prior, slots=slots)
        self.action_scorer = CandidateScorer(h + d if hierarchical else h, d, h, action_prior, slots=slots)
        # Critic
        self.critic_encoder = TextEncoder(config.num_buckets, d)
        self.critic_state = StateEncoder(d, h, history_attention=attention)
        self.value_high = _mlp(h, h, 1)
        if hierarchical:
            self.value_low = _mlp(h + d, h, 1)
            self.value_switch = _mlp(h + d, h, 1)

    def actor_parameters(self) -> list[nn.Parameter]:
        """Parameters of the policy (encoder, state, heads)."""
        critic = {id(p) for p in self.critic_parameters()}
        return [p for p in self.parameters() if id(p) not in critic]

    def critic_parameters(self) -> list[nn.Parameter]:
        """Parameters of the value heads and their encoders."""
        names = ("critic_encoder", "critic_state", "value_low", "value_high", "value_switch")
        return [p for name in names if hasattr(self, name) for p in getattr(self, name).parameters()]

    def values(self, state: torch.Tensor, subgoal: torch.Tensor, prev_subgoal: torch.Tensor) -> torch.Tensor:
        """``(N, 3)`` critic values in `HEADS` order: ``V(s, o)``, ``V(s)``, ``V(s, o_prev)``."""
        if not self.hierarchical:
            v = self.value_high(state)
            return v.expand(-1, 3)
        low = self.value_low(torch.cat([state, subgoal], dim=-1))
        switch = self.value_switch(torch.cat([state, prev_subgoal], dim=-1))
        return torch.cat([low, self.value_high(state), switch], dim=-1)
