"""The built-in estimators behind `compute_advantages`, registered with their facts (see ``registry.py``).

Each adapts a batch of `TrajectoryArrays` to its pure function (``hae.py``, ``flat.py``) and returns one
`Advantages` per trajectory. Imported by the package, so the names are registered once ``hiper_agent.credit``
is imported.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from hiper_agent.credit.api import AdvantageConfig, Advantages, TrajectoryArrays, switches_of
from hiper_agent.credit.flat import gae_batch, gigpo, grpo, rloo
from hiper_agent.credit.hae import hae_batch, segment_starts
from hiper_agent.credit.registry import AdvantageEstimator, register_advantage
from hiper_agent.credit.types import ArrayLike, to_numpy

__all__: list[str] = []  # nothing to import: the estimators are reached by name through the registry


@register_advantage(AdvantageEstimator.HAE, value_heads=("low", "high", "switch"), bootstrap_head="switch")
def _hae(trajs: Sequence[TrajectoryArrays], config: AdvantageConfig) -> list[Advantages]:
    with_switch = any(t.values_switch is not None for t in trajs)  # _Padded raises if only some have it
    pad = _Padded(trajs, ["values_low", "values_high"] + (["values_switch"] if with_switch else []))
    res = hae_batch(
        pad.rewards,
        pad.dones,
        pad.switches,
        pad.values["values_low"],
        pad.values["values_high"],
        pad.mask,
        gamma=config.gamma,
        lam_low=config.lam_low,
        lam_high=config.lam_high,
        values_switch=pad.values.get("values_switch"),
        bootstrap_truncated=config.bootstrap_truncated,
        last_values=pad.last_values,
        executor_bonus=pad.executor_bonus,
    )
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
        )
        for i, n in enumerate(pad.lengths)
    ]


# flat GAE's turn critic is the state value V(s): the planner head, read before any decision
@register_advantage(AdvantageEstimator.GAE, value_heads=("high",), bootstrap_head="high")
def _gae(trajs: Sequence[TrajectoryArrays], config: AdvantageConfig) -> list[Advantages]:
    pad = _Padded(trajs, ["values_low"])
    res = gae_batch(
        pad.rewards,
        pad.dones,
        pad.values["values_low"],
        pad.mask,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        bootstrap_truncated=config.bootstrap_truncated,
        last_values=pad.last_values,
    )
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
        np.array([r.sum() for r in rewards]),
        _group_ids(trajs, "gigpo"),
        rewards,
        [t.anchor_obs for t in trajs],
        step_advantage_w=config.gigpo_step_advantage_w,
        mode=config.gigpo_mode,
        gamma=config.gigpo_gamma,
    )
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
        self.switches = self._pad([switches_of(t) for t in trajs], B, T, bool)
        bonus = [t.executor_bonus for t in trajs]
        self.executor_bonus = (
            None
            if all(b is None for b in bonus)
            else self._pad(
                [np.zeros(len(t)) if b is None else b for t, b in zip(trajs, bonus, strict=True)], B, T, float
            )
        )
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


def _group_ids(trajs: Sequence[TrajectoryArrays], name: str) -> list[Hashable]:
    if any(t.group_id is None for t in trajs):
        raise ValueError(f"{name} compares trajectories of the same task: set TrajectoryArrays.group_id on each")
    return [t.group_id for t in trajs]


def _flat(traj: TrajectoryArrays, adv: np.ndarray, ret_low: np.ndarray | None = None) -> Advantages:
    return Advantages(
        adv_low=np.asarray(adv, dtype=np.float64),
        adv_high=np.zeros(len(traj)),
        adv_switch=None,
        ret_low=ret_low,
        ret_high=None,
        ret_switch=None,
        segment_start=segment_starts(switches_of(traj), to_numpy(traj.dones, bool)),
        rewards=to_numpy(traj.rewards),
        hierarchical=False,
    )
