"""Credit assignment for hierarchical LLM agents: HAE (HiPER) and flat baselines. Docs: docs/credit.md.

Trainer-facing API (stable):

    from hiper_agent.credit import AdvantageConfig, TrajectoryArrays, build_token_advantages, compute_advantages

    trajs = [TrajectoryArrays(rewards=r, dones=d, switches=q, values_low=vl, values_high=vh, values_switch=vs,
                        group_id=task_id, anchor_obs=obs_texts) for ...]
    advs = compute_advantages("hae", trajs, AdvantageConfig(gamma=1.0, lam_low=1.0, lam_high=0.95))
    # per turn t of trajectory i, with its block spans and response length:
    a = advs[i]
    token_adv = build_token_advantages(a.adv_low[t], a.adv_high[t], a.adv_switch_at(t), a.segment_start[t],
                                       spans, response_length, hierarchical=a.hierarchical)
    # critic targets: a.ret_low (every turn), a.ret_high (where a.segment_start), a.ret_switch

- `compute_advantages(name, trajectories, config=None) -> list[Advantages]` for name in `hae`, `gae`,
  `grpo`, `rloo`, `gigpo` (or any name given to `register_advantage`).
- `build_token_advantages(adv_low, adv_high, adv_switch, is_segment_start, spans, response_length, *,
  offsets=None, hierarchical=True, fallback_action_to_full_response=True) -> np.ndarray` (float32).
- `token_advantages(trajectories, advantages)` does the second step for whole trajectories from
  `TrajectoryArrays.spans` and `TrajectoryArrays.response_lengths`.

The estimators themselves are pure functions on numpy arrays or torch tensors (the result is of the input's
kind; torch is imported only when a tensor is passed): `hae`, `hae_batch`, `gae`, `gae_batch`, `grpo`, `rloo`,
`gigpo`, and the reward shaping in `shape_rewards`.
"""

from __future__ import annotations

import warnings
from typing import Any

from hiper_agent.credit import estimators as _estimators  # noqa: F401  (registers the built-in estimators)
from hiper_agent.credit.api import AdvantageConfig, Advantages, TrajectoryArrays, compute_advantages, token_advantages
from hiper_agent.credit.flat import gae, gae_batch, gigpo, grpo, rloo
from hiper_agent.credit.hae import hae, hae_batch, segment_starts
from hiper_agent.credit.masks import (
    TokenMasks,
    build_token_advantages,
    char_spans_to_token_masks,
    token_spans_to_masks,
)
from hiper_agent.credit.registry import (
    AdvantageEstimator,
    EstimatorSpec,
    get_advantage_fn,
    get_estimator,
    list_advantages,
    register_advantage,
)
from hiper_agent.credit.shaping import (
    ShapingConfig,
    keep_consistency_violations,
    shape_rewards,
    subgoal_bonus_turns,
)
from hiper_agent.credit.types import GAEResult, HAEResult, whiten

__all__ = [
    "AdvantageConfig",
    "AdvantageEstimator",
    "Advantages",
    "EstimatorSpec",
    "GAEResult",
    "HAEResult",
    "ShapingConfig",
    "TokenMasks",
    "TrajectoryArrays",
    "build_token_advantages",
    "char_spans_to_token_masks",
    "compute_advantages",
    "gae",
    "gae_batch",
    "get_advantage_fn",
    "get_estimator",
    "gigpo",
    "grpo",
    "hae",
    "hae_batch",
    "keep_consistency_violations",
    "list_advantages",
    "register_advantage",
    "rloo",
    "segment_starts",
    "shape_rewards",
    "subgoal_bonus_turns",
    "token_advantages",
    "token_spans_to_masks",
    "whiten",
]


def __getattr__(name: str) -> Any:
    if name == "Trajectory":  # the agent's episode record is `hiper_agent.types.Trajectory`: one name, one class
        warnings.warn("hiper_agent.credit.Trajectory is renamed TrajectoryArrays", FutureWarning, stacklevel=2)
        return TrajectoryArrays
    raise AttributeError(f"module 'hiper_agent.credit' has no attribute {name!r}")
