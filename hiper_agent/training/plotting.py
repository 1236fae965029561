"""The learning-curve plot of a run: success (train rollouts and held-out eval), episode length, PPO losses."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hiper_agent.training.metrics import read_metrics

__all__ = ["plot_learning_curve"]


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
    return [s for s, _ in points], [v for _, v in points]


def _eval_splits(records: list[dict[str, Any]]) -> list[str]:
    """The splits with held-out evaluations (``eval/<split>/success_rate``), in a stable order."""
    keys = {
        k for r in records for k in r if k.startswith("eval/") and k.endswith("/success_rate") and k.count("/") == 2
    }
    return sorted(k.split("/")[1] for k in keys)


_EVAL_COLORS = ("tab:red", "tab:green", "tab:orange", "tab:brown")


def plot_learning_curve(
    metrics: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    out_png: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """Draws success rate (train rollouts and held-out eval), episode length and PPO losses vs iteration.

    Panels without data are left out. Uses matplotlib's Agg canvas directly, so it works headless and
    leaves the caller's pyplot backend alone.

    Args:
        metrics: A `metrics.jsonl` path, a run directory, or the records themselves.
        out_png: Where to write the PNG.
        title: Figure title; by default built from the run's `config.json` next to the metrics file.

    Returns:
        The PNG path.

    Raises:
        ValueError: no success, length or loss metric to plot.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    records = read_metrics(metrics) if isinstance(metrics, (str, os.PathLike)) else [dict(r) for r in metrics]
    config: dict[str, Any] = {}
    if isinstance(metrics, (str, os.PathLike)):
        folder = Path(metrics) if Path(metrics).is_dir() else Path(metrics).parent
        if (folder / "config.json").is_file():
            saved = json.loads((folder / "config.json").read_text())
            # grouped by component (HiPERConfig.to_dict), or flat (configs saved before the components)
            config = {k: v for part in saved.values() if isinstance(part, dict) for k, v in part.items()} or saved
    if title is None:
        title = "HiPER learning curve"
        if config:
            family = config.get("policy", "llm")
            agent = f"model {config.get('model')}" if family == "llm" else f"{family} policy"
            title = f"HiPER({config.get('advantage_estimator')}) on {config.get('env_id')}, {agent}"

    panels = []
    splits = _eval_splits(records)
    if _series(records, "rollout/success_rate")[0] or splits:
        panels.append("success")
    if _series(records, "rollout/episode_length")[0] or splits:
        panels.append("length")
    if _series(records, "train/policy_loss")[0] or _series(records, "train/kl")[0]:
        panels.append("update")
    if not panels:
        raise ValueError("no success rate, episode length or loss metrics to plot; did the run log any iteration?")

    fig = Figure(figsize=(9, 2.7 * len(panels) + 0.7))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels, strict=True):
        ax.grid(alpha=0.3)
        if panel == "success":
            x, y = _series(records, "rollout/success_rate")
            n_envs = f" ({config['num_envs']} episodes/iter)" if "num_envs" in config else ""
            ax.plot(
                x,
                [100 * v for v in y],
                "o-",
                color="tab:blue",
                ms=3,
                lw=1.2,
                alpha=0.8,
                label=f"train rollouts{n_envs}",
            )
            for split, color in zip(splits, _EVAL_COLORS, strict=False):
                prefix = f"eval/{split}"
                x, y = _series(records, f"{prefix}/success_rate")
                evals = [r for r in records if r.get(f"{prefix}/success_rate") is not None]
                n_eval = evals[-1].get(f"{prefix}/episodes")
                label = f"held-out {split}" + (f" ({int(n_eval)} episodes, 95% CI)" if n_eval else "")
                ax.plot(x, [100 * v for v in y], "s-", color=color, ms=5, lw=2, label=label)
                if all(r.get(f"{prefix}/success_ci_low") is not None for r in evals):
                    ax.fill_between(
                        x,
                        [100 * r[f"{prefix}/success_ci_low"] for r in evals],
                        [100 * r[f"{prefix}/success_ci_high"] for r in evals],
                        color=color,
                        alpha=0.15,
                        lw=0,
                    )
                ax.annotate(
                    f"{100 * y[-1]:.1f}%",
                    (x[-1], 100 * y[-1]),
                    textcoords="offset points",
                    xytext=(6, 4),
                    color=color,
                    fontsize=9,
                )
            ax.set_ylim(-3, 103)
            ax.yaxis.set_major_formatter(PercentFormatter())
            ax.set_ylabel("success rate")
            ax.set_title("Task success", fontsize=10, loc="left")
        elif panel == "length":
            for key, color, label in (
                ("rollout/episode_length", "tab:blue", "train rollouts"),
                *((f"eval/{s}/episode_length", c, f"held-out {s}") for s, c in zip(splits, _EVAL_COLORS, strict=False)),
            ):
                x, y = _series(records, key)
                if x:
                    ax.plot(x, y, "o-", color=color, ms=3, lw=1.2, label=label)
            limit, ks = config.get("max_episode_steps"), config.get("train_num_subtasks") or ()
            if limit:  # with a K mix the limit counts per subtask: one line per K trained on
                for k in ks or (1,):
                    label = "time limit" if not ks else f"time limit, K = {k}"
                    ax.axhline(limit * k, color="gray", ls="--", lw=1, alpha=1 / k, label=label)
            ax.set_ylabel("steps per episode")
            ax.set_title("Episode length (lower is faster)", fontsize=10, loc="left")
        else:
            lines = []
            x, y = _series(records, "train/policy_loss")
            if x:
                lines += ax.plot(x, y, "o-", color="tab:purple", ms=3, lw=1.2, label="policy loss")
                ax.set_ylabel("policy loss")
            x, y = _series(records, "train/kl")
            if x:
                kl_ax = ax.twinx() if lines else ax
                label = "KL to reference" if config.get("kl_coef", 1) else "KL to the rollout policy"
                lines += kl_ax.plot(x, y, "o-", color="tab:orange", ms=3, lw=1.2, label=label)
                kl_ax.set_ylabel("KL")
            ax.legend(lines, [line.get_label() for line in lines], loc="best", fontsize=8)
            ax.set_title("PPO update", fontsize=10, loc="left")
        if panel != "update":
            ax.legend(loc="best", fontsize=8)
    if any(r["step"] < 0 for r in records):  # mark where the SFT warm start ends and PPO begins
        for ax in axes:
            ax.axvline(0, color="gray", ls=":", lw=1)
        axes[0].text(
            0,
            0.97,
            " PPO starts",
            transform=axes[0].get_xaxis_transform(),
            ha="left",
            va="top",
            fontsize=8,
            color="gray",
        )
    warm = any(r["step"] < 0 for r in records)
    axes[-1].set_xlabel("PPO iteration" + (" (-1 = before the warm start, 0 = before PPO)" if warm else ""))
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
