"""A benchmark's results folder: ``results.json`` (header, summary, episodes), ``episodes.jsonl``, ``results.md``.

``episodes.jsonl`` gets one line per finished episode as soon as it ends (the checkpoint ``--resume`` reads), with
its transcript (every step: the raw reply, what it parsed to, what the env said, the timings); a replayed episode
(an infrastructure failure played again) appends a new line, and the last line of an index wins.
``results.json`` holds the header from the start, and every episode without its transcript (sorted by panel
index) with the summary once the run ends.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from hiper_agent.errors import RunDirInUseError, SetupError

__all__ = ["EPISODES_FILE", "FORMAT", "REPORT_FILE", "RESULTS_FILE", "ResultsDir", "load_results", "versions"]

FORMAT = "hiper-bench/2"
RESULTS_FILE = "results.json"
EPISODES_FILE = "episodes.jsonl"
REPORT_FILE = "results.md"
#: Header entries that define what was measured: a resumed run must have the same ones.
_IDENTITY = ("agent", "panel", "env_kwargs")


def versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Python, platform and the installed versions of the packages that shape the numbers."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("hiper", "gymnasium", "numpy", "alfworld", "textworld", *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _write_json(path: Path, data: Any) -> None:
    """Write atomically (a crash mid-write leaves the previous file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


class ResultsDir:
    """The folder one benchmark run writes (``hiper-bench --out``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.header: dict[str, Any] = {}
        self._episodes: dict[int, dict[str, Any]] = {}
        if (self.path / RESULTS_FILE).is_file():
            data = json.loads((self.path / RESULTS_FILE).read_text())
            self.header = data.get("header", {})
            self._episodes = {r["index"]: r for r in data.get("episodes", [])}
        for line in self._read_lines():
            self._episodes[line["index"]] = line

    def _read_lines(self) -> list[dict[str, Any]]:
        file = self.path / EPISODES_FILE
        if not file.is_file():
            return []
        lines = []
        for text in file.read_text().splitlines():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:  # a torn last line from a crash: that episode is played again
                continue
        return lines

    def start(self, header: dict[str, Any], *, resume: bool = False) -> None:
        """Begin (or, with ``resume``, continue) a run described by ``header``.

        Raises:
            RunDirInUseError: the folder already holds results and ``resume`` is False.
            SetupError: ``resume`` with results of another agent, panel or env settings.
        """
        if self._episodes or self.header:
            if not resume:
                raise RunDirInUseError(
                    f"{self.path} already holds benchmark results; pass --resume to finish them or another --out"
                )
            for key in _IDENTITY:
                if self.header.get(key) != header.get(key):
                    raise SetupError(
                        f"cannot --resume {self.path}: its {key} was {self.header.get(key)!r}, now {header.get(key)!r}"
                    )
        self.path.mkdir(parents=True, exist_ok=True)
        previous = self.header
        self.header = {"format": FORMAT, **header, "created": previous.get("created", _now())}
        self.header["runs"] = list(previous.get("runs", []))  # one entry per (resumed) run: when, how long
        # rewrite the checkpoint without any torn line a crash left, so new records start on a line of their own
        lines = [json.dumps(r) + "\n" for r in self.episodes()]
        tmp = self.path / (EPISODES_FILE + ".tmp")
        tmp.write_text("".join(lines))
        os.replace(tmp, self.path / EPISODES_FILE)
        self._write()

    def episodes(self) -> list[dict[str, Any]]:
        """Every recorded episode, by panel index."""
        return [self._episodes[i] for i in sorted(self._episodes)]

    def append(self, record: dict[str, Any]) -> None:
        """Record a finished episode (flushed to ``episodes.jsonl`` at once)."""
        self._episodes[record["index"]] = record
        with open(self.path / EPISODES_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def finalize(self, *, seconds: float | None = None) -> dict[str, Any]:
        """Write ``results.json`` with the summary and ``results.md``; returns the results data."""
        from hiper_agent.bench.report import markdown_report, summarize

        if seconds is not None:
            self.header.setdefault("runs", []).append({"finished": _now(), "seconds": round(seconds, 2)})
        summary = summarize(self.episodes(), panel_episodes=self.header.get("panel", {}).get("episodes"))
        data = self._write(summary=summary)
        (self.path / REPORT_FILE).write_text(markdown_report(data))
        return data

    def _write(self, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        episodes = [{k: v for k, v in r.items() if k != "transcript"} for r in self.episodes()]
        data = {"header": self.header, "summary": summary or {}, "episodes": episodes}
        _write_json(self.path / RESULTS_FILE, data)
        return data


def load_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A run's results data (``results.json`` in ``path``, or the file itself), with a fresh summary.

    The episodes come with their transcripts when ``episodes.jsonl`` is there, and their lost episodes are then
    classified again (`hiper_agent.bench.failures.classify`), so an old run reads with the current classes.
    """
    from hiper_agent.bench.report import summarize

    path = Path(path)
    folder = path.parent if path.is_file() else path
    if not (folder / RESULTS_FILE).is_file():
        raise SetupError(f"{folder} holds no {RESULTS_FILE} (is it a hiper-bench --out folder?)")
    from hiper_agent.bench.failures import classify

    results = ResultsDir(folder)
    episodes = results.episodes()
    for ep in episodes:  # classify again from the transcript: the classes are those of the code reading them
        if not ep["won"] and "transcript" in ep:
            analysis = classify(ep)
            ep["failure_class"], ep["failure_traits"] = analysis.primary, list(analysis.traits)
    summary = summarize(episodes, panel_episodes=results.header.get("panel", {}).get("episodes"))
    return {"header": results.header, "summary": summary, "episodes": episodes, "path": str(folder)}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
