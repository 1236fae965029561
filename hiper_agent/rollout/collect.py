"""Rollout: play one episode in each env of a pool, with batched policy calls, and record the trajectories.

The agent talks to the envs only through Gymnasium and the option protocol: it sends each decision's action to
``env.step`` (the three-block text, a plain command or an ``OptionAction``) and reads the option keys back from
``info``. Every family of policy goes through this one loop; the trainer and the evaluation differ only in the
reset arguments (training groups vs a fixed panel) and in how the policy samples.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hiper_agent.envs.pool import EnvPool
from hiper_agent.policies.base import Policy
from hiper_agent.types import HistoryEntry, Trajectory, Turn

__all__ = ["RolloutStats", "collect_rollouts", "group_resets", "rollout_metrics"]


@dataclass
class RolloutStats:
    """Throughput of one rollout (``units``: generated tokens for an LLM, choices for a scorer)."""

    units: int = 0
    env_steps: int = 0
    seconds: float = 0.0
    policy_seconds: float = 0.0
    env_seconds: float = 0.0

    @property
    def units_per_s(self) -> float:
        """Decision units per wall-clock second of the whole rollout."""
        return self.units / max(self.seconds, 1e-9)

    @property
    def steps_per_s(self) -> float:
        """Env steps per wall-clock second of the whole rollout (resets and policy time included)."""
        return self.env_steps / max(self.seconds, 1e-9)

    def __iadd__(self, other: RolloutStats) -> RolloutStats:
        for name in ("units", "env_steps", "seconds", "policy_seconds", "env_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def group_resets(num_envs: int, group_size: int, seed: int) -> list[dict[str, Any]]:
    """Reset arguments of a training rollout: consecutive groups of ``group_size`` envs share a task (and seed).

    Groups are whole when ``group_size`` divides ``num_envs``, which `HiPERConfig` checks (the one place for it).
    """
    return [{"seed": seed + i // group_size, "options": None} for i in range(num_envs)]


def collect_rollouts(
    pool: EnvPool,
    policy: Policy,
    resets: Sequence[dict[str, Any]],
    *,
    group_size: int = 1,
    rng: torch.Generator | None = None,
    greedy: bool = False,
    temperature: float | None = None,
    last_values: bool = False,
) -> tuple[list[Trajectory], RolloutStats]:
    """Play one episode in each of ``len(resets)`` envs of ``pool`` (env ``i`` reset with ``resets[i]``).

    Args:
        pool: the envs (any `EnvPool` backend; results do not depend on it).
        policy: any `Policy`; called once per step on the batch of envs still playing.
        resets: per env, ``{"seed": ..., "options": ...}`` for ``env.reset``.
        group_size: consecutive envs that share a task, recorded as ``Trajectory.group_id``.
        rng: the sampling RNG (seeded by the caller for reproducibility).
        greedy: most likely choices (evaluation).
        temperature: sampling temperature override (evaluation); None: the policy's own.
        last_values: record the critic's values at the state where a truncated episode was cut
            (``Trajectory.last_values``), so the estimators can bootstrap from it.

    Returns:
        One trajectory per env, and throughput numbers.
    """
    n = len(resets)
    if n > pool.num_envs:
        raise ValueError(f"{n} episodes asked of a pool of {pool.num_envs} envs")
    t0 = time.perf_counter()
    stats = RolloutStats()
    obs: list[Any] = [None] * n
    infos: list[dict[str, Any]] = [{}] * n
    histories: list[list[HistoryEntry]] = [[] for _ in range(n)]
    trajs: list[Trajectory] = []
    for i, (o, info) in enumerate(
        pool.reset(range(n), [r.get("seed") for r in resets], [r.get("options") for r in resets])
    ):
        obs[i], infos[i] = o, info
        trajs.append(Trajectory([], i // group_size, str(info.get("task_id", "")), str(info.get("task_type", ""))))
    active = list(range(n))
    while active:
        p0 = time.perf_counter()
        decisions = policy.act(
            [obs[i] for i in active],
            [infos[i] for i in active],
            [histories[i] for i in active],
            rng=rng,
            greedy=greedy,
            temperature=temperature,
        )
        stats.policy_seconds += time.perf_counter() - p0
        e0 = time.perf_counter()
        results = pool.step(active, [d.action for d in decisions])
        stats.env_seconds += time.perf_counter() - e0
        still_active = []
        for i, decision, (next_obs, reward, terminated, truncated, info) in zip(
            active, decisions, results, strict=True
        ):
            stats.units += decision.num_units
            stats.env_steps += 1
            trajs[i].turns.append(
                Turn(
                    decision=decision,
                    observation=obs[i],
                    switch=bool(info["option_started"]),
                    subgoal=info.get("subgoal"),
                    reward=float(reward),
                    done=bool(terminated),
                    invalid=bool(info["invalid_action"]),
                    keep_changed=bool(info.get("subgoal_changed_on_keep", False)),
                    subgoal_achieved=info.get("subgoal_status") == "achieved",
                    plan_progress=_plan_progress(infos[i], info),
                )
            )
            histories[i].append(HistoryEntry(obs[i], info.get("action") or decision.action_text or ""))
            obs[i], infos[i] = next_obs, info
            if terminated or truncated:
                trajs[i].won = bool(info.get("won", False))
                trajs[i].score = float(info.get("score", 0.0))
                trajs[i].truncated = bool(truncated and not terminated)
            else:
                still_active.append(i)
        active = still_active
    cut = [i for i in range(n) if trajs[i].truncated]
    if last_values and cut and policy.has_critic:
        values = policy.last_values([obs[i] for i in cut], [infos[i] for i in cut], [histories[i] for i in cut])
        for i, v in zip(cut, values, strict=True):
            trajs[i].last_values = (float(v[0]), float(v[1]), float(v[2]))
    stats.seconds = time.perf_counter() - t0
    return trajs, stats


def rollout_metrics(trajs: Sequence[Trajectory], stats: RolloutStats, prefix: str = "rollout") -> dict[str, float]:
    """Summary metrics of a batch of trajectories (namespaced, see ``docs/training.md``).

    ``episode_return`` is the env's own (unshaped) return; the shaped return the estimator saw is
    ``train/shaped_return`` (logged by the trainer).
    """
    turns = [t for traj in trajs for t in traj.turns]
    options = [n for traj in trajs for n in traj.option_lengths]
    return {
        f"{prefix}/success_rate": float(np.mean([t.won for t in trajs])),
        f"{prefix}/score": float(np.mean([t.score for t in trajs])),
        f"{prefix}/episode_return": float(np.mean([sum(x.reward for x in t.turns) for t in trajs])),
        f"{prefix}/episode_length": float(np.mean([len(t.turns) for t in trajs])),
        f"{prefix}/segments_per_episode": float(np.mean([t.num_segments for t in trajs])),
        f"{prefix}/mean_option_length": float(np.mean(options)) if options else 0.0,
        f"{prefix}/one_step_option_share": float(np.mean([n == 1 for n in options])) if options else 0.0,
        f"{prefix}/invalid_rate": float(np.mean([x.invalid for x in turns])) if turns else 0.0,
        f"{prefix}/format_error_rate": float(np.mean([x.format_error for x in turns])) if turns else 0.0,
        f"{prefix}/subgoal_achieved_rate": float(np.mean([x.subgoal_achieved for x in turns])) if turns else 0.0,
        f"{prefix}/tokens_per_s": stats.units_per_s,
        f"{prefix}/steps_per_s": stats.steps_per_s,
        f"{prefix}/episodes": float(len(trajs)),
    }


def _plan_progress(before: dict[str, Any], after: dict[str, Any]) -> float:
    """``L(s) - L(s')`` from the oracle's ``expert_plan_length`` (0 once won); 0 when either side has none."""
    length_before = before.get("expert_plan_length")
    length_after = 0 if after.get("won") else after.get("expert_plan_length")
    return 0.0 if length_before is None or length_after is None else float(length_before - length_after)
