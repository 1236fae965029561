"""``hiper-bench view RUN_DIR``: one static HTML file to read a run's episodes as the options the agent played.

The file has everything inline (data, script, style): it opens from disk, needs no server and loads nothing from
the network. It shows the per-type table, the failure classes, filters (task type, won/lost, failure class, task
text) and each episode as a bar of coloured option segments (green: subgoal verified achieved; orange: pending;
grey: unknown or no subgoal), as wide as their steps; a click on a segment lists its steps (what the agent
wrote, what the env ran, the verdict), and each step's observation opens on demand.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from hiper_agent.bench.failures import DESCRIPTIONS, TRAITS
from hiper_agent.bench.report import infrastructure_warning
from hiper_agent.bench.results import load_results

__all__ = ["VIEW_FILE", "render_view", "write_view"]

VIEW_FILE = "view.html"
_PLACEHOLDER = "/*DATA*/"


def _script_json(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element early, whatever the observations hold."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_view(data: dict[str, Any]) -> str:
    """The HTML of a run's view, from its results data (`~hiper_agent.bench.results.load_results`)."""
    template = resources.files("hiper_agent.bench").joinpath("templates/view.html").read_text(encoding="utf-8")
    payload = {
        "header": data["header"],
        "summary": data["summary"],
        "episodes": data["episodes"],
        "path": data.get("path", ""),
        "warning": infrastructure_warning(data["summary"]),
        "descriptions": {**DESCRIPTIONS, **TRAITS},
    }
    head, sep, tail = template.partition(_PLACEHOLDER)
    if not sep:
        raise RuntimeError("the view template has no data placeholder")
    return head + _script_json(payload) + tail


def write_view(folder: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the view of the run in ``folder`` (to ``folder/view.html`` unless ``out`` says where); returns it."""
    data = load_results(folder)
    path = Path(out) if out is not None else Path(folder) / VIEW_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_view(data), encoding="utf-8")
    return path
