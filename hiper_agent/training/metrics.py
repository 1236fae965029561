"""Run metrics: the key list, a JSONL + TensorBoard logger, a progress bar and the one-line summary.

The learning-curve plot drawn from these records is in `hiper_agent.training.plotting`.

Every metric has a namespaced key listed in `METRIC_KEYS` (and in docs/training.md); add new keys there
rather than inventing them in the trainer. Records are `{"step": int, <key>: number, ...}`, one JSON line
each in `run_dir/metrics.jsonl`. Steps: -1 is before and during the SFT warm start, 0 is before the first PPO
iteration (the baseline evaluation), `k` is PPO iteration `k`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hiper_agent.training.ppo_config import HiPERConfig

__all__ = ["METRIC_KEYS", "MetricsLogger", "ProgressBar", "format_summary", "read_metrics"]

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tb"

# Episode statistics, logged for training rollouts (`rollout/`) and held-out evaluation (`eval/`).
_EPISODE_STATS: dict[str, str] = {
    "success_rate": "Fraction of episodes won.",
    "score": "Mean env score in [0, 1] (ALFWorld: won; WebShop: purchase reward).",
    "episode_return": "Mean env return (unshaped; the shaped one is train/shaped_return).",
    "episode_length": "Mean steps per episode.",
    "episodes": "Number of episodes played.",
    "invalid_rate": "Fraction of steps whose action was invalid (info['invalid_action']).",
    "format_error_rate": "Fraction of responses missing or mangling the <switch>/<subgoal>/<action> blocks.",
    "segments_per_episode": "Mean number of options (subgoal segments) per episode.",
    "mean_option_length": "Mean steps per option over the batch's options (total steps / options); 1 means the "
    "planner picks a new subgoal at every step.",
    "one_step_option_share": "Fraction of options that lasted a single step.",
    "subgoal_achieved_rate": "Fraction of steps whose subgoal the env verified as achieved.",
    "tokens_per_s": "Decision units (LLM: generated tokens; scorer: choices) per second of rollout wall time.",
    "steps_per_s": "Env steps per second of rollout wall time (resets and policy time included).",
}
# Only held-out evaluation: the panel's 95 % interval and the success of each task type.
_EVAL_ONLY: dict[str, str] = {
    "success/<task_type>": "Success rate of one task type (e.g. pick_and_place_simple).",
    "success_ci_low": "Lower end of the Wilson 95 % interval of success_rate.",
    "success_ci_high": "Upper end of the Wilson 95 % interval of success_rate.",
}

#: Every metric key and its meaning. `<task_type>` stands for one path component (a task type name).
METRIC_KEYS: dict[str, str] = {
    **{f"rollout/{k}": f"Training rollouts: {v[0].lower()}{v[1:]}" for k, v in _EPISODE_STATS.items()},
    **{
        f"eval/<split>/{k}": f"Held-out evaluation on the split's fixed panel: {v[0].lower()}{v[1:]}"
        for k, v in {**_EPISODE_STATS, **_EVAL_ONLY}.items()
    },
    **{
        f"eval/<split>/k<num_subtasks>/{k}": f"Held-out evaluation on the split's fixed panel of K-subtask games "
        f"(eval_num_subtasks; e.g. eval/valid_unseen/k2/success_rate): {v[0].lower()}{v[1:]}"
        for k, v in {**_EPISODE_STATS, **_EVAL_ONLY}.items()
    },
    "rollout/total_episodes": "Training episodes played so far in the run.",
    "rollout/total_env_steps": "Training env steps taken so far in the run (the budget axis for comparisons).",
    # PPO update
    "train/policy_loss": "Clipped PPO surrogate loss (mean over response tokens).",
    "train/value_loss": "Mean of the heads' value losses (one head for gae).",
    "train/shaped_return": "Mean shaped return the estimator saw: reward_scale·reward plus bonuses and penalties.",
    "train/value_loss_low": "Value loss of the low-level (within-segment) head.",
    "train/value_loss_high": "Value loss of the high-level (segment) head.",
    "train/value_loss_switch": "Value loss of the switch (termination) head.",
    "train/kl": "KL(policy || reference) by kl_estimator, mean over response tokens.",
    "train/approx_kl": "KL between the rollout policy and the updated policy (size of the update).",
    "train/clip_fraction": "Fraction of tokens whose probability ratio was clipped.",
    "train/entropy": "Mean token entropy of the policy on the batch.",
    "train/grad_norm": "Policy gradient norm before clipping.",
    "train/advantage_mean": "Mean over episodes of the per-turn advantage (hae: the executor's), after norm_adv's "
    "whitening (so near 0 when norm_adv is on).",
    # Supervised warm start (logged at step -1)
    "sft/loss": "The warm start's loss at its last optimizer step (LLM: cross-entropy of the expert's response "
    "tokens; scorer: negative log-likelihood of the expert's choices).",
    "sft/loss_first": "The loss of the first optimizer step.",
    "sft/steps": "Optimizer steps of the warm start.",
    # Wall-clock time
    "time/iteration_s": "Seconds spent in the iteration (rollout, update and any evaluation).",
    "time/rollout_s": "Seconds spent generating and stepping envs.",
    "time/update_s": "Seconds spent in PPO updates.",
    "time/eval_s": "Seconds spent in the evaluation.",
    "time/elapsed_s": "Run wall time so far, without the time between a crash and its resume (added by the logger).",
}

# `<placeholder>` in a key matches one path component.
_KEY_PATTERNS = [re.compile("^" + re.sub(r"<[a-z_]+>", "[^/]+", re.escape(k)) + "$") for k in METRIC_KEYS if "<" in k]


def is_known_key(key: str) -> bool:
    """Whether `key` is listed in `METRIC_KEYS` (directly or through a `<placeholder>`)."""
    return key in METRIC_KEYS or any(p.match(key) for p in _KEY_PATTERNS)


def _clean_value(key: str, value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "item"):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON has no NaN; None marks "not a number"
    raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__} {value!r}.")


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Reads `metrics.jsonl` (or a run directory holding one); a torn last line from a crash is skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    records = []
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class MetricsLogger:
    """Appends metric records to `run_dir/metrics.jsonl` and TensorBoard, and prints a compact console line.

    On resume (`resume_step=k`), records with step > k are dropped from `metrics.jsonl` and purged from
    TensorBoard, so the files end up as if the run had never been interrupted. If `metrics.jsonl` is gone,
    `history` (e.g. the checkpoint's `trainer_state["metrics_history"]`) rebuilds it. A fresh start
    (`resume_step=None`) empties both. Log all of an iteration's metrics before saving its checkpoint.

    Example:
        >>> import tempfile
        >>> with MetricsLogger(tempfile.mkdtemp(), tensorboard=False, console=False) as logger:
        ...     record = logger.log(1, {"rollout/success_rate": 0.5})
        >>> record["rollout/success_rate"]
        0.5
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        resume_step: int | None = None,
        history: Iterable[Mapping[str, Any]] | None = None,
        tensorboard: bool = True,
        console: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / METRICS_FILE
        self.console = console
        self._clock = clock
        self._warned: set[str] = set()
        if resume_step is None:
            self.history: list[dict[str, Any]] = []
            shutil.rmtree(self.run_dir / TENSORBOARD_DIR, ignore_errors=True)  # a previous attempt's events
        else:
            source = read_metrics(self.path) if self.path.is_file() else [dict(r) for r in history or []]
            self.history = [r for r in source if r["step"] <= resume_step]
        tmp = self.path.with_name(METRICS_FILE + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self.history))
        os.replace(tmp, self.path)
        elapsed = [r["time/elapsed_s"] for r in self.history if r.get("time/elapsed_s") is not None]
        self._elapsed_offset = float(elapsed[-1]) if elapsed else 0.0
        self._start = clock()
        self._file = open(self.path, "a")  # noqa: SIM115 - closed in close()
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_step is None else resume_step + 1
            self._writer = SummaryWriter(log_dir=str(self.run_dir / TENSORBOARD_DIR), purge_step=purge)

    def log(self, step: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """Writes one record and returns it (with `step` and `time/elapsed_s` added).

        Args:
            step: -1 for the SFT warm start, 0 before the first PPO iteration, else the iteration (1-based).
            metrics: Key -> number; keys should be in `METRIC_KEYS` (others are logged, with one warning).
                Non-finite floats are stored as null and skipped in TensorBoard.
        """
        if step < -1:
            raise ValueError(f"step ({step}) must be >= -1 (-1 = SFT warm start, 0 = before PPO, k = iteration k).")
        record: dict[str, Any] = {"step": int(step)}
        for key, value in metrics.items():
            if not is_known_key(key) and key not in self._warned:
                self._warned.add(key)
                warnings.warn(
                    f"metric key {key!r} is not in hiper_agent.training.metrics.METRIC_KEYS; add it there and to "
                    "docs/training.md (or use an existing key).",
                    stacklevel=2,
                )
            record[key] = _clean_value(key, value)
        record.setdefault("time/elapsed_s", round(self._elapsed_offset + self._clock() - self._start, 3))
        self.history.append(record)
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._writer is not None:
            for key, value in record.items():
                if key != "step" and value is not None:
                    self._writer.add_scalar(key, value, global_step=step)
            self._writer.flush()
        if self.console:
            _print(_console_line(record))
        return record

    def close(self) -> None:
        """Flushes and closes the files (idempotent)."""
        if not self._file.closed:
            self._file.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _print(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line)  # goes above an active progress bar instead of through it


# (key, label, format) shown on the console and in the progress bar, when present.
_CONSOLE = [
    ("rollout/success_rate", "success", "{:.1%}"),
    ("eval/valid_seen/success_rate", "seen", "{:.1%}"),
    ("eval/valid_unseen/success_rate", "unseen", "{:.1%}"),
    ("rollout/episode_return", "return", "{:.2f}"),
    ("rollout/episode_length", "len", "{:.1f}"),
    ("train/policy_loss", "pg", "{:.4f}"),
    ("train/kl", "kl", "{:.4f}"),
    ("sft/loss", "sft_loss", "{:.4f}"),
    ("rollout/tokens_per_s", "tok/s", "{:.0f}"),
    ("time/iteration_s", "iter_s", "{:.1f}"),
]


def _console_line(record: Mapping[str, Any]) -> str:
    parts = [f"{label} {fmt.format(record[key])}" for key, label, fmt in _CONSOLE if record.get(key) is not None]
    return f"[step {record['step']}] " + " | ".join(parts or [f"{len(record) - 1} metrics"])


class ProgressBar:
    """A tqdm bar over iterations showing success rate, eval success, mean return and tokens/s.

    Example:
        >>> bar = ProgressBar(total=3, enabled=False)
        >>> bar.update({"rollout/success_rate": 0.25})
        >>> bar.close()
    """

    def __init__(self, total: int, initial: int = 0, *, enabled: bool = True, desc: str = "HiPER") -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, initial=initial, desc=desc, unit="iter", disable=not enabled, dynamic_ncols=True)
        self._shown: dict[str, str] = {}

    def update(self, metrics: Mapping[str, Any], n: int = 1) -> None:
        """Advances by `n` iterations and refreshes the shown values (the last eval value stays shown)."""
        for key, label, fmt in _CONSOLE[:5] + _CONSOLE[8:9]:
            if metrics.get(key) is not None:
                self._shown[label] = fmt.format(metrics[key])
        self._bar.set_postfix(self._shown, refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        """Closes the bar."""
        self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _rate(record: Mapping[str, Any], prefix: str) -> str:
    """``62.0% [57.7, 66.1]``: a success rate with its 95 % interval when the record has one."""
    text = f"{record[f'{prefix}/success_rate']:.1%}"
    low, high = record.get(f"{prefix}/success_ci_low"), record.get(f"{prefix}/success_ci_high")
    return text if low is None or high is None else f"{text} [{100 * low:.1f}, {100 * high:.1f}]"


def _composite(records: list[dict[str, Any]], prefix: str) -> list[str]:
    """``K=2 3.0% -> 21.5% [16.4, 27.6]``, one per K > 1 panel of a composite evaluation of ``prefix``'s split."""
    pattern = re.compile("^" + re.escape(prefix) + r"/k(\d+)/success_rate$")
    ks = sorted({int(m.group(1)) for r in records for k in r if (m := pattern.match(k))})
    out = []
    for k in ks:
        if k == 1:
            continue  # the K = 1 panel is the split's own figure
        sub = f"{prefix}/k{k}"
        points = [r for r in records if r.get(f"{sub}/success_rate") is not None and r["step"] >= 0]
        if points:
            first, last = points[0], points[-1]
            text = _rate(last, sub) if first is last else f"{first[f'{sub}/success_rate']:.1%} -> {_rate(last, sub)}"
            out.append(f"K={k} {text}")
    return out


def _count(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def format_summary(
    history: Iterable[Mapping[str, Any]],
    *,
    config: HiPERConfig | None = None,
    plot_path: str | os.PathLike[str] | None = None,
    seconds: float | None = None,
) -> str:
    """One line for the end of a run, e.g.

    `HiPER(hae) on HiPER/ALFWorld-v0: eval success 12.0% -> 41.0% (+29.0 pts, 100 episodes each), 30 iters,
    24m13s, plot: runs/x/learning_curve.png`. The change is measured from the first evaluation at step >= 0
    (after any SFT warm start); an evaluation at step -1 is quoted as "before SFT". Without evaluations it
    reports the training rollouts' success rate instead.

    Args:
        history: The records (`MetricsLogger.history` or `read_metrics(...)`).
        config: Names the estimator and env in the line.
        plot_path: The learning-curve file, when one was written.
        seconds: Run wall time; by default the last `time/elapsed_s` logged.
    """
    records = list(history)
    head = "HiPER" if config is None else f"HiPER({config.credit.advantage_estimator}) on {config.env.env_id}"
    parts = []
    splits = sorted(
        {
            k.split("/")[1]
            for r in records
            for k in r
            if k.startswith("eval/") and k.endswith("/success_rate") and k.count("/") == 2
        }
    )
    for key in [f"eval/{s}/success_rate" for s in splits] or ["rollout/success_rate"]:
        prefix = key.rsplit("/", 1)[0]
        label = f"{prefix.split('/', 1)[1]} success" if prefix.startswith("eval/") else "train success"
        points = [r for r in records if r.get(key) is not None and r["step"] >= 0]
        if not points:
            continue
        first, last = points[0], points[-1]
        episodes = [r.get(f"{prefix}/episodes") for r in (first, last)]
        if first is last:
            text = f"{label} {_rate(first, prefix)}"
            details = [f"{_count(episodes[0])} episodes"] if episodes[0] else []
        else:
            text = f"{label} {_rate(first, prefix)} -> {_rate(last, prefix)}"
            details = [f"{100 * (last[key] - first[key]):+.1f} pts"]
            if episodes[0] and episodes[0] == episodes[1]:
                details.append(f"{_count(episodes[0])} episodes each")
            elif episodes[0] and episodes[1]:
                details.append(f"{_count(episodes[0])} and {_count(episodes[1])} episodes")
        scores = [r.get(f"{prefix}/score") for r in (first, last)]
        if None not in scores and any(r.get(f"{prefix}/score") != r.get(key) for r in points):  # graded, not won/lost
            details.append(f"score {scores[0]:.3f}" + ("" if first is last else f" -> {scores[1]:.3f}"))
        before_sft = [r[key] for r in records if r.get(key) is not None and r["step"] < 0]
        if before_sft:
            details.append(f"{before_sft[0]:.1%} before SFT")
        details.extend(_composite(records, prefix))
        parts.append(text + (f" ({', '.join(details)})" if details else ""))
    totals = [r for r in records if r.get("rollout/total_episodes") is not None]
    if totals:
        parts.append(f"{_count(totals[-1]['rollout/total_episodes'])} training episodes")
    if not parts:
        parts.append("no success metrics logged")
    iterations = [r["step"] for r in records if r["step"] > 0 and any(k.startswith(("rollout/", "train/")) for k in r)]
    parts.append(f"{max(iterations, default=0)} iters")
    if seconds is None:
        elapsed = [r["time/elapsed_s"] for r in records if r.get("time/elapsed_s") is not None]
        seconds = elapsed[-1] if elapsed else None
    if seconds is not None:
        parts.append(_duration(seconds))
    if plot_path is not None:
        parts.append(f"plot: {plot_path}")
    return f"{head}: " + ", ".join(parts)
