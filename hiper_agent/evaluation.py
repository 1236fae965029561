"""Benchmark harness: play a policy on a fixed, held-out set of games and report success by task type.

The set is fixed by index (``reset(options={"game_index": i})``) and decoding is greedy by default, so two
evaluations of the same weights give the same numbers, and two agents are compared on the same games.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from hiper_agent.prompts import PromptBuilder
from hiper_agent.rollout import RolloutStats, Trajectory, collect_rollouts, rollout_metrics

__all__ = ["EvalResult", "evaluate"]


@dataclass
class EvalResult:
    """Outcome of an evaluation."""

    trajectories: list[Trajectory]
    stats: RolloutStats
    by_task_type: dict[str, float] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        """Fraction of episodes won."""
        return float(np.mean([t.won for t in self.trajectories])) if self.trajectories else 0.0

    def metrics(self, prefix: str = "eval") -> dict[str, float]:
        """Namespaced metrics, per task type included."""
        out = rollout_metrics(self.trajectories, self.stats, prefix)
        out.update({f"{prefix}/success/{k}": v for k, v in sorted(self.by_task_type.items())})
        return out

    def table(self) -> str:
        """A plain-text table of success per task type."""
        rows = [("task type", "episodes", "success")]
        counts: dict[str, int] = defaultdict(int)
        for traj in self.trajectories:
            counts[traj.task_type] += 1
        for task_type, rate in sorted(self.by_task_type.items()):
            rows.append((task_type, str(counts[task_type]), f"{100 * rate:.1f}%"))
        rows.append(("all", str(len(self.trajectories)), f"{100 * self.success_rate:.1f}%"))
        width = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join(f"{a:<{width[0]}}  {b:>{width[1]}}  {c:>{width[2]}}" for a, b, c in rows)


def evaluate(
    envs: Sequence[gym.Env],
    generator: Any,
    prompt_builder: PromptBuilder,
    *,
    num_episodes: int,
    constrained: bool = False,
    keep_subgoal: bool = False,
    greedy: bool = True,
    torch_generator: Any = None,
    first_game: int = 0,
) -> EvalResult:
    """Play games ``first_game .. first_game + num_episodes - 1`` of the envs' task source, ``len(envs)`` at a time."""
    trajectories: list[Trajectory] = []
    total = RolloutStats()
    for start in range(0, num_episodes, len(envs)):
        chunk = list(envs[: min(len(envs), num_episodes - start)])
        options = [{"game_index": first_game + start + i} for i in range(len(chunk))]
        trajs, stats = collect_rollouts(
            chunk, generator, prompt_builder, group_size=1, seed=first_game + start, torch_generator=torch_generator,
            constrained=constrained, keep_subgoal=keep_subgoal, greedy=greedy, reset_options=options,
        )  # fmt: skip
        trajectories.extend(trajs)
        total.new_tokens += stats.new_tokens
        total.seconds += stats.seconds
        total.generate_seconds += stats.generate_seconds
        total.env_seconds += stats.env_seconds
    by_type: dict[str, list[bool]] = defaultdict(list)
    for traj in trajectories:
        by_type[traj.task_type].append(traj.won)
    return EvalResult(trajectories, total, {k: float(np.mean(v)) for k, v in by_type.items()})
