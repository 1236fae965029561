"""The PNG plots of a benchmark run (success by task type, success vs subtasks, option lengths) and of a comparison.

Drawn on matplotlib's Agg canvas directly, so they work headless and leave the caller's pyplot backend alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hiper_agent.bench.report import short_task_type
from hiper_agent.bench.results import load_results

__all__ = ["plot_comparison", "plot_results"]


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _bars(
    ax: Any, names: Sequence[str], rates: Sequence[dict[str, Any]], offset: float, width: float, **kw: Any
) -> None:
    """Success bars with their 95 % intervals as error bars."""
    x = np.arange(len(names)) + offset
    values = np.array([100 * r["success"] for r in rates])
    low = values - np.array([100 * r["ci"][0] for r in rates])
    high = np.array([100 * r["ci"][1] for r in rates]) - values
    ax.bar(x, values, width, yerr=np.vstack([low, high]), capsize=3, **kw)


def _title(data: dict[str, Any]) -> str:
    agent = data["header"].get("agent", {})
    return f"{agent.get('spec', '?')} on {data['header'].get('panel', {}).get('name', '?')}"


def plot_results(folder: str | os.PathLike[str]) -> list[Path]:
    """Write ``success_by_task_type.png``, ``success_vs_subtasks.png`` and ``option_lengths.png`` into ``folder``."""
    data = load_results(folder)
    summary, folder = data["summary"], Path(folder)
    written = []

    fig = _figure(7.5, 3.6)
    ax = fig.subplots()
    rates = [*summary["by_task_type"].values(), summary["overall"]]
    names = [short_task_type(t) for t in summary["by_task_type"]] + ["All"]
    _bars(ax, names, rates, 0.0, 0.7, color=["tab:blue"] * (len(names) - 1) + ["tab:red"])
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylim(0, 105)
    ax.set_ylabel("success % (95 % CI)")
    ax.set_title(f"Success by task type: {_title(data)}", fontsize=9)
    fig.tight_layout()
    written.append(folder / "success_by_task_type.png")
    fig.savefig(written[-1], dpi=110)

    fig = _figure(5.5, 3.6)
    ax = fig.subplots()
    reached = summary["subtasks_reached"]
    js = [int(j) for j in reached]
    values = np.array([100 * reached[str(j)]["success"] for j in js])
    err = np.array(
        [
            [v - 100 * reached[str(j)]["ci"][0], 100 * reached[str(j)]["ci"][1] - v]
            for j, v in zip(js, values, strict=True)
        ]
    )
    ax.errorbar(js, values, yerr=err.T, fmt="o-", capsize=3)
    ax.set_xticks(js)
    ax.set_ylim(0, 105)
    ax.set_xlabel("subtasks completed (at least)")
    ax.set_ylabel("episodes % (95 % CI)")
    ax.set_title(f"Success vs number of subtasks: {_title(data)}", fontsize=9)
    fig.tight_layout()
    written.append(folder / "success_vs_subtasks.png")
    fig.savefig(written[-1], dpi=110)

    fig = _figure(5.5, 3.6)
    ax = fig.subplots()
    lengths = [x for ep in data["episodes"] for x in ep["option_lengths"]]
    if lengths:
        ax.hist(lengths, bins=np.arange(0.5, max(lengths) + 1.5, 1.0), color="tab:green")
    ax.set_xlabel("option length (steps)")
    ax.set_ylabel("options")
    ax.set_title(f"Option lengths ({len(lengths)} options): {_title(data)}", fontsize=9)
    fig.tight_layout()
    written.append(folder / "option_lengths.png")
    fig.savefig(written[-1], dpi=110)
    return written


def plot_comparison(runs: Sequence[dict[str, Any]], out_png: str | os.PathLike[str]) -> Path:
    """Grouped success bars (with 95 % intervals) per task type and overall, one colour per run."""
    types = list(dict.fromkeys(t for r in runs for t in r["summary"]["by_task_type"]))
    names = [short_task_type(t) for t in types] + ["All"]
    fig = _figure(max(6.0, 1.2 * len(names) * max(1, len(runs)) / 2), 3.8)
    ax = fig.subplots()
    width = 0.8 / len(runs)
    empty = {"success": 0.0, "ci": [0.0, 0.0]}
    for k, run in enumerate(runs):
        rates = [run["summary"]["by_task_type"].get(t, empty) for t in types] + [run["summary"]["overall"]]
        _bars(ax, names, rates, (k - (len(runs) - 1) / 2) * width, width, label=run["header"]["agent"].get("spec"))
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylim(0, 105)
    ax.set_ylabel("success % (95 % CI)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
