"""The rollout buffer: recorded turns -> critic values -> advantages (one `compute_advantages` call) -> minibatches.

Modelled on SB3's ``RolloutBuffer``: it holds one iteration's episodes, takes the critic's values, computes the
advantages and returns, and yields shuffled minibatches for the PPO epochs. It is family-agnostic: a turn's
decision is a `Decision` (see ``policies/base.py``) whose units carry the log-probs the loss needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hiper_agent.policies.base import Decision

__all__ = ["Trajectory", "Turn"]


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
    final_info: dict = field(default_factory=dict, repr=False)

    @property
    def num_segments(self) -> int:
        """Number of options the episode used."""
        return sum(1 for i, t in enumerate(self.turns) if i == 0 or t.switch)

    @property
    def num_steps(self) -> int:
        """Env steps taken."""
        return len(self.turns)
