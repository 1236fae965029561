"""Trainer-facing API: every estimator behind one call over a list of trajectories.

    advs = compute_advantages("hae", trajectories, AdvantageConfig(lam_high=0.95))
    tokens = build_token_advantages(a.adv_low[t], a.adv_high[t], a.adv_switch_at(t), a.segment_start[t],
                                    spans, response_length, hierarchical=a.hierarchical)

`compute_advantages` shapes the rewards (config.shaping), runs the estimator registered under the name
(``estimators.py``) and
optionally whitens each kind of advantage over the batch; it returns one `Advantages` per trajectory with
per-turn arrays. Flat estimators fill `adv_low` with their per-turn advantage and set
`hierarchical=False`, which tells `build_token_advantages` to put it on every token of the turn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hiper_agent.credit.hae import segment_starts
from hiper_agent.credit.masks import build_token_advantages
from hiper_agent.credit.registry import AdvantageEstimator, get_advantage_fn
from hiper_agent.credit.shaping import (
    ShapingConfig,
    keep_consistency_violations,
    shape_rewards,
    subgoal_bonus_turns,
)
from hiper_agent.credit.types import ArrayLike, to_numpy, whiten

__all__ = ["AdvantageConfig", "Advantages", "TrajectoryArrays", "compute_advantages", "switches_of", "token_advantages"]


@dataclass
class TrajectoryArrays:
    """One episode (or the part of it that was rolled out) as the estimators read it: per-turn arrays.

    The agent records episodes as `hiper_agent.types.Trajectory` (turns); its rollout buffer turns each into one of
    these (rewards scaled, values by critic head, masks of the decision units).

    Per-turn arrays have shape `(T,)`, numpy or torch. Which fields an estimator needs:
    hae: values_low, values_high (values_switch optional); gae: values_low (the single turn critic);
    grpo/rloo: group_id; gigpo: group_id, anchor_obs.
    """

    rewards: ArrayLike
    """Environment reward of each turn."""
    dones: ArrayLike
    """MDP termination after the turn; a trajectory that ends without a done is treated as truncated."""
    switches: ArrayLike | None = None
    """SWITCH flags (`switches[0]` counts as True); None means one option for the whole episode."""
    values_low: ArrayLike | None = None
    """Executor critic `V(s_t, o_t)`; for flat GAE the turn critic `V(s_t)`."""
    values_high: ArrayLike | None = None
    """Planner critic `V(s_t)`, read at segment starts."""
    values_switch: ArrayLike | None = None
    """Switch critic `V(s_t, o_{t-1})`; enables `adv_switch`."""
    last_value: float | None = None
    """Critic value of the state after the last turn, for `bootstrap_truncated`."""
    group_id: Hashable | None = None
    """Task group (same task and seed) for grpo, rloo and gigpo."""
    anchor_obs: Sequence[Hashable] | None = None
    """Per-turn raw observation without history, for gigpo's step groups."""
    invalid: ArrayLike | None = None
    """Per-turn invalid-action flags, for the invalid-action penalty."""
    subgoal_achieved: ArrayLike | None = None
    """Per-turn `info["subgoal_status"] == "achieved"` flags, for the subgoal bonus."""
    plan_progress: ArrayLike | None = None
    """Per-turn `L[t] - L[t+1]`, the commands of an optimal plan a turn completed (negative: it undid some), for
    the progress shaping; 0 where the training env has no oracle."""
    executor_bonus: ArrayLike | None = None
    """The part of `rewards` that belongs to the executor alone (HAE's low level); `compute_advantages` sets it
    from the subgoal bonus and the plan progress."""
    subgoals: Sequence[str | None] | None = None
    """Per-turn written subgoal text (None when missing), for the KEEP-consistency penalty."""
    spans: Sequence[Any] | None = None
    """Per-turn token spans of the blocks (see masks.py), used by `token_advantages`."""
    response_lengths: Sequence[int] | None = None
    """Per-turn number of response tokens, used by `token_advantages`."""

    def __len__(self) -> int:
        return len(self.rewards)


@dataclass
class AdvantageConfig:
    """Settings of every estimator; each is read only by the estimators named in its comment."""

    # Shared
    gamma: float = 1.0
    """Discount per turn (reference: 1.0)."""
    bootstrap_truncated: bool = False
    """Bootstrap a trajectory cut by the step limit (reference: True on ALFWorld, False on WebShop)."""
    normalize: bool = False
    """Whiten each kind of advantage over the batch: low over turns, high over segment starts (ref: True)."""
    shaping: ShapingConfig = field(default_factory=ShapingConfig)
    """Reward penalties applied before any estimator (all off by default)."""
    # hae
    lam_low: float = 1.0
    """GAE lambda inside a segment (reference: 1.0)."""
    lam_high: float = 0.95
    """GAE lambda across segments (reference: 0.95)."""
    # gae
    gae_lambda: float = 0.95
    """Turn-level GAE lambda for the flat PPO baseline."""
    # grpo
    grpo_normalize_std: bool = True
    """Divide by the group std (GRPO) or only subtract the mean (Dr. GRPO)."""
    # gigpo
    gigpo_step_advantage_w: float = 1.0
    """Weight of GiGPO's step-level advantage."""
    gigpo_mode: Literal["mean_norm", "mean_std_norm"] = "mean_norm"
    """GiGPO normalization: mean only (default) or mean and std."""
    gigpo_gamma: float = 0.95
    """Discount of GiGPO's step returns (verl-agent scripts: 0.95)."""

    def __post_init__(self) -> None:
        for name in ("gamma", "lam_low", "lam_high", "gae_lambda", "gigpo_gamma"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value} must lie in [0, 1]")
        if self.gigpo_mode not in ("mean_norm", "mean_std_norm"):
            raise ValueError(f"gigpo_mode must be 'mean_norm' or 'mean_std_norm', got {self.gigpo_mode!r}")


@dataclass
class Advantages:
    """Per-turn advantages and critic targets of one trajectory, `(T,)` numpy arrays.

    Attributes:
        adv_low: Executor advantage (hae), or the flat per-turn advantage (gae, grpo, rloo, gigpo).
        adv_high: Planner advantage at segment starts (hae); zeros for flat estimators.
        adv_switch: Switch advantage (hae with values_switch), else None.
        ret_low: Target of the low / turn critic (hae, gae), else None.
        ret_high: Target of the high critic at segment starts (hae), else None.
        ret_switch: Target of the switch critic (hae with values_switch), else None.
        segment_start: True on turns that open a segment.
        rewards: The shaped rewards the estimator saw.
        hierarchical: True for hae: tokens are split by block; False: every token gets `adv_low`.
    """

    adv_low: np.ndarray
    adv_high: np.ndarray
    adv_switch: np.ndarray | None
    ret_low: np.ndarray | None
    ret_high: np.ndarray | None
    ret_switch: np.ndarray | None
    segment_start: np.ndarray
    rewards: np.ndarray
    hierarchical: bool

    def adv_switch_at(self, t: int) -> float | None:
        """The switch advantage of turn t, or None when there is no switch critic."""
        return None if self.adv_switch is None else float(self.adv_switch[t])


def compute_advantages(
    name: str | AdvantageEstimator, trajectories: Sequence[TrajectoryArrays], config: AdvantageConfig | None = None
) -> list[Advantages]:
    """Computes per-turn advantages for a batch of trajectories with the estimator registered as `name`.

    Args:
        name: `"hae"`, `"gae"`, `"grpo"`, `"rloo"`, `"gigpo"` or any name given to `register_advantage`.
        trajectories: The batch; grouped estimators compare trajectories that share `group_id`.
        config: Settings; defaults to `AdvantageConfig()`.

    Returns:
        One `Advantages` per trajectory, in order.
    """
    config = config or AdvantageConfig()
    fn = get_advantage_fn(name)
    shaped = [_shaped(traj, config.shaping) for traj in trajectories]
    out = fn(shaped, config) if shaped else []
    if config.normalize and out:
        _normalize_per_kind(out)
    return out


def token_advantages(
    trajectories: Sequence[TrajectoryArrays], advantages: Sequence[Advantages]
) -> list[list[np.ndarray]]:
    """Per-token advantages of every turn, from `TrajectoryArrays.spans` and `TrajectoryArrays.response_lengths`.

    Returns:
        For each trajectory, one float32 array per turn (see `build_token_advantages`).
    """
    out = []
    for traj, adv in zip(trajectories, advantages, strict=True):
        if traj.response_lengths is None:
            raise ValueError("token_advantages needs TrajectoryArrays.response_lengths")
        spans = traj.spans if traj.spans is not None else [None] * len(traj)
        out.append(
            [
                build_token_advantages(
                    adv.adv_low[t],
                    adv.adv_high[t],
                    adv.adv_switch_at(t),
                    bool(adv.segment_start[t]),
                    spans[t],
                    traj.response_lengths[t],
                    hierarchical=adv.hierarchical,
                )
                for t in range(len(traj))
            ]
        )
    return out


# --- helpers --------------------------------------------------------------------------------------------


def switches_of(traj: TrajectoryArrays) -> np.ndarray:
    """The SWITCH flags of a trajectory, the first turn counted as one (a single option when it has none)."""
    if traj.switches is None:
        return np.arange(len(traj)) == 0
    return to_numpy(traj.switches, bool)


def _shaped(traj: TrajectoryArrays, shaping: ShapingConfig) -> TrajectoryArrays:
    """The trajectory with its rewards shaped; executor rewards (subgoal bonus, plan progress) also go to `executor_bonus`."""
    if not shaping.active:
        return traj
    keep_inconsistent = None
    if shaping.keep_consistency_penalty:
        if traj.subgoals is None:
            raise ValueError("keep_consistency_penalty > 0 needs TrajectoryArrays.subgoals")
        keep_inconsistent = keep_consistency_violations(switches_of(traj), traj.subgoals)
    rewards = to_numpy(
        shape_rewards(
            traj.rewards,
            shaping,
            switches=switches_of(traj),
            invalid=traj.invalid,
            keep_inconsistent=keep_inconsistent,
            achieved=traj.subgoal_achieved,
        )
    )
    if not (shaping.subgoal_bonus or shaping.progress_coef):
        return dataclasses.replace(traj, rewards=rewards)
    bonus = np.zeros(len(traj))
    if shaping.subgoal_bonus:
        if traj.subgoal_achieved is None:
            raise ValueError("subgoal_bonus > 0 needs TrajectoryArrays.subgoal_achieved")
        starts = segment_starts(switches_of(traj), to_numpy(traj.dones, bool))
        bonus += shaping.subgoal_bonus * subgoal_bonus_turns(starts, traj.subgoal_achieved, traj.subgoals)
    if shaping.progress_coef:
        if traj.plan_progress is None:
            raise ValueError("progress_coef > 0 needs TrajectoryArrays.plan_progress")
        bonus += shaping.progress_coef * to_numpy(traj.plan_progress, float)
    return dataclasses.replace(traj, rewards=rewards + bonus, executor_bonus=bonus)


def _normalize_per_kind(out: list[Advantages]) -> None:
    """Whitens adv_low over all turns, adv_high over segment starts, adv_switch over all turns, in place."""
    lengths = np.cumsum([0] + [len(a.adv_low) for a in out])
    kinds = [("adv_low", None), ("adv_high", "segment_start"), ("adv_switch", None)]
    for kind, mask_name in kinds:
        if getattr(out[0], kind) is None or (kind == "adv_high" and not out[0].hierarchical):
            continue
        flat = np.concatenate([getattr(a, kind) for a in out])
        mask = None if mask_name is None else np.concatenate([getattr(a, mask_name) for a in out])
        flat = whiten(flat, mask)
        for i, a in enumerate(out):
            setattr(a, kind, flat[lengths[i] : lengths[i + 1]])
