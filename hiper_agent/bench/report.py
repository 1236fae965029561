"""Summaries and tables of benchmark results: success per task type with Wilson 95 % intervals, as the paper reports.

ALFWorld rows use the paper's column names (Pick, Look, Clean, Heat, Cool, Pick2, All); WebShop reports the mean
score and the success rate (score 1). Both come with 95 % intervals: Wilson for success rates
(`~hiper_agent.evaluation.panels.wilson_interval`), the normal approximation for the mean score.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from hiper_agent.evaluation.panels import wilson_interval

__all__ = ["PAPER_COLUMNS", "compare_table", "markdown_report", "short_task_type", "summarize"]

#: ALFWorld task types in the paper's column order, with the paper's names.
PAPER_COLUMNS: dict[str, str] = {
    "pick_and_place_simple": "Pick",
    "look_at_obj_in_light": "Look",
    "pick_clean_then_place_in_recep": "Clean",
    "pick_heat_then_place_in_recep": "Heat",
    "pick_cool_then_place_in_recep": "Cool",
    "pick_two_obj_and_place": "Pick2",
}


def short_task_type(task_type: str) -> str:
    """The paper's column name of a task type (the type itself when the paper has none)."""
    return PAPER_COLUMNS.get(task_type, task_type or "?")


def _type_order(types: Sequence[str]) -> list[str]:
    paper = [t for t in PAPER_COLUMNS if t in types]
    return paper + sorted(t for t in types if t not in PAPER_COLUMNS)


def mean_interval(values: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """Normal-approximation interval of a mean in [0, 1] (clipped); ``(0, 1)`` with fewer than 2 values."""
    if len(values) < 2:
        return (0.0, 1.0)
    mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    half = z * sd / math.sqrt(len(values))
    return (max(0.0, mean - half), min(1.0, mean + half))


def _rate(wins: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(wins, n)
    return {"episodes": n, "wins": wins, "success": wins / n if n else 0.0, "ci": [round(low, 4), round(high, 4)]}


def summarize(episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Success per task type and overall (with CIs), mean score, and step, format and option statistics."""
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ep in episodes:
        by_type[ep["task_type"]].append(ep)
    n = len(episodes)
    steps = sum(ep["steps"] for ep in episodes)
    scores = [float(ep["score"]) for ep in episodes]
    lengths = [x for ep in episodes for x in ep["option_lengths"]]
    proposed = sum(ep["subgoals_proposed"] for ep in episodes)
    max_k = max((ep["num_subtasks"] for ep in episodes), default=1)
    return {
        "episodes": n,
        "overall": _rate(sum(ep["won"] for ep in episodes), n),
        "by_task_type": {t: _rate(sum(e["won"] for e in by_type[t]), len(by_type[t])) for t in _type_order(by_type)},
        "score": {
            "mean": float(np.mean(scores)) if scores else 0.0,
            "ci": [round(x, 4) for x in mean_interval(scores)],
        },
        # success at depth j: the fraction of episodes that completed at least j of their subtasks
        "subtasks_reached": {
            str(j): _rate(sum(ep["subtasks_done"] >= j for ep in episodes), n) for j in range(1, max_k + 1)
        },
        "mean_steps": steps / n if n else 0.0,
        "invalid_rate": sum(ep["invalid_actions"] for ep in episodes) / steps if steps else 0.0,
        "format_error_rate": sum(ep["format_errors"] for ep in episodes) / steps if steps else 0.0,
        "options_per_episode": float(np.mean([ep["options"] for ep in episodes])) if n else 0.0,
        "mean_option_length": float(np.mean(lengths)) if lengths else 0.0,
        "subgoals_proposed": proposed,
        "subgoals_achieved": sum(ep["subgoals_achieved"] for ep in episodes),
        "subgoal_achieved_rate": sum(ep["subgoals_achieved"] for ep in episodes) / proposed if proposed else 0.0,
        "errors": sum(ep["error"] is not None for ep in episodes),
    }


def _pct(rate: dict[str, Any]) -> str:
    low, high = rate["ci"]
    return f"{100 * rate['success']:.1f} [{100 * low:.0f}, {100 * high:.0f}]"


def _is_webshop(data: dict[str, Any]) -> bool:
    return "webshop" in str(data["header"].get("panel", {}).get("env_id", "")).lower()


def _label(data: dict[str, Any]) -> str:
    agent = data["header"].get("agent", {})
    style = agent.get("style")
    return str(agent.get("spec", "?")) + (f" ({style})" if style else "")


def markdown_report(data: dict[str, Any]) -> str:
    """``results.md``: the paper-shaped table, then the per-type detail, option statistics and errors."""
    header, summary = data["header"], data["summary"]
    panel = header.get("panel", {})
    lines = [
        f"# hiper-bench: {_label(data)} on {panel.get('name', '?')}",
        "",
        f"{summary['episodes']} of {panel.get('episodes', '?')} episodes; success in %, 95 % intervals in brackets "
        "(Wilson for success rates, normal approximation for the mean score).",
        "",
    ]
    if _is_webshop(data):
        score = summary["score"]
        lines += [
            "| agent | Score | Succ. |",
            "|---|---|---|",
            f"| {_label(data)} | {100 * score['mean']:.1f} [{100 * score['ci'][0]:.0f}, {100 * score['ci'][1]:.0f}] "
            f"| {_pct(summary['overall'])} |",
        ]
    else:
        types = list(summary["by_task_type"])
        lines += [
            "| agent | " + " | ".join(short_task_type(t) for t in types) + " | All |",
            "|---" * (len(types) + 2) + "|",
            f"| {_label(data)} | "
            + " | ".join(_pct(summary["by_task_type"][t]) for t in types)
            + f" | {_pct(summary['overall'])} |",
        ]
    lines += [
        "",
        "## By task type",
        "",
        "| task type | episodes | wins | success % | 95 % CI |",
        "|---|---|---|---|---|",
    ]
    for task_type, rate in [*summary["by_task_type"].items(), ("all", summary["overall"])]:
        low, high = rate["ci"]
        lines.append(
            f"| {task_type} | {rate['episodes']} | {rate['wins']} | {100 * rate['success']:.1f} "
            f"| [{100 * low:.1f}, {100 * high:.1f}] |"
        )
    if len(summary["subtasks_reached"]) > 1:
        lines += ["", "## Subtasks completed", "", "| at least j subtasks | success % [95 % CI] |", "|---|---|"]
        lines += [f"| {j} | {_pct(rate)} |" for j, rate in summary["subtasks_reached"].items()]
    lines += [
        "",
        "## Steps and options",
        "",
        "| mean score | mean steps | invalid actions | format errors | options / episode | mean option length "
        "| subgoals achieved / proposed | agent errors |",
        "|---|---|---|---|---|---|---|---|",
        f"| {summary['score']['mean']:.3f} | {summary['mean_steps']:.1f} | {100 * summary['invalid_rate']:.1f} % "
        f"| {100 * summary['format_error_rate']:.1f} % | {summary['options_per_episode']:.2f} "
        f"| {summary['mean_option_length']:.2f} | {summary['subgoals_achieved']} / {summary['subgoals_proposed']} "
        f"| {summary['errors']} |",
    ]
    errors = [ep for ep in data["episodes"] if ep["error"]]
    if errors:
        lines += ["", "## Agent errors (episodes recorded as failures)", ""]
        lines += [f"- episode {ep['index']} ({ep['task_id']}): {ep['error']}" for ep in errors[:20]]
        if len(errors) > 20:
            lines.append(f"- ... and {len(errors) - 20} more (see results.json)")
    lines += ["", f"Versions: {', '.join(f'{k} {v}' for k, v in header.get('versions', {}).items())}", ""]
    return "\n".join(lines)


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def compare_table(runs: Sequence[dict[str, Any]]) -> str:
    """One side-by-side Markdown table of several runs; the first is the baseline.

    A cell is marked ``▲``/``▼`` when its 95 % interval does not overlap the baseline's (a conservative test: a
    difference marked so is beyond the intervals; an unmarked one may still be real with more episodes).
    """
    if not runs:
        raise ValueError("compare needs at least one results folder")
    panels = {r["header"].get("panel", {}).get("name") for r in runs}
    rows: list[tuple[str, str, Any]] = []  # (label, kind, key)
    types = _type_order(sorted({t for r in runs for t in r["summary"]["by_task_type"]}))
    rows += [(short_task_type(t), "type", t) for t in types]
    rows.append(("All", "overall", None))
    if any(_is_webshop(r) for r in runs):
        rows.append(("Score", "score", None))
    rows += [("mean steps", "plain", "mean_steps"), ("options / episode", "plain", "options_per_episode")]
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
            text = f"{100 * value:.1f} [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]" if ci is not None else f"{value:.2f}"
            if k > 0 and base is not None and ci is not None and base[1] is not None and not _overlap(ci, base[1]):
                text += " ▲" if value > base[0] else " ▼"
            cells.append(text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = [
        "",
        "Success and score in %, 95 % intervals in brackets; ▲/▼: the interval does not overlap the first run's.",
    ]
    if len(panels) > 1:
        notes.append(f"WARNING: the runs used different panels ({', '.join(sorted(map(str, panels)))}).")
    return "\n".join(lines + notes) + "\n"


def _cell_stat(run: dict[str, Any], kind: str, key: Any) -> tuple[float, Sequence[float] | None] | None:
    summary = run["summary"]
    if kind == "type":
        rate = summary["by_task_type"].get(key)
        return None if rate is None else (rate["success"], rate["ci"])
    if kind == "overall":
        return summary["overall"]["success"], summary["overall"]["ci"]
    if kind == "score":
        return summary["score"]["mean"], summary["score"]["ci"]
    return float(summary[key]), None
