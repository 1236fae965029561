"""The rollout buffer: valued turns -> advantages (one `compute_advantages` call) -> minibatches.

Modelled on SB3's ``RolloutBuffer``: it holds one iteration's episodes with their critic values, computes the
advantages and returns, and yields shuffled minibatches for the PPO epochs. It is family-agnostic: a turn's
decision is a `Decision` (``hiper_agent.types``) whose units carry the log-probs the loss needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hiper_agent import credit
from hiper_agent.types import HEADS, Minibatch, Trajectory

if TYPE_CHECKING:
    from hiper_agent.policies.base import Policy

__all__ = ["RolloutBuffer"]


class RolloutBuffer:
    """One iteration's episodes, their values, advantages and returns, served as shuffled minibatches.

    Usage, in the order the math runs::

        policy.compute_values(turns)            # critic values at the decision points (Turn.values)
        buffer = RolloutBuffer(trajectories, estimator="hae", config=advantage_config, reward_scale=10.0)
        buffer.compute_advantages()             # one credit.compute_advantages call for the whole batch
        for mb in buffer.minibatches(64, rng):  # per PPO epoch
            ...

    Which critic heads an estimator reads is declared with it in the credit registry (`credit.get_estimator`):
    flat GAE's `V(s)` is the planner head (`high`), read before any decision; HAE reads all three (low inside
    segments, high at segment starts, switch before each decision); GRPO, RLOO and GiGPO read none.
    """

    def __init__(
        self,
        trajectories: Sequence[Trajectory],
        *,
        estimator: str,
        config: credit.AdvantageConfig,
        reward_scale: float = 1.0,
    ) -> None:
        self.trajectories = list(trajectories)
        self.turns = [turn for traj in self.trajectories for turn in traj.turns]
        self.estimator, self.config, self.reward_scale = estimator, config, reward_scale
        self.spec = credit.get_estimator(estimator)
        self.advantages: list[credit.Advantages] | None = None
        self.ref_logprobs: list[np.ndarray] | None = None
        self._unit_advantages: list[np.ndarray] = []
        self._returns = np.zeros((len(self.turns), 3))
        self._value_mask = np.zeros((len(self.turns), 3), dtype=bool)

    def __len__(self) -> int:
        return len(self.turns)

    # ------------------------------------------------------------------ advantages
    def credit_trajectories(self) -> list[credit.TrajectoryArrays]:
        """The episodes as the credit package sees them (rewards scaled, values by head, masks of the units).

        The estimator's facts (`credit.EstimatorSpec`) say which critic head is its turn-level critic
        (``values_low``), whether it reads the switch head, and which head bootstraps a truncated episode.
        """
        heads = self.spec.value_heads
        low = HEADS[heads[0] if heads else "low"]  # critic-free estimators read no values
        last = HEADS[self.spec.bootstrap_head or "switch"]  # V(s_T) before the next decision (see hae's last_value)
        out = []
        for traj in self.trajectories:
            turns = traj.turns
            values = np.array([t.values for t in turns], dtype=np.float64).reshape(len(turns), 3)
            out.append(
                credit.TrajectoryArrays(
                    rewards=np.array([t.reward * self.reward_scale for t in turns]),
                    dones=np.array([t.done for t in turns]),
                    switches=np.array([t.switch for t in turns]),
                    values_low=values[:, low],
                    values_high=values[:, HEADS["high"]],
                    values_switch=values[:, HEADS["switch"]] if "switch" in heads else None,
                    last_value=None if traj.last_values is None else traj.last_values[last],
                    group_id=traj.group_id,
                    anchor_obs=[t.observation for t in turns],
                    invalid=np.array([t.invalid for t in turns]),
                    subgoal_achieved=np.array([t.subgoal_achieved for t in turns]),
                    plan_progress=np.array([t.plan_progress for t in turns]),
                    subgoals=[t.written_subgoal for t in turns],
                    spans=[t.decision.masks for t in turns],
                    response_lengths=[t.decision.num_units for t in turns],
                )
            )
        return out

    def compute_advantages(self) -> list[credit.Advantages]:
        """Advantages and critic targets of every turn; per-unit advantages for the policy loss."""
        credit_trajs = self.credit_trajectories()
        self.advantages = credit.compute_advantages(self.estimator, credit_trajs, self.config)
        self._unit_advantages = [
            a for per_traj in credit.token_advantages(credit_trajs, self.advantages) for a in per_traj
        ]
        turn_head = HEADS[self.spec.value_heads[0]] if self.spec.value_heads else HEADS["low"]
        row = 0
        for traj, adv in zip(self.trajectories, self.advantages, strict=True):
            for t in range(len(traj.turns)):
                if adv.ret_low is not None:
                    self._returns[row, turn_head], self._value_mask[row, turn_head] = adv.ret_low[t], True
                if adv.ret_high is not None and adv.segment_start[t]:
                    self._returns[row, HEADS["high"]], self._value_mask[row, HEADS["high"]] = adv.ret_high[t], True
                if adv.ret_switch is not None:
                    self._returns[row, HEADS["switch"]] = adv.ret_switch[t]
                    self._value_mask[row, HEADS["switch"]] = True
                row += 1
        return self.advantages

    def set_reference(self, policy: Policy) -> None:
        """Log-probs of every turn under the policy's KL reference (call once, before the PPO epochs)."""
        self.ref_logprobs = policy.reference_logprobs(self.turns)

    # ------------------------------------------------------------------ minibatches
    def minibatches(self, minibatch_size: int, rng: np.random.Generator) -> Iterator[Minibatch]:
        """One shuffled pass over the turns (one PPO epoch)."""
        if self.advantages is None:
            raise RuntimeError("call compute_advantages() before minibatches()")
        order = rng.permutation(len(self.turns))
        old_values = np.array([t.values for t in self.turns], dtype=np.float64).reshape(len(self.turns), 3)
        for start in range(0, len(order), minibatch_size):
            idx = order[start : start + minibatch_size]
            olds = [self.turns[i].decision.logprobs for i in idx]
            refs = olds if self.ref_logprobs is None else [self.ref_logprobs[i] for i in idx]
            yield Minibatch(
                idx,
                [self.turns[i] for i in idx],
                [self._unit_advantages[i] for i in idx],
                olds,
                refs,
                self._returns[idx],
                old_values[idx],
                self._value_mask[idx],
            )

    def metrics(self) -> dict[str, float]:
        """Statistics of the advantages and returns (``train/*``)."""
        if not self.advantages:
            return {}
        return {
            "train/advantage_mean": float(np.mean([a.adv_low.mean() for a in self.advantages])),
            "train/shaped_return": float(np.mean([a.rewards.sum() for a in self.advantages])),
        }
