"""Evaluation on fixed panels: play a policy on the same held-out games every time, report success with a 95 % CI.

A panel (``panels.py``) fixes the games and their reset seeds by ``(env, split, K, n, seed)``, so two evaluations
of two methods play the same tasks in the same order. Metrics are namespaced per split,
``eval/<split>/success_rate`` with ``eval/<split>/success_ci_low`` / ``..._ci_high`` (Wilson) and
``eval/<split>/episodes``, plus per task type ``eval/<split>/success/<task_type>``; a composite evaluation (the
trainer's ``eval_num_subtasks``) logs each K-subtask panel as ``eval/<split>/k<K>/...``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hiper_agent.envs.pool import EnvPool
from hiper_agent.evaluation.panels import EvalPanel, wilson_interval
from hiper_agent.policies.base import Policy
from hiper_agent.rollout.collect import RolloutStats, collect_rollouts, rollout_metrics
from hiper_agent.types import Trajectory

__all__ = ["EvalResult", "evaluate", "evaluate_panels"]


@dataclass
class EvalResult:
    """Outcome of an evaluation on one panel."""

    panel: EvalPanel
    trajectories: list[Trajectory]
    stats: RolloutStats
    by_task_type: dict[str, float] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        """Fraction of episodes won."""
        return float(np.mean([t.won for t in self.trajectories])) if self.trajectories else 0.0

    @property
    def success_ci(self) -> tuple[float, float]:
        """Wilson 95 % interval of the success rate."""
        return wilson_interval(sum(t.won for t in self.trajectories), len(self.trajectories))

    def metrics(self, prefix: str | None = None) -> dict[str, float]:
        """Namespaced metrics (``eval/<split>/...`` by default), per task type and CI included."""
        prefix = prefix or f"eval/{self.panel.split}"
        out = rollout_metrics(self.trajectories, self.stats, prefix)
        low, high = self.success_ci
        out.update({f"{prefix}/success_ci_low": low, f"{prefix}/success_ci_high": high})
        out.update({f"{prefix}/success/{k}": v for k, v in sorted(self.by_task_type.items())})
        return out

    def table(self) -> str:
        """A plain-text table of success per task type, with the overall 95 % interval."""
        rows = [("task type", "episodes", "success")]
        counts: dict[str, int] = defaultdict(int)
        for traj in self.trajectories:
            counts[traj.task_type] += 1
        for task_type, rate in sorted(self.by_task_type.items()):
            rows.append((task_type, str(counts[task_type]), f"{100 * rate:.1f}%"))
        low, high = self.success_ci
        rows.append(
            ("all", str(len(self.trajectories)), f"{100 * self.success_rate:.1f}% [{100 * low:.1f}, {100 * high:.1f}]")
        )
        width = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join(f"{a:<{width[0]}}  {b:>{width[1]}}  {c:>{width[2]}}" for a, b, c in rows)


def evaluate(
    pool: EnvPool,
    policy: Policy,
    panel: EvalPanel,
    *,
    greedy: bool = True,
    temperature: float | None = None,
    rng_seed: int = 0,
    on_episodes: Callable[[int], object] | None = None,
) -> EvalResult:
    """Play every episode of ``panel``, ``pool.num_envs`` at a time (the pool's envs are made for the panel's split).

    Which games are played, and with which reset seeds, depends on the panel only; sampled decisions draw from
    one RNG seeded with ``rng_seed``. ``on_episodes(n)`` is told each batch's ``n`` finished episodes (progress).
    """
    from hiper_agent.seeding import torch_generator

    rng = torch_generator(rng_seed)
    trajectories: list[Trajectory] = []
    total = RolloutStats()
    for start in range(0, panel.episodes, pool.num_envs):
        resets = [panel.reset_args(i) for i in range(start, min(panel.episodes, start + pool.num_envs))]
        trajs, stats = collect_rollouts(pool, policy, resets, rng=rng, greedy=greedy, temperature=temperature)
        trajectories.extend(trajs)
        total += stats
        if on_episodes is not None:
            on_episodes(len(trajs))
    by_type: dict[str, list[bool]] = defaultdict(list)
    for traj in trajectories:
        by_type[traj.task_type].append(traj.won)
    return EvalResult(panel, trajectories, total, {k: float(np.mean(v)) for k, v in by_type.items()})


def evaluate_panels(
    pools: Mapping[str, EnvPool],
    policy: Policy,
    panels: Sequence[EvalPanel],
    *,
    greedy: bool = True,
    temperature: float | None = None,
    rng_seed: int = 0,
    prefixes: Callable[[EvalPanel], Sequence[str]] | None = None,
    on_episodes: Callable[[int], object] | None = None,
) -> dict[str, float]:
    """Evaluate on each panel and merge the namespaced metrics.

    Args:
        pools: the envs of each panel, keyed by ``panel.name`` (or by split, when a run has one panel per split).
        policy: the policy evaluated (put in eval mode).
        panels: the fixed panels, played in order.
        greedy: pick each decision's most likely choice instead of sampling.
        temperature: sampling temperature when not greedy.
        rng_seed: seed of the one RNG of the sampled decisions (per panel).
        prefixes: the metric prefixes of a panel's results (default ``eval/<split>``); the trainer's composite
            evaluation logs a K-subtask panel as ``eval/<split>/k<K>``.
        on_episodes: called with the number of episodes each batch finished (a progress bar's ``update``).
    """
    policy.eval()
    metrics: dict[str, float] = {}
    for panel in panels:
        pool = pools[panel.name] if panel.name in pools else pools[panel.split]
        result = evaluate(
            pool, policy, panel, greedy=greedy, temperature=temperature, rng_seed=rng_seed, on_episodes=on_episodes
        )
        for prefix in prefixes(panel) if prefixes is not None else [None]:
            metrics.update(result.metrics(prefix))
    return metrics
