"""Behaviour cloning for the scorer: the optional expert warm start (off in the ``cpu`` preset, which learns by RL).

Each expert step (``hiper_agent.rollout.expert.expert_episodes``) becomes the scorer's own decision record, with the
expert's KEEP/SWITCH, subgoal and action as the choices; the loss is their negative log-likelihood under the
policy, computed by the same `ScorerPolicy.evaluate_actions` the PPO update uses. Steps whose expert subgoal or action is
not among the env's candidates drop that unit (its mask is off) instead of inventing a candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hiper_agent.policies.scorer.features import Context, candidate_features
from hiper_agent.policies.scorer.steps import ScorerStep, observe
from hiper_agent.policies.supervised import supervised_loop
from hiper_agent.types import HistoryEntry, Turn

if TYPE_CHECKING:
    from hiper_agent.policies.scorer.policy import ScorerPolicy

__all__ = ["behaviour_cloning", "expert_turns"]


def expert_turns(policy: ScorerPolicy, demos: Sequence[list[dict[str, Any]]]) -> list[Turn]:
    """The expert's steps as recorded turns of ``policy`` (choices set to the expert's)."""
    turns: list[Turn] = []
    for steps in demos:
        history: list[HistoryEntry] = []
        for demo in steps:
            step, context = observe(
                policy.cache,
                demo["observation"],
                demo["info"],
                history,
                history_length=policy.config.history_length,
                hierarchical=policy.hierarchical,
                memory=policy.config.memory,
            )
            if _choose(policy, step, context, demo):
                turns.append(
                    Turn(
                        decision=policy._decision(step, np.zeros(3, np.float32), np.zeros(3)),
                        observation=demo["observation"],
                        switch=step.switch,
                        subgoal=step.new_subgoal,
                    )
                )
            history.append(HistoryEntry(demo["observation"], demo["action"]))
    return turns


def _choose(policy: ScorerPolicy, step: ScorerStep, context: Context, demo: dict[str, Any]) -> bool:
    """Sets the expert's choices on ``step``; False when its action is not admissible (nothing to imitate)."""
    if demo["action"] not in step.actions:
        return False
    if policy.hierarchical:
        step.switch = bool(demo["switch"]) or not step.switch_decided
        if step.switch:
            if demo["subgoal"] not in step.subgoal_candidates:
                return False  # a subgoal the env does not offer: the scorer cannot express it
            step.subgoal_index = step.subgoal_candidates.index(demo["subgoal"])
    step.action_features = candidate_features(policy.cache, context, step.actions, step.new_subgoal)
    step.action_index = step.actions.index(demo["action"])
    return True


def behaviour_cloning(
    policy: ScorerPolicy,
    demos: Sequence[list[dict[str, Any]]],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Maximizes the expert's decisions' log-likelihood (every unit: switch, subgoal, action); returns the losses."""
    turns = expert_turns(policy, demos)
    if not turns:
        raise ValueError("behaviour cloning got no expert step the scorer can express (no demos?)")
    params = policy.parameter_groups()["policy"]

    def loss_fn(idx: np.ndarray) -> torch.Tensor:
        ev = policy.evaluate_actions([turns[i] for i in idx], with_values=False)
        return -(ev.logprobs * ev.mask).sum() / ev.mask.sum().clamp(min=1)

    policy.train()
    losses = supervised_loop(
        params,
        torch.optim.Adam(params, lr=lr),
        loss_fn,
        len(turns),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        on_step=on_step,
    )
    policy.eval()
    return losses
