"""``hiper-bench compare``: several runs side by side, with a warning for anything that makes them incomparable.

A cell is marked ``▲``/``▼`` when its 95 % interval does not overlap the first run's (a conservative test: a
difference marked so is beyond the intervals; an unmarked one may still be real with more episodes). The
table warns when the runs differ in panel, step limit, env keywords or agent style / temperature / history, and
when a run is incomplete (infrastructure failures or unplayed episodes), and links each run's trajectory view.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hiper_agent.bench.report import _is_webshop, _label, _type_order, short_task_type

__all__ = ["compare_table", "differences"]

#: Agent settings that change what a number means (the agent itself is what a comparison compares).
_AGENT_SETTINGS = ("style", "temperature", "history_length")
_VIEW_FILE = "view.html"


def _step_limit(run: dict[str, Any]) -> Any:
    return run["header"].get("env_kwargs", {}).get("max_episode_steps", "env default")


def differences(runs: Sequence[dict[str, Any]]) -> list[str]:
    """One warning per setting that differs between the runs (empty when they are comparable)."""
    checks: list[tuple[str, Any]] = [
        ("panels", lambda r: r["header"].get("panel", {}).get("name")),
        ("step limits", _step_limit),
        ("env keywords", lambda r: r["header"].get("env_kwargs", {})),
    ]
    checks += [(f"agent {key}", lambda r, k=key: r["header"].get("agent", {}).get(k)) for key in _AGENT_SETTINGS]
    out = []
    for name, get in checks:
        values = [get(r) for r in runs]
        if any(v != values[0] for v in values[1:]):
            shown = ", ".join(f"{_label(r)}: {v!r}" for r, v in zip(runs, values, strict=True))
            out.append(f"WARNING: the runs used different {name} ({shown}).")
    for run in runs:
        summary = run["summary"]
        if not summary.get("complete", True):
            out.append(
                f"WARNING: {_label(run)} is incomplete ({summary['infrastructure_failures']} infrastructure failures, "
                f"{summary['not_played']} episodes not played): its rates cover {summary['episodes']} of "
                f"{summary['panel_episodes']} episodes."
            )
    return out


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _cell_stat(run: dict[str, Any], kind: str, key: Any) -> tuple[float, Sequence[float] | None] | None:
    summary = run["summary"]
    if kind == "type":
        rate = summary["by_task_type"].get(key)
        return None if rate is None else (rate["success"], rate["ci"])
    if kind == "overall":
        return summary["overall"]["success"], summary["overall"]["ci"]
    if kind == "score":
        return summary["score"]["mean"], summary["score"]["ci"]
    value = summary.get(key)
    return None if value is None else (float(value), None)


def _plain(value: float, kind: str) -> str:
    if kind == "percent":
        return f"{100 * value:.1f} %"
    if kind == "count":
        return str(int(value))
    return f"{value:.2f}"


def compare_table(runs: Sequence[dict[str, Any]], link_from: str | os.PathLike[str] | None = None) -> str:
    """One side-by-side Markdown table of several runs (`load_results` data); the first is the baseline.

    Args:
        runs: the runs' results data.
        link_from: the folder the table will be written in (view links are relative to it; None: as given).
    """
    if not runs:
        raise ValueError("compare needs at least one results folder")
    rows: list[tuple[str, str, Any]] = []  # (label, kind, key)
    types = _type_order(sorted({t for r in runs for t in r["summary"]["by_task_type"]}))
    rows += [(short_task_type(t), "type", t) for t in types]
    rows.append(("All", "overall", None))
    if any(_is_webshop(r) for r in runs):
        rows.append(("Score", "score", None))
    rows += [
        ("episodes counted", "count", "episodes"),
        ("mean steps", "plain", "mean_steps"),
        ("options / episode", "plain", "options_per_episode"),
        ("mean option length", "plain", "mean_option_length"),
        ("1-step options", "percent", "one_step_option_share"),
        ("invalid actions", "percent", "invalid_rate"),
        ("format errors", "percent", "format_error_rate"),
        ("agent errors", "count", "errors"),
        ("infrastructure failures", "count", "infrastructure_failures"),
        ("not played", "count", "not_played"),
    ]
    labels = [f"{_label(r)} `{r.get('path', '')}`" for r in runs]
    lines = ["| metric | " + " | ".join(labels) + " |", "|---" * (len(runs) + 1) + "|"]
    for label, kind, key in rows:
        cells = []
        base = _cell_stat(runs[0], kind, key)
        for k, run in enumerate(runs):
            stat = _cell_stat(run, kind, key)
            if stat is None:
                cells.append("-")
                continue
            value, ci = stat
            text = (
                f"{100 * value:.1f} [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]" if ci is not None else _plain(value, kind)
            )
            if k > 0 and base is not None and ci is not None and base[1] is not None and not _overlap(ci, base[1]):
                text += " ▲" if value > base[0] else " ▼"
            cells.append(text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    views = []
    for run in runs:
        view = Path(run.get("path", ".")) / _VIEW_FILE
        target = os.path.relpath(view, link_from) if link_from is not None else str(view)
        views.append(f"[view]({target})" if view.is_file() else "-")
    lines.append("| trajectories | " + " | ".join(views) + " |")
    notes = [
        "",
        "Success and score in %, 95 % intervals in brackets; ▲/▼: the interval does not overlap the first run's.",
        *differences(runs),
    ]
    return "\n".join(lines + notes) + "\n"
