"""Helpers shared by the hiper-bench tests: quick panels and a runner that writes a results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tqdm")

import hiper_envs  # noqa: E402, F401  (registers HiPER/ALFWorld-v0)
from hiper_agent.bench import ResultsDir, make_agent, run_benchmark  # noqa: E402
from hiper_agent.bench.protocol import BenchAgent  # noqa: E402
from hiper_agent.bench.recorder import comparable  # noqa: E402
from hiper_agent.evaluation.panels import EvalPanel  # noqa: E402

ENV = "HiPER/ALFWorld-v0"


def bench(
    agent: str | BenchAgent,
    out: Path,
    *,
    episodes: int = 4,
    num_envs: int = 1,
    max_steps: int | None = 8,
    resume: bool = False,
    seed: int = 0,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Run ``agent`` on the first ``episodes`` games of valid_unseen (short episodes keep the tests fast).

    Returns the records without their timings (`comparable`), so that two runs can be compared with ``==``.
    """
    panel = EvalPanel(ENV, "valid_unseen", episodes, seed)
    env_kwargs = {} if max_steps is None else {"max_episode_steps": max_steps}
    spec = agent if isinstance(agent, str) else type(agent).__name__
    agent = make_agent(agent) if isinstance(agent, str) else agent
    results = ResultsDir(out)
    results.start(
        {"agent": {"spec": spec, **agent.describe()}, "panel": panel.to_dict(), "env_kwargs": env_kwargs}, resume=resume
    )
    records = run_benchmark(agent, panel, results, num_envs=num_envs, env_kwargs=env_kwargs, progress=False, **kwargs)
    return [comparable(r) for r in records]
