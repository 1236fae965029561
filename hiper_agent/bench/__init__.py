"""Benchmark any agent on the option-aware envs: fixed panels, reference agents, tables with 95 % intervals.

``hiper-bench`` (`hiper_agent.bench.cli`) is the command line; from Python::

    from hiper_agent.bench import ResultsDir, make_agent, run_benchmark
    from hiper_agent.evaluation.panels import EvalPanel

    results = ResultsDir("runs/random")
    results.start({"agent": {"spec": "random"}, "panel": panel.to_dict(), "env_kwargs": {}})
    run_benchmark(make_agent("random"), EvalPanel("HiPER/ALFWorld-v0", "valid_unseen", 24), results)

``hiper-bench view RUN_DIR`` (`hiper_agent.bench.viewer.write_view`) draws a run's episodes as options in one
static HTML file; `hiper_agent.bench.failures.classify` says why a lost episode was lost. See
``docs/benchmarking.md`` for the agent protocol and how to read the tables.
"""

from __future__ import annotations

from hiper_agent.bench.agents import make_agent
from hiper_agent.bench.protocol import Agent, AgentStep, BenchAgent, EpisodeStart, InfrastructureError
from hiper_agent.bench.results import ResultsDir, load_results
from hiper_agent.bench.runner import run_benchmark

__all__ = [
    "Agent",
    "AgentStep",
    "BenchAgent",
    "EpisodeStart",
    "InfrastructureError",
    "ResultsDir",
    "load_results",
    "make_agent",
    "run_benchmark",
]
