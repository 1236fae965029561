"""One run of the study, in a worker process: train on the K mix with the trainer, then play the stage's panels.

The trainer's own evaluations (every ``eval_every`` iterations, on the first ``curve_episodes`` games of the
stage's panel at each K) give the learning curves. The final evaluation plays the whole panel of each K from the
saved policy, greedily: it gives the per-game outcomes that the bootstrap resamples and the option statistics
(the trainer's metrics keep neither). Panels are nested (game ``i`` with reset seed ``seed + i``), so on the
curve's games the final evaluation must reproduce the trainer's last point; the record keeps both and the report
flags a mismatch. A run returns one record per K: the (arm, K, seed) cells of results.json.

The panel's split is checked against the stage before anything is built (``check_split``): a tuning cell never
constructs a ``valid_unseen`` panel (the test suite also watches every panel, pool and env made).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.study.arms import Cell, RunPlan, cell_config, shaping_of
from benchmarks.study.stats import option_counts

__all__ = ["HELD_OUT_SPLIT", "STAGE_SPLITS", "check_split", "config_fingerprint", "run_cell"]

#: The split the reported numbers come from; no tuning cell may read it.
HELD_OUT_SPLIT = "valid_unseen"
#: The only split each stage evaluates on.
STAGE_SPLITS: dict[str, str] = {"tune": "valid_seen", "report": HELD_OUT_SPLIT}
# what does not change what a cell computes, left out of its fingerprint
_NOT_FINGERPRINTED = ("output_dir", "exp_name", "progress", "log_tensorboard", "overwrite", "resume")


def check_split(stage: str, split: str) -> None:
    """Raise unless ``split`` is the one split ``stage`` may evaluate on (tuning never sees the held-out one)."""
    if stage not in STAGE_SPLITS:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGE_SPLITS)}")
    if split != STAGE_SPLITS[stage]:
        raise ValueError(f"the {stage!r} stage evaluates on {STAGE_SPLITS[stage]!r} only, got a {split!r} panel")


def config_fingerprint(config: Any) -> str:
    """A short hash of every setting that changes what a cell computes (a resumed grid redoes a changed cell)."""
    flat = {k: v for k, v in config.to_flat_dict().items() if k not in _NOT_FINGERPRINTED}
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_cell(cell: Cell, plan: RunPlan) -> list[dict[str, Any]]:
    """Train one run and evaluate it on its stage's panel at every K; returns its records for results.json."""
    check_split(cell.stage, plan.split)
    config = cell_config(cell, plan)
    for panel in config.eval_panels():
        check_split(cell.stage, panel.split)
    from hiper_agent import EvalPanel, load_policy, train

    wall0, cpu0 = time.perf_counter(), time.process_time()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the grid's bar is the progress
        summary = train(config)
    history = summary["history"]
    train_seconds = time.perf_counter() - wall0
    rollouts = [r for r in history if r.get("rollout/success_rate") is not None]
    last = rollouts[-1] if rollouts else {}
    policy = load_policy(Path(summary["run_dir"]) / "policy")
    shared = {
        "stage": cell.stage,
        "arm": cell.arm,
        "seed": cell.seed,
        "lr": cell.lr,
        "temperature": cell.temperature,
        "run": cell.key,
        "fingerprint": config_fingerprint(config),
        "train": {
            "env_steps": int(max((r.get("rollout/total_env_steps", 0) for r in history), default=0)),
            "episodes": int(max((r.get("rollout/total_episodes", 0) for r in history), default=0)),
            "iterations": len(rollouts),
            "last_rollout": {
                k.removeprefix("rollout/"): last[k]
                for k in (
                    "rollout/success_rate",
                    "rollout/episode_length",
                    "rollout/segments_per_episode",
                    "rollout/subgoal_achieved_rate",
                )
                if k in last
            },
        },
        "policy": config.agent.policy,
        "advantage_estimator": config.credit.advantage_estimator,
        "group_size": config.env.group_size,
        "shaping": shaping_of(config),
        "budget": config.ppo.total_env_steps,
    }
    records = []
    for k in plan.ks:
        key = f"eval/{plan.split}/k{k}/success_rate"
        curve = [[int(r.get("rollout/total_env_steps", 0)), float(r[key])] for r in history if r.get(key) is not None]
        panel = EvalPanel(config.env.env_id, plan.split, plan.episodes, plan.panel_seed, k)
        check_split(cell.stage, panel.split)
        outcomes, episodes = _final_evaluation(config, panel, policy)
        curve_games = config.evaluation.eval_episodes
        records.append(
            {
                "key": cell.record_key(k),
                "K": k,
                **shared,
                "panel": panel.name,
                "final_success": sum(outcomes) / len(outcomes),
                "outcomes": "".join(str(o) for o in outcomes),  # game i of the panel: 1 won, 0 lost
                "trainer_final_success": curve[-1][1] if curve else None,  # on the curve's games:
                "replay_curve_games_success": sum(outcomes[:curve_games]) / curve_games,  # the same number, replayed
                "curve": curve,
                "options": option_counts(episodes).to_dict(),
                # won and lost games apart: a mean over both hides long options that win beside 1-step ones that lose
                "options_by_outcome": {
                    name: option_counts([e for e, o in zip(episodes, outcomes, strict=True) if o == won]).to_dict()
                    for name, won in (("won", 1), ("lost", 0))
                },
            }
        )
    seconds = {
        "wall": time.perf_counter() - wall0,
        "train_wall": train_seconds,
        "cpu": time.process_time() - cpu0,
        **{
            f"{part}_wall": sum(r.get(f"time/{part}_s", 0.0) for r in history) for part in ("rollout", "update", "eval")
        },
    }
    for record in records:
        record["seconds"] = seconds  # the run's, shared by its K's
    return records


def _final_evaluation(config: Any, panel: Any, policy: Any) -> tuple[list[int], list[list[list[tuple[bool, bool]]]]]:
    """Play ``panel`` greedily as the trainer does; per game won (0/1) and its options' per-turn subgoal flags."""
    from hiper_agent import evaluate
    from hiper_agent.envs.pool import SyncEnvPool, make_env_fns

    size = min(config.env.num_envs, panel.episodes)  # the trainer's evaluation batch: the same greedy choices
    pool = SyncEnvPool(make_env_fns(config.env.env_id, size, **config.eval_env_kwargs(panel)))
    policy.eval()
    try:
        result = evaluate(pool, policy, panel, greedy=True)
    finally:
        pool.close()
    outcomes = [int(t.won) for t in result.trajectories]
    episodes = [
        [[(turn.subgoal is not None, bool(turn.subgoal_achieved)) for turn in seg] for seg in t.segments]
        for t in result.trajectories
    ]
    return outcomes, episodes
