"""Metrics: JSONL + TensorBoard logging, resume truncation, the key list, progress bar, plot and summary."""

import json
import math
import re
from pathlib import Path

import pytest

from hiper_agent.training.metrics import (
    METRIC_KEYS,
    MetricsLogger,
    ProgressBar,
    format_summary,
    is_known_key,
    read_metrics,
)
from hiper_agent.training.plotting import plot_learning_curve
from hiper_agent.training.ppo_config import HiPERConfig


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _log_run(run_dir, steps, clock, resume_step=None):
    with MetricsLogger(run_dir, resume_step=resume_step, tensorboard=False, console=False, clock=clock) as logger:
        for step in steps:
            clock.now += 10.0
            logger.log(step, {"rollout/success_rate": step / 10, "train/kl": 0.01 * step})
    return logger


def test_jsonl_records_and_elapsed_time(tmp_path):
    clock = FakeClock()
    logger = _log_run(tmp_path, [0, 1, 2], clock)
    records = read_metrics(tmp_path)
    assert records == logger.history
    assert [r["step"] for r in records] == [0, 1, 2]
    assert records[2] == {"step": 2, "rollout/success_rate": 0.2, "train/kl": 0.02, "time/elapsed_s": 30.0}


def test_resume_truncates_to_match_an_uninterrupted_run(tmp_path):
    straight, resumed = tmp_path / "a", tmp_path / "b"
    _log_run(straight, [0, 1, 2, 3, 4], FakeClock())
    # Crash after iteration 3 while the last checkpoint is iteration 2; then resume from it.
    clock = FakeClock()
    _log_run(resumed, [0, 1, 2, 3], clock)
    with (resumed / "metrics.jsonl").open("a") as f:
        f.write('{"step": 4, "rollout/succ')  # torn line from the kill
    clock.now = 1000.0  # time passes before the restart: not counted in elapsed time
    logger = _log_run(resumed, [3, 4], FakeClock(), resume_step=2)
    assert [r["step"] for r in logger.history] == [0, 1, 2, 3, 4]
    assert read_metrics(resumed) == read_metrics(straight)


def test_resume_rebuilds_from_history_when_file_is_missing(tmp_path):
    history = [{"step": 0, "eval/success_rate": 0.1}, {"step": 1, "rollout/success_rate": 0.2}]
    with MetricsLogger(tmp_path, resume_step=0, history=history, tensorboard=False, console=False):
        pass
    assert read_metrics(tmp_path) == history[:1]


def test_fresh_start_empties_previous_files(tmp_path):
    _log_run(tmp_path, [0, 1], FakeClock())
    _log_run(tmp_path, [0], FakeClock())
    assert [r["step"] for r in read_metrics(tmp_path)] == [0]


def test_values_are_cleaned_and_validated(tmp_path):
    import numpy as np
    import torch

    with MetricsLogger(tmp_path, tensorboard=False, console=False) as logger:
        record = logger.log(
            1, {"eval/valid_seen/episodes": np.int64(8), "train/kl": torch.tensor(0.5), "train/entropy": math.nan}
        )
        assert record["eval/valid_seen/episodes"] == 8 and record["train/kl"] == 0.5 and record["train/entropy"] is None
        with pytest.raises(TypeError, match="must be a number"):
            logger.log(1, {"train/kl": "high"})
        with pytest.raises(ValueError, match="must be >= -1"):
            logger.log(-2, {})
        with pytest.warns(UserWarning, match="'train/new_thing' is not in"):
            logger.log(2, {"train/new_thing": 1.0})
    json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])  # NaN was stored as valid JSON


def test_known_keys_and_placeholders():
    assert is_known_key("rollout/success_rate") and is_known_key("eval/valid_seen/success/pick_and_place_simple")
    assert is_known_key("eval/valid_unseen/success_ci_low") and is_known_key("rollout/total_env_steps")
    assert not is_known_key("eval/valid_seen/success/a/b") and not is_known_key("rollout/sucess_rate")
    assert not is_known_key("rollout/success_ci_low")  # intervals belong to the fixed evaluation panels
    assert all(re.fullmatch(r"[a-z]+/[a-z_<>/]+", k) for k in METRIC_KEYS)


def test_tensorboard_event_file_written_and_purged_on_resume(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with MetricsLogger(tmp_path, console=False) as logger:
        for step in range(4):
            logger.log(step, {"rollout/success_rate": step / 4})
    with MetricsLogger(tmp_path, resume_step=1, console=False) as logger:
        logger.log(2, {"rollout/success_rate": 0.9})
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    values = {e.step: round(e.value, 3) for e in events.Scalars("rollout/success_rate")}
    assert values == {0: 0.0, 1: 0.25, 2: 0.9}


def test_console_line_and_progress_bar(tmp_path, capsys):
    with MetricsLogger(tmp_path, tensorboard=False, console=True) as logger:
        logger.log(
            3, {"rollout/success_rate": 0.25, "eval/valid_seen/success_rate": 0.5, "rollout/tokens_per_s": 612.4}
        )
    out = capsys.readouterr().out
    assert "[step 3] success 25.0% | seen 50.0%" in out and "tok/s 612" in out
    with ProgressBar(total=5, initial=2, enabled=True) as bar:
        bar.update({"rollout/success_rate": 0.5, "rollout/episode_return": 3.0})
        bar.update({"rollout/tokens_per_s": 100.0})
        assert bar._bar.n == 4
        assert bar._shown == {"success": "50.0%", "return": "3.00", "tok/s": "100"}
    assert "4/5" in capsys.readouterr().err


def _synthetic_history(iterations=12):
    history = [
        {"step": -1, "eval/valid_seen/success_rate": 0.02, "eval/valid_seen/episodes": 20},
        {"step": -1, "sft/loss": 1.5},
    ]
    for it in range(iterations + 1):
        record = {"step": it, "time/elapsed_s": 60.0 * it + 13}
        if it > 0:
            record.update(
                {
                    "rollout/success_rate": min(1.0, 0.05 * it),
                    "rollout/episode_length": 20 - it,
                    "train/policy_loss": 0.1 / it,
                    "train/kl": 0.001 * it,
                }
            )
        if it % 4 == 0:
            rate = 0.1 + 0.03 * it
            record.update(
                {
                    "eval/valid_seen/success_rate": rate,
                    "eval/valid_seen/episodes": 20,
                    "eval/valid_seen/success_ci_low": rate - 0.1,
                    "eval/valid_seen/success_ci_high": rate + 0.1,
                    "eval/valid_seen/episode_length": 19 - it,
                    "rollout/total_episodes": 8.0 * it,
                }
            )
        history.append(record)
    return history


def test_plot_learning_curve_from_a_metrics_file(tmp_path):
    HiPERConfig.from_preset("cpu").save(tmp_path)
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _synthetic_history()))
    out = plot_learning_curve(tmp_path / "metrics.jsonl", tmp_path / "curve.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    with pytest.raises(ValueError, match="no success rate"):
        plot_learning_curve([{"step": 0, "sft/loss": 1.0}], tmp_path / "empty.png")


def test_summary_line():
    config = HiPERConfig.from_preset("cpu")
    line = format_summary(_synthetic_history(), config=config, plot_path=Path("runs/x/learning_curve.png"))
    assert line == (
        "HiPER(hae) on HiPER/ALFWorld-v0: valid_seen success 10.0% [0.0, 20.0] -> 46.0% [36.0, 56.0] (+36.0 pts, "
        "20 episodes each, 2.0% before SFT), 96 training episodes, 12 iters, 12m13s, plot: runs/x/learning_curve.png"
    )
    rollout_only = [{"step": 1, "rollout/success_rate": 0.25}, {"step": 2, "rollout/success_rate": 0.5}]
    assert (
        format_summary(rollout_only, seconds=3725)
        == "HiPER: train success 25.0% -> 50.0% (+25.0 pts), 2 iters, 1h02m05s"
    )
    assert format_summary([]) == "HiPER: no success metrics logged, 0 iters"


def test_docs_list_every_metric_key():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text()
    missing = [k for k in METRIC_KEYS if f"`{k}`" not in docs]
    assert not missing, f"add these keys to docs/training.md: {missing}"
