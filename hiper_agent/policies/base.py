"""The `Policy` interface: what the trainer, the rollout and the evaluation need from any policy family.

Two families implement it: the LLM policy (one language model writes the three blocks, token by token) and the
candidate-scoring policy (small torch heads score `info["subgoal_candidates"]` and `info["admissible_commands"]`).
Both make the same three decisions at each step (KEEP/SWITCH, a subgoal on SWITCH, an action), so a `Decision`
records them as *units* (tokens for the LLM, one categorical choice each for the scorer) with one log-prob per
unit and a `TokenMasks` saying which units belong to which block. `hiper_agent.credit.token_advantages` then puts
HAE's executor / planner / switch advantages on the right units for either family, and the PPO loss is the same
masked mean over units.

The rollout calls `act` on a batch of live envs, the buffer asks for `compute_values` (and `last_values` for
truncated episodes), and the update calls `evaluate_actions` on minibatches of recorded turns.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hiper_agent.types import ActionEvaluation, Decision, HistoryEntry, Turn

__all__ = ["Policy"]


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
        """Whether `compute_values` / `ActionEvaluation.values` are available."""
        return True

    # ------------------------------------------------------------------ learning
    @abc.abstractmethod
    def evaluate_actions(self, turns: Sequence[Turn], *, with_values: bool = True) -> ActionEvaluation:
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
