"""Trainer-facing API: every estimator behind one call over a list of trajectories.

    advs = compute_advantages("hae", trajectories, AdvantageConfig(lam_high=0.95))
    tokens = build_token_advantages(a.adv_low[t], a.adv_high[t], a.adv_switch_at(t), a.segment_start[t],
                                    spans, response_length, hierarchical=a.hierarchical)

`compute_advantages` shapes the rewards (config.shaping), runs the estimator registered under the name and
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

from hiper_agent.credit.flat import gae_batch, gigpo, grpo, rloo
from hiper_agent.credit.hae import hae_batch, segment_starts
from hiper_agent.credit.masks import build_token_advantages
from hiper_agent.credit.registry import AdvantageEstimator, get_advantage_fn, register_advantage
from hiper_agent.credit.shaping import (
    ShapingConfig,
    keep_consistency_violations,
    shape_rewards,
    subgoal_bonus_turns,
)
from hiper_agent.credit.types import ArrayLike, to_numpy, whiten

__all__ = ["AdvantageConfig", "Advantages", "TrajectoryArrays", "compute_advantages", "token_advantages"]


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
    lam: float = 0.95
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
        for name in ("gamma", "lam_low", "lam_high", "lam", "gigpo_gamma"):
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
        out.append([
            build_token_advantages(
                adv.adv_low[t], adv.adv_high[t], adv.adv_switch_at(t), bool(adv.segment_start[t]), spans[t],
                traj.response_lengths[t], hierarchical=adv.hierarchical,
            )
            for t in range(len(traj))
        ])  # fmt: skip
    return out


# --- the registered estimators --------------------------------------------------------------------------


@register_advantage(AdvantageEstimator.HAE, value_heads=("low", "high", "switch"), bootstrap_head="switch")
def _hae(trajs: Sequence[TrajectoryArrays], config: AdvantageConfig) -> list[Advantages]:
    with_switch = any(t.values_switch is not None for t in trajs)  # _Padded raises if only some have it
    pad = _Padded(trajs, ["values_low", "values_high"] + (["values_switch"] if with_switch else []))
    res = hae_batch(
        pad.rewards, pad.dones, pad.switches, pad.values["values_low"], pad.values["values_high"], pad.mask,
        gamma=config.gamma, lam_low=config.lam_low, lam_high=config.lam_high,
        values_switch=pad.values.get("values_switch"), bootstrap_truncated=config.bootstrap_truncated,
        last_values=pad.last_values, executor_bonus=pad.executor_bonus,
    )  # fmt: skip
    return [
        Advantages(
            adv_low=res.adv_low[i, :n],
            adv_high=res.adv_high[i, :n],
            adv_switch=None if res.adv_switch is None else res.adv_switch[i, :n],
            ret_low=res.ret_low[i, :n],
            ret_high=res.ret_high[i, :n],
            ret_switch=None if res.ret_switch is None else res.ret_switch[i, :n],
            segment_start=res.segment_start[i, :n],
            rewards=pad.rewards[i, :n],
            hierarchical=True,
        )  # fmt: skip
        for i, n in enumerate(pad.lengths)
    ]


# flat GAE's turn critic is the state value V(s): the planner head, read before any decision
@register_advantage(AdvantageEstimator.GAE, value_heads=("high",), bootstrap_head="high")
def _gae(trajs: Sequence[TrajectoryArrays], config: AdvantageConfig) -> list[Advantages]:
    pad = _Padded(trajs, ["values_low"])
    res = gae_batch(
        pad.rewards, pad.dones, pad.values["values_low"], pad.mask, gamma=config.gamma, lam=config.lam,
        bootstrap_truncated=config.bootstrap_truncated, last_values=pad.last_values,
    )  # fmt: skip
    return [_flat(trajs[i], res.advantages[i, :n], ret_low=res.returns[i, :n]) for i, n in enumerate(pad.lengths)]


@register_advantage(AdvantageEstimator.GRPO, group_based=True)
def _grpo(trajs: Sequence[TrajectoryArrays], config: AdvantageConfig) -> list[Advantages]:
    returns = np.array([to_numpy(t.rewards).sum() for t in trajs])
    adv = grpo(returns, _group_ids(trajs, "grpo"), normalize_std=config.grpo_normalize_std)
    return [_flat(t, np.full(len(t), a)) for t, a in zip(trajs, adv, strict=True)]


@register_advantage(AdvantageEstimator.RLOO, group_based=True)
def _rloo(trajs: Sequence[TrajectoryArrays], config: AdvantageConfig) -> list[Advantages]:
    returns = np.array([to_numpy(t.rewards).sum() for t in trajs])
    adv = rloo(returns, _group_ids(trajs, "rloo"))
    return [_flat(t, np.full(len(t), a)) for t, a in zip(trajs, adv, strict=True)]


@register_advantage(AdvantageEstimator.GIGPO, group_based=True)
def _gigpo(trajs: Sequence[TrajectoryArrays], config: AdvantageConfig) -> list[Advantages]:
    if any(t.anchor_obs is None for t in trajs):
        raise ValueError("gigpo needs TrajectoryArrays.anchor_obs (the raw observation of every turn)")
    rewards = [to_numpy(t.rewards) for t in trajs]
    adv = gigpo(
        np.array([r.sum() for r in rewards]), _group_ids(trajs, "gigpo"), rewards, [t.anchor_obs for t in trajs],
        step_advantage_w=config.gigpo_step_advantage_w, mode=config.gigpo_mode, gamma=config.gigpo_gamma,
    )  # fmt: skip
    return [_flat(t, a) for t, a in zip(trajs, adv, strict=True)]


# --- helpers --------------------------------------------------------------------------------------------


class _Padded:
    """Left-aligned `(B, T_max)` arrays of a list of trajectories, plus the prefix mask."""

    def __init__(self, trajs: Sequence[TrajectoryArrays], value_fields: list[str]) -> None:
        self.lengths = [len(t) for t in trajs]
        B, T = len(trajs), max(self.lengths, default=0)
        self.mask = np.arange(T)[None, :] < np.array(self.lengths)[:, None]
        self.rewards = self._pad([t.rewards for t in trajs], B, T, float)
        self.dones = self._pad([t.dones for t in trajs], B, T, bool)
        self.switches = self._pad([_switches(t) for t in trajs], B, T, bool)
        bonus = [t.executor_bonus for t in trajs]
        self.executor_bonus = None if all(b is None for b in bonus) else self._pad(
            [np.zeros(len(t)) if b is None else b for t, b in zip(trajs, bonus, strict=True)], B, T, float)  # fmt: skip
        self.values = {}
        for name in value_fields:
            missing = [i for i, t in enumerate(trajs) if getattr(t, name) is None]
            if missing:
                raise ValueError(f"trajectories {missing[:5]} have no {name}, which this estimator needs")
            self.values[name] = self._pad([getattr(t, name) for t in trajs], B, T, float)
        self.last_values = None
        if any(t.last_value is not None for t in trajs):
            # a done row never reads its last value; a truncated row without one would silently mix in the
            # estimator's per-level fallback, so ask for all of them instead
            ended = [len(t) > 0 and bool(to_numpy(t.dones, bool)[-1]) for t in trajs]
            lacking = [i for i, t in enumerate(trajs) if t.last_value is None and not ended[i]]
            if lacking:
                raise ValueError(
                    f"truncated trajectories {lacking[:5]} have no last_value while others do; "
                    "give last_value for every truncated trajectory or for none"
                )
            self.last_values = np.array([0.0 if t.last_value is None else float(t.last_value) for t in trajs])

    @staticmethod
    def _pad(arrays: list[ArrayLike], B: int, T: int, dtype: type) -> np.ndarray:
        out = np.zeros((B, T), dtype=dtype)
        for i, a in enumerate(arrays):
            a = to_numpy(a, dtype)
            out[i, : len(a)] = a
        return out


def _switches(traj: TrajectoryArrays) -> np.ndarray:
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
        keep_inconsistent = keep_consistency_violations(_switches(traj), traj.subgoals)
    rewards = to_numpy(
        shape_rewards(
            traj.rewards, shaping, switches=_switches(traj), invalid=traj.invalid, keep_inconsistent=keep_inconsistent
        )
    )
    if not (shaping.subgoal_bonus or shaping.progress_coef):
        return dataclasses.replace(traj, rewards=rewards)
    bonus = np.zeros(len(traj))
    if shaping.subgoal_bonus:
        if traj.subgoal_achieved is None:
            raise ValueError("subgoal_bonus > 0 needs TrajectoryArrays.subgoal_achieved")
        starts = segment_starts(_switches(traj), to_numpy(traj.dones, bool))
        bonus += shaping.subgoal_bonus * subgoal_bonus_turns(starts, traj.subgoal_achieved)
    if shaping.progress_coef:
        if traj.plan_progress is None:
            raise ValueError("progress_coef > 0 needs TrajectoryArrays.plan_progress")
        bonus += shaping.progress_coef * to_numpy(traj.plan_progress, float)
    return dataclasses.replace(traj, rewards=rewards + bonus, executor_bonus=bonus)


def _group_ids(trajs: Sequence[TrajectoryArrays], name: str) -> list[Hashable]:
    if any(t.group_id is None for t in trajs):
        raise ValueError(f"{name} compares trajectories of the same task: set TrajectoryArrays.group_id on each")
    return [t.group_id for t in trajs]


def _flat(traj: TrajectoryArrays, adv: np.ndarray, ret_low: np.ndarray | None = None) -> Advantages:
    return Advantages(
        adv_low=np.asarray(adv, dtype=np.float64), adv_high=np.zeros(len(traj)), adv_switch=None,
        ret_low=ret_low, ret_high=None, ret_switch=None,
        segment_start=segment_starts(_switches(traj), to_numpy(traj.dones, bool)),
        rewards=to_numpy(traj.rewards), hierarchical=False,
    )  # fmt: skip


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
