"""The study's protocol and its grid runner: tune on ``valid_seen``, freeze the best point, report on ``valid_unseen``.

1. **Tune** (``--full`` or ``--tune``): every arm trains at the same sweep points (learning rate × sampling
   temperature) with one seed (`TUNE_SEED`), at K = 1 and the grid's largest K, and is scored on a validation
   panel of ``valid_seen`` games. The best point per arm (mean final validation success over the tuning K's;
   ties: the higher mean curve, then the earlier point) is frozen in ``results.json["tuning"]["best"]``.
2. **Report**: every (arm, K, seed) cell trains with its arm's frozen point, seeds disjoint from the tuning seed,
   and is scored on a ``valid_unseen`` panel that no tuning cell constructed (``runner.check_split``).

Without tuning the report reads the frozen points of an earlier study (``--tuned FILE``) or, failing that, uses
the preset's own settings for every arm, and says so in ``results.json["tuning"]["source"]``.

Cells run in worker processes (one core each), the most expensive first; each finished cell is written to
``results.json`` at once (atomically), so a killed grid resumes (``--resume``) without redoing a finished cell.
A cell is done when its record is there and was made with the same settings (``fingerprint``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.study.arms import ARMS, Cell, RunPlan, cell_config
from benchmarks.study.runner import STAGE_SPLITS, config_fingerprint, run_cell

__all__ = [
    "DEFAULT_GRID",
    "FULL_GRID",
    "FULL_PROTOCOL",
    "TUNE_SEED",
    "Grid",
    "Protocol",
    "Study",
    "estimate_env_steps",
    "select_best",
]

#: The seed of every tuning run; the report's seeds must not include it.
TUNE_SEED = 1000
RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class Grid:
    """The cells of the report: arms × K × seeds."""

    arms: tuple[str, ...]
    ks: tuple[int, ...]
    seeds: tuple[int, ...]


DEFAULT_GRID = Grid(("hiper", "hier-gae", "flat-gae", "flat-grpo"), (1, 2, 3), (0, 1, 2))
FULL_GRID = Grid(("hiper", "hier-gae", "flat-gae", "flat-grpo", "flat-gigpo"), (1, 2, 3), (0, 1, 2, 3, 4))
#: How ``--full`` changes the default protocol: 3× the budget, a 200-game report panel, finer curves.
FULL_PROTOCOL: dict[str, Any] = {"budget_per_subtask": 15_000, "report_episodes": 200, "curve_episodes": 50,
                                 "eval_every": 5}  # fmt: skip
#: CPU seconds per env step (training with its PPO update, or greedy evaluation) of one cell on one core, measured
#: with the ``cpu`` preset's scorer on the 2-core development machine (6.0-7.8 ms over K = 1, 3 and both policy
#: kinds, under load; docs/training.md#hierarchy-vs-flat). Only for the printed estimate.
SECONDS_PER_STEP = 7.5e-3


@dataclass(frozen=True)
class Protocol:
    """Everything that must be the same across the cells of one results.json (checked on ``--resume``)."""

    preset: str = "cpu"
    budget_per_subtask: int = 5_000
    steps_per_subtask: int | None = None  # None: the preset's max_episode_steps
    tune_episodes: int = 100
    report_episodes: int = 100
    curve_episodes: int = 32  # the learning curve plays the first games of the panel (nested: same games, seeds)
    eval_every: int = 3
    panel_seed: int = 0
    pool_size: int = 256
    lr_factors: tuple[float, ...] = (1 / 3, 1.0, 3.0)
    temperatures: tuple[float, ...] = (0.5, 1.0)
    overrides: dict[str, Any] = field(default_factory=dict)  # config fields set alike for every arm (--set)

    def __post_init__(self) -> None:
        for name in ("report_episodes", "curve_episodes"):
            self._check_panel(name)
        if self.budget_per_subtask < 1 or self.eval_every < 1:
            raise ValueError(f"budget_per_subtask ({self.budget_per_subtask}) and eval_every ({self.eval_every}) "
                             "must be >= 1")  # fmt: skip

    def _check_panel(self, name: str) -> None:
        if not 1 <= getattr(self, name) <= self.pool_size:
            raise ValueError(f"{name} ({getattr(self, name)}) must be in [1, pool_size ({self.pool_size})]: a "
                             "panel plays the first games of the split's compiled pool")  # fmt: skip

    def resolved_steps_per_subtask(self) -> int:
        """Step limit per subtask: the protocol's, else the preset's ``max_episode_steps``."""
        if self.steps_per_subtask is not None:
            return self.steps_per_subtask
        from hiper_agent.training.ppo_config import HiPERConfig

        steps = HiPERConfig.from_preset(self.preset, **self.overrides).to_flat_dict()["max_episode_steps"]
        if steps is None:
            raise ValueError(f"preset {self.preset!r} sets no max_episode_steps: pass --steps-per-subtask")
        return int(steps)

    def plan(self, stage: str, out: str | Path) -> RunPlan:
        """The settings every cell of ``stage`` shares (its panel is on the stage's one split)."""
        if stage == "tune":
            self._check_panel("tune_episodes")
        episodes = self.tune_episodes if stage == "tune" else self.report_episodes
        return RunPlan(preset=self.preset, budget_per_subtask=self.budget_per_subtask,
                       steps_per_subtask=self.resolved_steps_per_subtask(), split=STAGE_SPLITS[stage],
                       episodes=episodes, curve_episodes=self.curve_episodes, eval_every=self.eval_every,
                       panel_seed=self.panel_seed,
                       pool_size=self.pool_size, out=str(out), overrides=dict(self.overrides))  # fmt: skip

    def sweep(self) -> list[tuple[float, float]]:
        """The tuning points ``(lr, temperature)``: the preset's lr times each factor, × each temperature."""
        from hiper_agent.training.ppo_config import HiPERConfig

        lr = HiPERConfig.from_preset(self.preset, **self.overrides).ppo.lr
        return [(float(f"{lr * f:.3g}"), t) for f in self.lr_factors for t in self.temperatures]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))


def estimate_env_steps(cells: Iterable[Cell], plan: RunPlan) -> int:
    """Env steps the cells will take, training and evaluation, assuming episodes run to 90 % of their limit.

    Training: the budget plus half an iteration (the trainer stops after the iteration that spends it).
    Evaluation: the curve's points (the untrained policy, every ``eval_every`` iterations, the last one) on the
    curve's games, and the final play of the whole panel.
    """
    from hiper_agent.training.ppo_config import HiPERConfig

    num_envs = HiPERConfig.from_preset(plan.preset, **plan.overrides).env.num_envs
    total = 0.0
    for cell in cells:
        length = 0.9 * plan.steps_per_subtask * cell.k
        iterations = max(1, round(plan.budget(cell.k) / (num_envs * length)))
        points = 1 + iterations // plan.eval_every + (iterations % plan.eval_every != 0)
        curve_games = min(plan.curve_episodes, plan.episodes)
        total += plan.budget(cell.k) + num_envs * length / 2 + (points * curve_games + plan.episodes) * length
    return int(total)


def select_best(records: Sequence[dict[str, Any]], arm: str, points: Sequence[tuple[float, float]],
                ks: Sequence[int]) -> dict[str, Any]:  # fmt: skip
    """The frozen point of ``arm``: best mean final validation success over ``ks``; ties by mean curve, then order.

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


@dataclass
class Study:
    """One results folder: the protocol, the grid, and the cells done so far (``results.json``)."""

    out: Path
    protocol: Protocol
    grid: Grid
    tune: bool = False
    tuned_file: str | None = None
    workers: int = 2
    command: str = ""
    resume: bool = False
    run: Callable[[Cell, RunPlan], dict[str, Any]] = run_cell
    results: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        unknown = [a for a in self.grid.arms if a not in ARMS]
        if unknown:
            raise ValueError(f"unknown arm(s) {unknown}; arms: {', '.join(ARMS)}")
        if TUNE_SEED in self.grid.seeds:
            raise ValueError(f"seed {TUNE_SEED} is the tuning seed; the report needs fresh seeds")
        path = self.out / RESULTS_FILE
        fresh = {"meta": {"protocol": self.protocol.to_dict(), "commands": []},
                 "tuning": {}, "cells": {}, "runs": {}, "errors": {}}  # fmt: skip
        if path.is_file() and not self.resume:
            raise FileExistsError(f"{path} exists: pass --resume to complete it, or choose another --out")
        self.results = json.loads(path.read_text()) if path.is_file() else fresh
        if not isinstance(self.results, dict) or set(fresh) - set(self.results):
            raise ValueError(f"{path} is not a hierarchy-vs-flat results file (it lacks {sorted(set(fresh))})")
        stored = self.results["meta"]["protocol"]
        if stored != self.protocol.to_dict():
            diff = {k: (stored.get(k), v) for k, v in self.protocol.to_dict().items() if stored.get(k) != v}
            raise ValueError(f"{path} was made with other settings {diff} (stored, now): resume with the same "
                             "settings, or choose another --out")  # fmt: skip
        if self.tune:
            self.protocol.plan("tune", self.out)  # a tuning panel larger than the pool fails now
        if self.tuned_file:
            _frozen_points(Path(self.tuned_file), self.protocol.preset, self.grid.arms)  # a bad file fails now
        self.results["meta"]["commands"].append(self.command)
        self.results["meta"]["git_commit"] = _git_commit()

    # ------------------------------------------------------------------ stages
    def tuning_cells(self) -> list[Cell]:
        """The sweep: every arm at every point, K = 1 and the grid's largest K, the tuning seed."""
        ks = sorted({1, max(self.grid.ks)})
        return [Cell("tune", arm, k, TUNE_SEED, lr, t)
                for arm in self.grid.arms for k in ks for lr, t in self.protocol.sweep()]  # fmt: skip

    def report_cells(self, best: dict[str, dict[str, Any]]) -> list[Cell]:
        """Every (arm, K, seed) at its arm's frozen point."""
        return [Cell("report", arm, k, seed, best[arm]["lr"], best[arm]["temperature"])
                for k in self.grid.ks for seed in self.grid.seeds for arm in self.grid.arms]  # fmt: skip

    def estimate(self) -> str:
        """What the study will run and roughly how long it takes (`SECONDS_PER_STEP`, ``self.workers`` cores)."""
        preset = {arm: {"lr": 0.0, "temperature": 1.0} for arm in self.grid.arms}  # the cost does not depend on it
        stages = [("tune", self.tuning_cells())] if self.tune else []
        stages.append(("report", self.report_cells(preset)))
        lines, total = [], 0
        for stage, cells in stages:
            steps = estimate_env_steps(cells, self.protocol.plan(stage, self.out))
            total += steps
            lines.append(f"{stage}: {len(cells)} runs, ~{steps / 1e6:.2f}M env steps (training and evaluation)")
        cores = max(self.workers, 1)
        minutes = total * SECONDS_PER_STEP / cores / 60
        lines.append(f"estimate: ~{minutes:.0f} min on {cores} core(s) at {1e3 * SECONDS_PER_STEP:.1f} ms per env "
                     "step (measured with the cpu preset; games compiled; the bar's ETA measures)")  # fmt: skip
        return "\n".join(lines)

    def run_all(self) -> dict[str, Any]:
        """Tune (if asked), freeze the best points, train and evaluate the report's cells; returns results.json."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.save()
        print(self.estimate(), flush=True)
        best = self._tuning()
        self._execute(self.report_cells(best), "runs", self.protocol.plan("report", self.out))
        return self.results

    def _tuning(self) -> dict[str, dict[str, Any]]:
        """The frozen point of each arm: from a sweep here, from an earlier study's file, or the preset's."""
        tuning = self.results["tuning"]
        if self.tune:
            points, ks = self.protocol.sweep(), sorted({1, max(self.grid.ks)})
            self._execute(self.tuning_cells(), "cells", self.protocol.plan("tune", self.out))
            records = list(self.results["cells"].values())
            best = {arm: select_best(records, arm, points, ks) for arm in self.grid.arms}
            tuning.update({"source": "sweep", "seed": TUNE_SEED, "ks": ks, "split": STAGE_SPLITS["tune"],
                           "points": [list(p) for p in points], "best": best})  # fmt: skip
        elif self.tuned_file:
            best = _frozen_points(Path(self.tuned_file), self.protocol.preset, self.grid.arms)
            tuning.update({"source": f"file:{self.tuned_file}", "best": best})
        else:
            from hiper_agent.training.ppo_config import HiPERConfig

            base = HiPERConfig.from_preset(self.protocol.preset, **self.protocol.overrides)
            best = {arm: {"lr": base.ppo.lr, "temperature": base.agent.temperature} for arm in self.grid.arms}
            tuning.update({"source": f"preset {self.protocol.preset} (untuned)", "best": best})
        self.save()
        return best

    # ------------------------------------------------------------------ execution
    def _done(self, section: str, cell: Cell, plan: RunPlan) -> bool:
        record = self.results[section].get(cell.key)
        return record is not None and record.get("fingerprint") == config_fingerprint(cell_config(cell, plan))

    def _execute(self, cells: Sequence[Cell], section: str, plan: RunPlan) -> None:
        """Run the cells not done yet, most expensive first, and write each record as soon as it exists."""
        todo = sorted((c for c in cells if not self._done(section, c, plan)), key=lambda c: -c.k)
        stage = cells[0].stage if cells else section
        print(f"{stage}: {len(todo)} of {len(cells)} runs to train, {max(self.workers, 1)} at a time "
              f"({plan.split} panel of {plan.episodes} games)", flush=True)  # fmt: skip
        if not todo:
            return
        _compile_games([next(c for c in todo if c.k == k) for k in sorted({c.k for c in todo})], plan)
        from tqdm.auto import tqdm

        failed: dict[str, str] = {}
        with tqdm(total=sum(plan.budget(c.k) for c in todo), unit="step", unit_scale=True, desc=stage,
                  dynamic_ncols=True, smoothing=0.0) as bar:  # fmt: skip

            def finish(cell: Cell, record: dict[str, Any] | None, error: str | None) -> None:
                if record is not None:
                    self.results[section][cell.key] = record
                    self.results["errors"].pop(cell.key, None)
                    bar.set_postfix_str(f"{cell.key} {100 * record['final_success']:.0f}%")
                else:
                    failed[cell.key] = self.results["errors"][cell.key] = str(error)
                self.save()  # after every cell: --resume loses nothing
                bar.update(plan.budget(cell.k))

            if self.workers <= 0:  # in this process (tests, debugging)
                for cell in todo:
                    finish(cell, self.run(cell, plan), None)
            else:
                self._pool(todo, plan, finish, bar.refresh)
        if failed:
            raise RuntimeError(f"{len(failed)} run(s) failed (kept in results.json 'errors'; --resume retries "
                               f"them): {failed}")  # fmt: skip

    def _pool(
        self, todo: Sequence[Cell], plan: RunPlan, finish: Callable[..., None], refresh: Callable[[], Any]
    ) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: no forked torch threads
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_init_worker) as pool:
            futures: dict[Future[dict[str, Any]], Cell] = {pool.submit(self.run, c, plan): c for c in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=30, return_when=FIRST_COMPLETED)
                refresh()  # the elapsed time moves between finished runs too
                for future in done:
                    error = future.exception()
                    finish(futures[future], None if error else future.result(), None if error is None else
                           f"{type(error).__name__}: {error}")  # fmt: skip

    def save(self) -> None:
        """Write results.json atomically."""
        path = self.out / RESULTS_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.results, indent=1) + "\n")
        os.replace(tmp, path)  # a reader (or a kill) never sees half a file


def _frozen_points(path: Path, preset: str, arms: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The tuned point of each arm frozen in an earlier study's results.json (tuned on the same preset)."""
    try:
        stored = json.loads(path.read_text())
        frozen, tuned_on = stored["tuning"].get("best", {}), stored["meta"]["protocol"]["preset"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a hierarchy-vs-flat results file with tuned points ({err!r})") from err
    missing = [a for a in arms if a not in frozen]
    if missing or tuned_on != preset:
        raise ValueError(f"{path} holds no point tuned on preset {preset!r} for {missing or list(arms)} (it was "
                         f"tuned on {tuned_on!r})")  # fmt: skip
    return {arm: frozen[arm] for arm in arms}


def _init_worker() -> None:
    """One core per worker: the grid's parallelism is across cells."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def _compile_games(cells: Iterable[Cell], plan: RunPlan) -> None:
    """Build each K's training env and panel env once, here, before the workers start.

    Their games are compiled (``pool_size``) and cached, so the workers load them from disk instead of each
    compiling the same games at once.
    """
    import gymnasium as gym

    import hiper_envs  # noqa: F401  (registers the HiPER/* ids)

    for cell in cells:
        config = cell_config(cell, plan)
        for split in (config.env.env_kwargs.get("split", "train"), plan.split):
            env = gym.make(config.env.env_id, **{**config.env.env_kwargs, "split": split})
            env.close()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).parent)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
