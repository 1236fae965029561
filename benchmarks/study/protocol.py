"""The study's protocol: the grid, the settings every run of a results.json shares, the sweep and its winner.

Every run trains on the grid's K mix and is scored at each K (``arms.py``), so one run fills the (arm, K, seed)
cells of every K. The tuning stage trains every arm at the same sweep points (learning rate × sampling
temperature, `Protocol.sweep`) with one seed (`TUNE_SEED`) and scores it on ``valid_seen``; `select_best` freezes
each arm's winner, which the report stage trains with fresh seeds and scores on ``valid_unseen``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.study.arms import RunPlan
from benchmarks.study.runner import STAGE_SPLITS

__all__ = [
    "DEFAULT_GRID",
    "FULL_GRID",
    "SECONDS_PER_STEP",
    "TUNE_SEED",
    "Grid",
    "Protocol",
    "estimate_env_steps",
    "select_best",
]

#: The seed of every tuning run; the report's seeds must not include it.
TUNE_SEED = 1000


@dataclass(frozen=True)
class Grid:
    """The report's runs, arms × seeds, each trained on the mix of ``ks`` and scored at each K."""

    arms: tuple[str, ...]
    ks: tuple[int, ...]
    seeds: tuple[int, ...]


DEFAULT_GRID = Grid(("hiper", "hier-gae", "flat-gae", "flat-grpo"), (1, 2, 3), (0, 1, 2))
#: ``--full`` keeps the default protocol (so its report runs at seeds 0-2 of the default arms are the default
#: grid's runs) and adds the tuning sweep, three arms and seeds.
FULL_GRID = Grid(
    ("hiper", "hier-gae", "flat-gae", "flat-grpo", "flat-gigpo", "hiper-sparse", "hier-gae-sparse"),
    (1, 2, 3),
    (0, 1, 2, 3, 4),
)
#: CPU seconds per estimated env step (training with its PPO update, or greedy evaluation) on one core, calibrated
#: on the default grid's measured time on the 2-core development machine: 46m34s for `estimate_env_steps`'s 0.99 M
#: steps (5.64 ms; the count assumes long episodes, so this is less than a real step costs). Only for the
#: printed estimate (docs/training.md#hierarchy-vs-flat).
SECONDS_PER_STEP = 5.7e-3


@dataclass(frozen=True)
class Protocol:
    """Everything that must be the same across the cells of one results.json (checked on ``--resume``)."""

    preset: str = "cpu"
    budget: int = 50_000  # training env steps per run, over the K mix
    num_envs: int = 24  # 3 groups of 8 for GRPO / GiGPO: one per K of the mix, in every arm
    steps_per_subtask: int | None = None  # None: the preset's max_episode_steps
    tune_episodes: int = 100
    report_episodes: int = 100
    curve_episodes: int = 24  # the learning curve plays the first games of the panel (nested: same games, seeds)
    eval_every: int = 13  # iterations (~1,300 env steps each): curve points at 0, 17k, 34k and the end
    panel_seed: int = 0
    pool_size: int = 256
    lr_factors: tuple[float, ...] = (1 / 3, 1.0, 3.0)
    temperatures: tuple[float, ...] = (0.5, 1.0)
    overrides: dict[str, Any] = field(default_factory=dict)  # config fields set alike for every arm (--set)

    def __post_init__(self) -> None:
        for name in ("report_episodes", "curve_episodes"):
            self._check_panel(name)
        if self.budget < 1 or self.eval_every < 1:
            raise ValueError(f"budget ({self.budget}) and eval_every ({self.eval_every}) must be >= 1")

    def _check_panel(self, name: str) -> None:
        if not 1 <= getattr(self, name) <= self.pool_size:
            raise ValueError(
                f"{name} ({getattr(self, name)}) must be in [1, pool_size ({self.pool_size})]: a "
                "panel plays the first games of the split's compiled pool"
            )

    def resolved_steps_per_subtask(self) -> int:
        """Step limit per subtask: the protocol's, else the preset's ``max_episode_steps``."""
        if self.steps_per_subtask is not None:
            return self.steps_per_subtask
        from hiper_agent.training.ppo_config import HiPERConfig

        steps = HiPERConfig.from_preset(self.preset, **self.overrides).to_flat_dict()["max_episode_steps"]
        if steps is None:
            raise ValueError(f"preset {self.preset!r} sets no max_episode_steps: pass --steps-per-subtask")
        return int(steps)

    def plan(self, stage: str, out: str | Path, ks: Sequence[int]) -> RunPlan:
        """The settings every run of ``stage`` shares: the K mix ``ks``, its panels on the stage's one split."""
        if stage == "tune":
            self._check_panel("tune_episodes")
        episodes = self.tune_episodes if stage == "tune" else self.report_episodes
        return RunPlan(
            preset=self.preset,
            ks=tuple(ks),
            budget=self.budget,
            num_envs=self.num_envs,
            steps_per_subtask=self.resolved_steps_per_subtask(),
            split=STAGE_SPLITS[stage],
            episodes=episodes,
            curve_episodes=self.curve_episodes,
            eval_every=self.eval_every,
            panel_seed=self.panel_seed,
            pool_size=self.pool_size,
            out=str(out),
            overrides=dict(self.overrides),
        )

    def sweep(self) -> list[tuple[float, float]]:
        """The tuning points ``(lr, temperature)``: the preset's lr times each factor, × each temperature."""
        from hiper_agent.training.ppo_config import HiPERConfig

        lr = HiPERConfig.from_preset(self.preset, **self.overrides).ppo.lr
        return [(float(f"{lr * f:.3g}"), t) for f in self.lr_factors for t in self.temperatures]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))


def estimate_env_steps(runs: int, plan: RunPlan) -> int:
    """Env steps ``runs`` runs take, training and evaluation, assuming episodes run to 90 % of their limit.

    Training: the budget plus half an iteration (the trainer stops after the iteration that spends it); an
    iteration plays one episode per env, the envs spread evenly over the K mix. Evaluation, at every K: the
    curve's points (the untrained policy, every ``eval_every`` iterations, the last one) on the curve's games,
    and the final play of the whole panel.
    """
    per_k = [0.9 * plan.steps_per_subtask * k for k in plan.ks]  # episode length at each K
    iteration = plan.num_envs * sum(per_k) / len(per_k)
    iterations = max(1, round(plan.budget / iteration))
    points = 1 + iterations // plan.eval_every + (iterations % plan.eval_every != 0)
    curve_games = min(plan.curve_episodes, plan.episodes)
    evaluation = (points * curve_games + plan.episodes) * sum(per_k)
    return int(runs * (plan.budget + iteration / 2 + evaluation))


def select_best(
    records: Sequence[dict[str, Any]], arm: str, points: Sequence[tuple[float, float]], ks: Sequence[int]
) -> dict[str, Any]:
    """The frozen point of ``arm``: best mean final validation success at ``ks``; ties by mean curve, then order.

    Raises:
        ValueError: A tuning cell of the arm is missing.
    """
    table = {(r["lr"], r["temperature"], r["K"]): r for r in records if r["arm"] == arm and r["stage"] == "tune"}
    scored = []
    for order, (lr, temperature) in enumerate(points):
        cells = [table.get((lr, temperature, k)) for k in ks]
        if any(c is None for c in cells):
            raise ValueError(f"tuning of {arm!r} is missing cells at lr={lr:g}, temperature={temperature:g}")
        final = float(np.mean([c["final_success"] for c in cells]))
        area = float(np.mean([np.mean([p[1] for p in c["curve"]]) for c in cells]))
        scored.append((final, area, -order, lr, temperature))
    final, area, _, lr, temperature = max(scored)
    return {"lr": lr, "temperature": temperature, "validation_success": final, "validation_curve_mean": area}
