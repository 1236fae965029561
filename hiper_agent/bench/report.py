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

__all__ = ["PAPER_COLUMNS", "infrastructure_warning", "markdown_report", "short_task_type", "summarize"]

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


def _percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    stats = {f"p{q}": float(np.percentile(arr, q)) for q in (50, 90, 99)}
    return {**{k: round(v, 4) for k, v in stats.items()}, "max": round(float(arr.max()), 4), "n": len(values)}


def _latencies(episodes: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Per-request server latency when the agent measured it (``request_s``), else the agent call's seconds."""
    steps = [s.get("time", {}) for ep in episodes for s in ep.get("transcript") or []]
    requests = [t["request_s"] for t in steps if "request_s" in t]
    if requests:
        return {"source": "request", **(_percentiles(requests) or {})}
    calls = [t["agent_s"] for t in steps if "agent_s" in t]
    return None if not calls else {"source": "agent call", **(_percentiles(calls) or {})}


def summarize(episodes: Sequence[dict[str, Any]], panel_episodes: int | None = None) -> dict[str, Any]:
    """Success per task type and overall (with CIs), mean score, step, format, option and failure statistics.

    Episodes cut by an infrastructure failure (``failure == "infrastructure"``) are counted apart and left out of
    every rate: they say nothing about the agent. ``complete`` is False while some of the panel's
    ``panel_episodes`` are such failures or were not played.
    """
    infra = [ep for ep in episodes if ep.get("failure") == "infrastructure"]
    episodes = [ep for ep in episodes if ep.get("failure") != "infrastructure"]
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ep in episodes:
        by_type[ep["task_type"]].append(ep)
    n = len(episodes)
    panel_n = n + len(infra) if panel_episodes is None else int(panel_episodes)
    steps = sum(ep["steps"] for ep in episodes)
    scores = [float(ep["score"]) for ep in episodes]
    lengths = [x for ep in episodes for x in ep["option_lengths"]]
    proposed = sum(ep["subgoals_proposed"] for ep in episodes)
    max_k = max((ep["num_subtasks"] for ep in episodes), default=1)
    lost = [ep for ep in episodes if not ep["won"]]
    replies = [s.get("meta", {}) for ep in episodes for s in ep.get("transcript") or [] if "reply" in s]

    def rate(key: str) -> float:
        return sum(ep.get(key, 0) for ep in episodes) / steps if steps else 0.0

    return {
        "episodes": n,
        "panel_episodes": panel_n,
        "infrastructure_failures": len(infra),
        "not_played": max(0, panel_n - n - len(infra)),
        "complete": not infra and n >= panel_n,
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
        "invalid_rate": rate("invalid_actions"),
        "format_error_rate": rate("format_errors"),
        "agent_format_error_rate": rate("agent_format_errors"),
        "env_format_error_rate": rate("env_format_errors"),
        "options_per_episode": float(np.mean([ep["options"] for ep in episodes])) if n else 0.0,
        "mean_option_length": float(np.mean(lengths)) if lengths else 0.0,
        "one_step_option_share": sum(x == 1 for x in lengths) / len(lengths) if lengths else 0.0,
        "subgoals_proposed": proposed,
        "subgoals_achieved": sum(ep["subgoals_achieved"] for ep in episodes),
        "subgoal_achieved_rate": sum(ep["subgoals_achieved"] for ep in episodes) / proposed if proposed else 0.0,
        "errors": sum(
            ep.get("failure") == "agent" or (ep["error"] is not None and "failure" not in ep) for ep in episodes
        ),
        # replies that ran into the token limit (LLM agents that report a finish reason)
        "replies_cut": sum(m.get("finish_reason") == "length" for m in replies),
        "replies": len(replies),
        "latency": _latencies(episodes),
        "failures": _counts(lost, "failure_class"),
        "failure_traits": _counts(lost, "failure_traits"),
    }


def _counts(episodes: Sequence[dict[str, Any]], key: str) -> dict[str, int]:
    """How many episodes have each value of ``key`` (a class, or each of a list of traits), in class order."""
    from hiper_agent.bench.failures import CLASSES

    counts: dict[str, int] = defaultdict(int)
    for ep in episodes:
        value = ep.get(key)
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                counts[v] += 1
    order = {name: k for k, name in enumerate(CLASSES)}
    return {k: counts[k] for k in sorted(counts, key=lambda c: (order.get(c, len(order)), c))}


def infrastructure_warning(summary: dict[str, Any]) -> str | None:
    """The loud line a run with infrastructure failures or unplayed episodes gets (None when complete)."""
    if summary.get("complete", True):
        return None
    parts = []
    if summary["infrastructure_failures"]:
        parts.append(f"{summary['infrastructure_failures']} episodes failed on the server (infrastructure failures)")
    if summary["not_played"]:
        parts.append(f"{summary['not_played']} were not played")
    return (
        f"INCOMPLETE: of the panel's {summary['panel_episodes']} episodes, {' and '.join(parts)}. They are left out "
        "of every rate here; fix the server and run the same command with --resume to play them."
    )


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
    """``results.md``: the paper-shaped table, then the per-type detail, steps and options, failures and errors."""
    header, summary = data["header"], data["summary"]
    panel = header.get("panel", {})
    lines = [f"# hiper-bench: {_label(data)} on {panel.get('name', '?')}", ""]
    warning = infrastructure_warning(summary)
    if warning:
        lines += [f"> **{warning}**", ""]
    lines += [
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
    lines += ["", "## Steps and options", "", *steps_table(summary)]
    lines += ["", *failure_table(summary)]
    latency = summary.get("latency")
    if latency:
        lines += [
            "",
            f"Latency per {latency['source']} (s): p50 {latency['p50']:.3f}, p90 {latency['p90']:.3f}, "
            f"p99 {latency['p99']:.3f}, max {latency['max']:.3f} ({latency['n']} calls).",
        ]
    if summary.get("replies"):
        lines.append(f"Replies cut at the token limit: {summary['replies_cut']} of {summary['replies']}.")
    for kind, title in (
        ("infrastructure", "Infrastructure failures (left out of every rate; --resume replays them)"),
        ("agent", "Agent errors (episodes recorded as failures)"),
    ):
        errors = [ep for ep in data["episodes"] if ep["error"] and ep.get("failure", "agent") == kind]
        if errors:
            lines += ["", f"## {title}", ""]
            lines += [f"- episode {ep['index']} ({ep['task_id']}): {ep['error']}" for ep in errors[:20]]
            if len(errors) > 20:
                lines.append(f"- ... and {len(errors) - 20} more (see results.json)")
    lines += ["", f"Versions: {', '.join(f'{k} {v}' for k, v in header.get('versions', {}).items())}", ""]
    return "\n".join(lines)


def steps_table(summary: dict[str, Any]) -> list[str]:
    """The step and option statistics: one Markdown table row (format errors split when agent and env differ)."""
    fmt = f"{100 * summary['format_error_rate']:.1f} %"
    agent_rate, env_rate = summary.get("agent_format_error_rate", 0.0), summary.get("env_format_error_rate", 0.0)
    if abs(agent_rate - env_rate) > 1e-12:
        fmt += f" (agent {100 * agent_rate:.1f} %, env {100 * env_rate:.1f} %)"
    return [
        "| mean score | mean steps | invalid actions | format errors | options / episode | mean option length "
        "| 1-step options | subgoals achieved / proposed | agent errors | infrastructure failures |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {summary['score']['mean']:.3f} | {summary['mean_steps']:.1f} | {100 * summary['invalid_rate']:.1f} % "
        f"| {fmt} | {summary['options_per_episode']:.2f} | {summary['mean_option_length']:.2f} "
        f"| {100 * summary.get('one_step_option_share', 0.0):.1f} % "
        f"| {summary['subgoals_achieved']} / {summary['subgoals_proposed']} | {summary['errors']} "
        f"| {summary.get('infrastructure_failures', 0)} |",
    ]


def failure_table(summary: dict[str, Any]) -> list[str]:
    """Why the lost episodes were lost (`hiper_agent.bench.failures`): class counts and trait counts."""
    from hiper_agent.bench.failures import CLASSES, DESCRIPTIONS, TRAITS

    classes, traits = summary.get("failures", {}), summary.get("failure_traits", {})
    lost = sum(classes.values())
    if not lost:
        return ["## Failures", "", "No lost episode."]
    lines = [
        "## Failures",
        "",
        f"{lost} lost episodes, each in its first applicable class; a trait counts every episode it applies to.",
        "",
        "| class | what it means | episodes | % of lost | with the trait |",
        "|---|---|---|---|---|",
    ]
    order = {name: k for k, name in enumerate(CLASSES)}
    for name in sorted({*classes, *traits}, key=lambda c: (order.get(c, len(order)), c)):
        count = classes.get(name, 0)
        meaning = DESCRIPTIONS.get(name) or TRAITS.get(name, "")
        lines.append(f"| {name} | {meaning} | {count} | {100 * count / lost:.1f} | {traits.get(name, 0)} |")
    return lines
