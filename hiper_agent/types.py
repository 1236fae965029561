"""The record types every layer of ``hiper_agent`` shares: a policy's decision, one env step, one episode, a minibatch.

They sit below the policies, the rollout, the buffer and the trainer, so that those import them downward and never
each other (SB3 keeps its ``RolloutBufferSamples`` in ``common/type_aliases.py`` for the same reason). Only numpy and
the credit package's ``TokenMasks`` are imported here; torch appears in annotations only.

The flow: a `Policy` ``act`` s and returns one `Decision` per live env; the rollout records each env step as a
`Turn` and each episode as a `Trajectory`; the buffer serves turns as `Minibatch` es; the policy's
``evaluate_actions`` re-scores them as an `ActionEvaluation`. ``HEADS`` names the columns of every ``(N, 3)`` critic
value array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hiper_agent.credit.masks import TokenMasks
from hiper_agent.credit.registry import HEAD_NAMES

if TYPE_CHECKING:
    import torch

__all__ = ["HEADS", "Decision", "ActionEvaluation", "HistoryEntry", "Minibatch", "Trajectory", "Turn"]

#: Column of each critic head in a `(N, 3)` value array: executor `V(s, o)`, planner `V(s)`, switch `V(s, o_prev)`
#: (the heads the credit registry names, in its order).
HEADS: dict[str, int] = {name: column for column, name in enumerate(HEAD_NAMES)}


@dataclass(frozen=True)
class HistoryEntry:
    """One past step as the policy's prompt or features show it."""

    observation: str
    action: str


@dataclass
class Decision:
    """What a policy decided for one env at one step.

    Attributes:
        action: What `env.step` receives: the three-block text, a plain command, or an `OptionAction`.
        logprobs: `(U,)` log-probability of each decision unit under the acting policy (the PPO "old" log-probs).
        masks: Which units are the switch, subgoal and action decisions (`TokenMasks` over the `U` units).
        written_subgoal: The subgoal the policy wrote or chose (None when it wrote none).
        action_text: The primitive action the policy meant (shown in later prompts' histories when the env
            could not execute it); None: the action is the whole of ``action``.
        format_error: The response could not be parsed as the protocol's blocks (always False for a scorer).
        values: `(low, high, switch)` critic values when the policy computes them while acting, else None
            (the LLM's critic runs once after the rollout, see `Policy.compute_values`).
        extra: Family-specific record needed to re-evaluate the decision (token ids, candidate lists, ...).
    """

    action: Any
    logprobs: np.ndarray
    masks: TokenMasks
    written_subgoal: str | None = None
    format_error: bool = False
    action_text: str | None = None
    values: tuple[float, float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_units(self) -> int:
        """Number of decision units (response tokens, or choices)."""
        return len(self.logprobs)


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
    def segments(self) -> list[list[Turn]]:
        """The turns cut into options: one opens at step 0 and at every switch (the last may be cut by the end)."""
        out: list[list[Turn]] = []
        for i, turn in enumerate(self.turns):
            if i == 0 or turn.switch:
                out.append([])
            out[-1].append(turn)
        return out

    @property
    def num_segments(self) -> int:
        """Number of options the episode used."""
        return len(self.segments)

    @property
    def option_lengths(self) -> list[int]:
        """Steps of each option, in order."""
        return [len(segment) for segment in self.segments]

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


@dataclass
class ActionEvaluation:
    """Recorded decisions re-evaluated under the current parameters (a minibatch of `B` turns).

    Units are right-aligned: turn `b`'s `n_b` units occupy columns `U - n_b .. U - 1`, and `mask` marks them.

    Attributes:
        logprobs: `(B, U)` log-probability of each recorded unit.
        entropy: `(B, U)` entropy of the distribution each unit was drawn from.
        mask: `(B, U)` bool, True on real units.
        values: `(B, 3)` critic values at the heads' decision points (`HEADS` order), or None without a critic.
    """

    logprobs: torch.Tensor
    entropy: torch.Tensor
    mask: torch.Tensor
    values: torch.Tensor | None = None
