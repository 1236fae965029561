"""The rollout buffer: recorded turns -> critic values -> advantages (one `compute_advantages` call) -> minibatches.

Modelled on SB3's ``RolloutBuffer``: it holds one iteration's episodes, takes the critic's values, computes the
advantages and returns, and yields shuffled minibatches for the PPO epochs. It is family-agnostic: a turn's
decision is a `Decision` (see ``policies/base.py``) whose units carry the log-probs the loss needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hiper_agent import credit
from hiper_agent.policies.base import HEADS, Decision

if TYPE_CHECKING:
    from hiper_agent.policies.base import Policy

__all__ = ["Minibatch", "RolloutBuffer", "Trajectory", "Turn"]


@dataclass
class Turn:
    """One env step: the policy's decision and what the env said back.

    ``switch`` is the option decision the env executed (the first step of an episode always opens an option);
    ``subgoal`` is the option's subgoal as the env tracks it. ``values`` are the critic's ``(low, high, switch)``
    (`HEADS` order), filled by ``Policy.compute_values`` after the rollout. ``plan_progress`` is how many
    commands of an optimal plan the step completed, from a training env's oracle (``info["expert_plan_length"]``,
    ``expert=True``): ``L(s) - L(s')``, 0 when the env has none.
    """

    decision: Decision
    observation: str
    switch: bool
    subgoal: str | None
    reward: float = 0.0
    done: bool = False
    invalid: bool = False
    keep_changed: bool = False
    subgoal_achieved: bool = False
    plan_progress: float = 0.0
    values: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def written_subgoal(self) -> str | None:
        """The subgoal the policy wrote or chose."""
        return self.decision.written_subgoal

    @property
    def format_error(self) -> bool:
        """The response broke the protocol's format."""
        return self.decision.format_error


@dataclass
class Trajectory:
    """One episode of one env.

    ``last_values`` is the critic's ``(low, high, switch)`` at the state after the last turn, recorded for
    episodes cut by the time limit (``truncated``) so that the estimators can bootstrap from it.
    """

    turns: list[Turn]
    group_id: int
    task_id: str
    task_type: str
    won: bool = False
    score: float = 0.0
    truncated: bool = False
    last_values: tuple[float, float, float] | None = None

    @property
    def num_segments(self) -> int:
        """Number of options the episode used."""
        return sum(1 for i, t in enumerate(self.turns) if i == 0 or t.switch)

    @property
    def num_steps(self) -> int:
        """Env steps taken."""
        return len(self.turns)


@dataclass
class Minibatch:
    """A minibatch of recorded turns for one optimizer step (CleanRL's ``mb_`` slices, as one object).

    Attributes:
        indices: Positions of the turns in the buffer.
        turns: The turns.
        advantages: Per turn, the `(U,)` advantage of each decision unit.
        old_logprobs: Per turn, the `(U,)` log-probs under the acting policy.
        ref_logprobs: Per turn, the `(U,)` log-probs under the KL reference (the old ones without a reference).
        returns: `(B, 3)` critic targets per head (`HEADS` order), valid where `value_mask`.
        old_values: `(B, 3)` the critic's values at acting time, for value clipping.
        value_mask: `(B, 3)` bool, which heads have a target on which turn.
    """

    indices: np.ndarray
    turns: list[Turn]
    advantages: list[np.ndarray]
    old_logprobs: list[np.ndarray]
    ref_logprobs: list[np.ndarray]
    returns: np.ndarray
    old_values: np.ndarray
    value_mask: np.ndarray


class RolloutBuffer:
    """One iteration's episodes, their values, advantages and returns, served as shuffled minibatches.

    Usage, in the order the math runs::

        buffer = RolloutBuffer(trajectories, estimator="hae", config=advantage_config, reward_scale=10.0)
        buffer.compute_values(policy)           # critic values at the decision points
        buffer.compute_advantages()             # one credit.compute_advantages call for the whole batch
        for mb in buffer.minibatches(64, rng):  # per PPO epoch
            ...

    Which critic head a flat estimator reads: flat GAE's `V(s)` is the planner head (`high`), read before any
    decision; HAE reads all three (low inside segments, high at segment starts, switch before each decision).
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
        self.flat = estimator == "gae"
        self.advantages: list[credit.Advantages] | None = None
        self.ref_logprobs: list[np.ndarray] | None = None
        self._unit_advantages: list[np.ndarray] = []
        self._returns = np.zeros((len(self.turns), 3))
        self._value_mask = np.zeros((len(self.turns), 3), dtype=bool)

    def __len__(self) -> int:
        return len(self.turns)

    # ------------------------------------------------------------------ values
    def compute_values(self, policy: Policy) -> None:
        """The critic's values of every recorded turn (`Turn.values`)."""
        if self.turns:
            policy.compute_values(self.turns)

    # ------------------------------------------------------------------ advantages
    def credit_trajectories(self) -> list[credit.Trajectory]:
        """The episodes as the credit package sees them (rewards scaled, values by head, masks of the units)."""
        low = HEADS["high" if self.flat else "low"]
        last = HEADS["high" if self.flat else "switch"]  # V(s_T) before the next decision (see hae's last_value)
        out = []
        for traj in self.trajectories:
            turns = traj.turns
            values = np.array([t.values for t in turns], dtype=np.float64).reshape(len(turns), 3)
            out.append(credit.Trajectory(
                rewards=np.array([t.reward * self.reward_scale for t in turns]),
                dones=np.array([t.done for t in turns]),
                switches=np.array([t.switch for t in turns]),
                values_low=values[:, low],
                values_high=values[:, HEADS["high"]],
                values_switch=None if self.flat else values[:, HEADS["switch"]],
                last_value=None if traj.last_values is None else traj.last_values[last],
                group_id=traj.group_id,
                anchor_obs=[t.observation for t in turns],
                invalid=np.array([t.invalid for t in turns]),
                subgoal_achieved=np.array([t.subgoal_achieved for t in turns]),
                plan_progress=np.array([t.plan_progress for t in turns]),
                subgoals=[t.written_subgoal for t in turns],
                spans=[t.decision.masks for t in turns],
                response_lengths=[t.decision.num_units for t in turns],
            ))  # fmt: skip
        return out

    def compute_advantages(self) -> list[credit.Advantages]:
        """Advantages and critic targets of every turn; per-unit advantages for the policy loss."""
        credit_trajs = self.credit_trajectories()
        self.advantages = credit.compute_advantages(self.estimator, credit_trajs, self.config)
        self._unit_advantages = [a for per_traj in credit.token_advantages(credit_trajs, self.advantages)
                                 for a in per_traj]  # fmt: skip
        row = 0
        for traj, adv in zip(self.trajectories, self.advantages, strict=True):
            for t in range(len(traj.turns)):
                if adv.ret_low is not None:
                    head = HEADS["high" if self.flat else "low"]
                    self._returns[row, head], self._value_mask[row, head] = adv.ret_low[t], True
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
            yield Minibatch(idx, [self.turns[i] for i in idx], [self._unit_advantages[i] for i in idx], olds, refs,
                            self._returns[idx], old_values[idx], self._value_mask[idx])  # fmt: skip

    def metrics(self) -> dict[str, float]:
        """Statistics of the advantages and returns (``train/*``)."""
        if not self.advantages:
            return {}
        return {
            "train/advantage_mean": float(np.mean([a.adv_low.mean() for a in self.advantages])),
            "train/shaped_return": float(np.mean([a.rewards.sum() for a in self.advantages])),
        }
