"""The `Policy` interface: what the trainer, the rollout and the evaluation need from any policy family.

Two families implement it: the LLM policy (one language model writes the three blocks, token by token) and the
candidate-scoring policy (small torch heads score `info["subgoal_candidates"]` and `info["admissible_commands"]`).
Both make the same three decisions at each step (KEEP/SWITCH, a subgoal on SWITCH, an action), so a `Decision`
records them as *units* (tokens for the LLM, one categorical choice each for the scorer) with one log-prob per
unit and a `TokenMasks` saying which units belong to which block. `hiper_agent.credit.token_advantages` then puts
HAE's executor / planner / switch advantages on the right units for either family, and the PPO loss is the same
masked mean over units.

The rollout calls `act` on a batch of live envs, the buffer asks for `compute_values` (and `last_values` for
truncated episodes), and the update calls `evaluate` on minibatches of recorded turns.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hiper_agent.credit.masks import TokenMasks

if TYPE_CHECKING:
    from hiper_agent.buffer import Turn
    from hiper_agent.prompts import HistoryEntry

__all__ = ["HEADS", "Decision", "Evaluation", "Policy"]

#: Column of each critic head in a `(N, 3)` value array: executor `V(s, o)`, planner `V(s)`, switch `V(s, o_prev)`.
HEADS: dict[str, int] = {"low": 0, "high": 1, "switch": 2}


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
class Evaluation:
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


class Policy(abc.ABC):
    """A policy family the PPO trainer can train, the rollout can play and the evaluation can score.

    Subclasses hold their own modules (and critic, if any) and are `torch`-device aware. Everything random in
    `act` draws from the `rng` passed in, so a rollout is reproducible from its seed.
    """

    #: True when the policy makes the planner's decisions (KEEP/SWITCH and subgoals); False for flat policies,
    #: which send plain actions and stay inside one option.
    hierarchical: bool = True
    #: Registry name of the family (``llm``, ``scorer``, ...), recorded with saved policies.
    family: str = ""

    # ------------------------------------------------------------------ acting
    @abc.abstractmethod
    def act(
        self,
        observations: Sequence[str],
        infos: Sequence[dict[str, Any]],
        histories: Sequence[Sequence[HistoryEntry]],
        *,
        rng: torch.Generator | None = None,
        greedy: bool = False,
        temperature: float | None = None,
    ) -> list[Decision]:
        """Decides one step for each live env (batched); `histories[i]` holds env i's earlier steps.

        `greedy` takes the most likely choice; `temperature` overrides the training temperature (evaluation);
        the recorded log-probs are those of the distribution actually sampled from.
        """

    def compute_values(self, turns: Sequence[Turn]) -> None:
        """Fills `turn.values` for recorded turns; the default copies the values `act` computed."""
        for turn in turns:
            if turn.decision.values is None:
                raise ValueError(f"{type(self).__name__} recorded no values while acting: override compute_values")
            turn.values = turn.decision.values

    def last_values(
        self,
        observations: Sequence[str],
        infos: Sequence[dict[str, Any]],
        histories: Sequence[Sequence[HistoryEntry]],
    ) -> np.ndarray:
        """`(N, 3)` critic values of states no decision was taken in (after a truncation), for bootstrapping."""
        raise NotImplementedError(f"{type(self).__name__} has no critic for last values")

    @property
    def has_critic(self) -> bool:
        """Whether `compute_values` / `Evaluation.values` are available."""
        return True

    # ------------------------------------------------------------------ learning
    @abc.abstractmethod
    def evaluate(self, turns: Sequence[Turn], *, with_values: bool = True) -> Evaluation:
        """Log-probs, entropies (and values) of the recorded decisions under the current parameters, with grad."""

    @abc.abstractmethod
    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        """Trainable parameters by optimizer: ``{"policy": [...], "critic": [...]}`` (critic may be empty)."""

    def reference_logprobs(self, turns: Sequence[Turn]) -> list[np.ndarray] | None:
        """Per-turn log-probs under the frozen reference policy for the KL term, or None without one."""
        return None

    def freeze_reference(self) -> None:  # noqa: B027  (optional: families without a KL reference skip it)
        """Snapshot the current policy as the KL reference (called once, before the first PPO iteration)."""

    def cost(self, turn: Turn) -> int:
        """Relative cost of re-evaluating a turn; micro-batches group turns of similar cost (LLM: token count)."""
        return 0

    def chunks(self, turns: Sequence[Turn], indices: Sequence[int], size: int) -> list[list[int]]:
        """``indices`` in micro-batches of ``size``, cheapest turns first (a padded batch costs its longest row)."""
        ordered = sorted(indices, key=lambda i: self.cost(turns[i]))
        return [ordered[k : k + size] for k in range(0, len(ordered), size)]

    def train(self, mode: bool = True) -> Policy:
        """Training mode of the underlying modules (dropout); returns self."""
        return self

    def eval(self) -> Policy:
        """Evaluation mode; returns self."""
        return self.train(False)

    # ------------------------------------------------------------------ warm start, checkpoints
    def warm_start(
        self, demos: Sequence[list[dict[str, Any]]], config: Any, on_step: Callable[[int, float], None] | None = None
    ) -> list[float]:
        """Imitate expert episodes (`expert=True` env transcripts); returns the loss per optimizer step."""
        raise NotImplementedError(f"{type(self).__name__} has no expert warm start")

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Every tensor needed to resume training exactly (policy, critic, reference)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`."""

    @abc.abstractmethod
    def save(self, folder: str | Path) -> None:
        """Save a playable policy: `hiper_agent.policies.load_policy(folder)` gives it back for evaluation."""
