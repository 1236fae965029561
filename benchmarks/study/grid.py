"""The study's grid runner: tune on ``valid_seen``, freeze the best point, report on ``valid_unseen``.

Every run trains on the grid's K mix and is scored at each K (``arms.py``), so one run fills the (arm, K, seed)
cells of every K.

1. **Tune** (``--full`` or ``--tune``): every arm trains at the same sweep points (learning rate × sampling
   temperature) with one seed (`TUNE_SEED`) and is scored on a validation panel of ``valid_seen`` games per K.
   The best point per arm (mean final validation success at K = 1 and the grid's largest K; ties: the higher
   mean curve, then the earlier point) is frozen in ``results.json["tuning"]["best"]``.
2. **Report**: every (arm, seed) run trains with its arm's frozen point, seeds disjoint from the tuning seed,
   and is scored on ``valid_unseen`` panels that no tuning run constructed (``runner.check_split``).

Without tuning the report reads the frozen points of an earlier study (``--tuned FILE``) or, failing that, uses
the preset's own settings for every arm, and says so in ``results.json["tuning"]["source"]``.

Runs go to worker processes (one core each); each finished run's records are written to ``results.json`` at
once (atomically), so a killed grid resumes (``--resume``) without redoing a finished run. A run is done when the
records of all its K's are there and were made with the same settings (``fingerprint``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.study.arms import ARMS, Cell, RunPlan, cell_config
from benchmarks.study.protocol import SECONDS_PER_STEP, TUNE_SEED, Grid, Protocol, estimate_env_steps, select_best
from benchmarks.study.runner import STAGE_SPLITS, config_fingerprint, run_cell

__all__ = ["RESULTS_FILE", "Study"]

RESULTS_FILE = "results.json"


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
    run: Callable[[Cell, RunPlan], list[dict[str, Any]]] = run_cell
    results: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        unknown = [a for a in self.grid.arms if a not in ARMS]
        if unknown:
            raise ValueError(f"unknown arm(s) {unknown}; arms: {', '.join(ARMS)}")
        if TUNE_SEED in self.grid.seeds:
            raise ValueError(f"seed {TUNE_SEED} is the tuning seed; the report needs fresh seeds")
        path = self.out / RESULTS_FILE
        fresh = {
            "meta": {"protocol": self.protocol.to_dict(), "commands": []},
            "tuning": {},
            "cells": {},
            "runs": {},
            "errors": {},
        }
        if path.is_file() and not self.resume:
            raise FileExistsError(f"{path} exists: pass --resume to complete it, or choose another --out")
        self.results = json.loads(path.read_text()) if path.is_file() else fresh
        if not isinstance(self.results, dict) or set(fresh) - set(self.results):
            raise ValueError(f"{path} is not a hierarchy-vs-flat results file (it lacks {sorted(set(fresh))})")
        stored = self.results["meta"]["protocol"]
        if stored != self.protocol.to_dict():
            diff = {k: (stored.get(k), v) for k, v in self.protocol.to_dict().items() if stored.get(k) != v}
            raise ValueError(
                f"{path} was made with other settings {diff} (stored, now): resume with the same "
                "settings, or choose another --out"
            )
        for arm in self.grid.arms:  # bad settings (an uneven K mix, a clashing --set) fail now, before anything runs
            cell_config(Cell("report", arm, self.grid.seeds[0], 1e-3, 1.0), self.plan("report"))
        if self.tune:
            self.plan("tune")  # a tuning panel larger than the pool fails now
        if self.tuned_file:
            _frozen_points(Path(self.tuned_file), self.protocol.preset, self.grid.arms)  # a bad file fails now
        self.results["meta"]["commands"].append(self.command)
        self.results["meta"]["git_commit"] = _git_commit()

    # ------------------------------------------------------------------ stages
    def tuning_cells(self) -> list[Cell]:
        """The sweep: every arm at every point, with the tuning seed."""
        return [Cell("tune", arm, TUNE_SEED, lr, t) for arm in self.grid.arms for lr, t in self.protocol.sweep()]

    def report_cells(self, best: dict[str, dict[str, Any]]) -> list[Cell]:
        """Every (arm, seed) at its arm's frozen point."""
        return [
            Cell("report", arm, seed, best[arm]["lr"], best[arm]["temperature"])
            for seed in self.grid.seeds
            for arm in self.grid.arms
        ]

    def plan(self, stage: str) -> RunPlan:
        """The settings every run of ``stage`` shares."""
        return self.protocol.plan(stage, self.out, self.grid.ks)

    def estimate(self) -> str:
        """What the study will run and roughly how long it takes (`SECONDS_PER_STEP`, ``self.workers`` cores)."""
        preset = {arm: {"lr": 0.0, "temperature": 1.0} for arm in self.grid.arms}  # the cost does not depend on it
        stages = [("tune", self.tuning_cells())] if self.tune else []
        stages.append(("report", self.report_cells(preset)))
        lines, total = [], 0
        for stage, cells in stages:
            steps = estimate_env_steps(len(cells), self.plan(stage))
            total += steps
            lines.append(f"{stage}: {len(cells)} runs, ~{steps / 1e6:.2f}M env steps (training and evaluation)")
        cores = max(self.workers, 1)
        minutes = total * SECONDS_PER_STEP / cores / 60
        lines.append(
            f"estimate: ~{minutes:.0f} min on {cores} core(s) at {1e3 * SECONDS_PER_STEP:.1f} ms per env "
            "step (calibrated on the default grid's measured time; games compiled; the bar's ETA measures)"
        )
        return "\n".join(lines)

    def run_all(self) -> dict[str, Any]:
        """Tune (if asked), freeze the best points, train and evaluate the report's cells; returns results.json."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.save()
        print(self.estimate(), flush=True)
        best = self._tuning()
        self._execute(self.report_cells(best), "runs", self.plan("report"))
        return self.results

    def _tuning(self) -> dict[str, dict[str, Any]]:
        """The frozen point of each arm: from a sweep here, from an earlier study's file, or the preset's."""
        tuning = self.results["tuning"]
        if self.tune:
            points, ks = self.protocol.sweep(), sorted({1, max(self.grid.ks)})
            self._execute(self.tuning_cells(), "cells", self.plan("tune"))
            records = list(self.results["cells"].values())
            best = {arm: select_best(records, arm, points, ks) for arm in self.grid.arms}
            tuning.update(
                {
                    "source": "sweep",
                    "seed": TUNE_SEED,
                    "ks": ks,
                    "split": STAGE_SPLITS["tune"],
                    "points": [list(p) for p in points],
                    "best": best,
                }
            )
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
        fingerprint = config_fingerprint(cell_config(cell, plan))
        records = [self.results[section].get(cell.record_key(k)) for k in plan.ks]
        return all(r is not None and r.get("fingerprint") == fingerprint for r in records)

    def _execute(self, cells: Sequence[Cell], section: str, plan: RunPlan) -> None:
        """Run the runs not done yet and write each one's records as soon as they exist."""
        todo = [c for c in cells if not self._done(section, c, plan)]
        stage = cells[0].stage if cells else section
        print(
            f"{stage}: {len(todo)} of {len(cells)} runs to train, {max(self.workers, 1)} at a time "
            f"({plan.split} panel of {plan.episodes} games)",
            flush=True,
        )
        if not todo:
            return
        _compile_games(todo[0], plan)
        from tqdm.auto import tqdm

        failed: dict[str, str] = {}
        with tqdm(
            total=plan.budget * len(todo), unit="step", unit_scale=True, desc=stage, dynamic_ncols=True, smoothing=0.0
        ) as bar:

            def finish(cell: Cell, records: list[dict[str, Any]] | None, error: str | None) -> None:
                if records is not None:
                    for record in records:
                        self.results[section][record["key"]] = record
                    self.results["errors"].pop(cell.key, None)
                    bar.set_postfix_str(
                        f"{cell.key} " + " ".join(f"K{r['K']} {100 * r['final_success']:.0f}%" for r in records)
                    )
                else:
                    failed[cell.key] = self.results["errors"][cell.key] = str(error)
                self.save()  # after every run: --resume loses nothing
                bar.update(plan.budget)

            if self.workers <= 0:  # in this process (tests, debugging)
                for cell in todo:
                    finish(cell, self.run(cell, plan), None)
            else:
                self._pool(todo, plan, finish, bar.refresh)
        if failed:
            raise RuntimeError(
                f"{len(failed)} run(s) failed (kept in results.json 'errors'; --resume retries them): {failed}"
            )

    def _pool(
        self, todo: Sequence[Cell], plan: RunPlan, finish: Callable[..., None], refresh: Callable[[], Any]
    ) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: no forked torch threads
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_init_worker) as pool:
            futures: dict[Future[list[dict[str, Any]]], Cell] = {pool.submit(self.run, c, plan): c for c in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=30, return_when=FIRST_COMPLETED)
                refresh()  # the elapsed time moves between finished runs too
                for future in done:
                    error = future.exception()
                    finish(
                        futures[future],
                        None if error else future.result(),
                        None if error is None else f"{type(error).__name__}: {error}",
                    )

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
        raise ValueError(
            f"{path} holds no point tuned on preset {preset!r} for {missing or list(arms)} (it was "
            f"tuned on {tuned_on!r})"
        )
    return {arm: frozen[arm] for arm in arms}


def _init_worker() -> None:
    """One core per worker: the grid's parallelism is across cells."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def _compile_games(cell: Cell, plan: RunPlan) -> None:
    """Build each K's training env and panel envs once, here, before the workers start.

    Their games are compiled (``pool_size``) and cached, so the workers load them from disk instead of each
    compiling the same games at once.
    """
    import gymnasium as gym

    import hiper_envs  # noqa: F401  (registers the HiPER/* ids)
    from hiper_agent import EvalPanel

    config = cell_config(cell, plan)
    kwargs = list({json.dumps(kw, sort_keys=True): kw for kw in config.train_env_kwargs()}.values())
    for episodes in sorted({config.evaluation.eval_episodes, plan.episodes}):  # the curve's panels, the final's
        for k in plan.ks:
            kwargs.append(
                config.eval_env_kwargs(EvalPanel(config.env.env_id, plan.split, episodes, plan.panel_seed, k))
            )
    for kw in kwargs:
        gym.make(config.env.env_id, **kw).close()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
