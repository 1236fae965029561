"""hiper-bench's runner with the reference agents: expert and random bounds, independence of --num-envs, resume."""

from __future__ import annotations

import json

import pytest
from bench_helpers import bench

from hiper_agent.bench.failures import CLASSES
from hiper_agent.bench.report import PAPER_COLUMNS, summarize
from hiper_agent.bench.results import EPISODES_FILE, RESULTS_FILE, ResultsDir
from hiper_agent.errors import RunDirInUseError, SetupError


@pytest.fixture(scope="module")
def expert_run(tmp_path_factory):
    # games 0..5 of a split are one of each task type; the full 24-episode check is test_expert_24_episodes
    out = tmp_path_factory.mktemp("expert")
    return out, bench("expert", out, episodes=6, num_envs=3, max_steps=None)


@pytest.mark.slow
def test_expert_24_episodes(tmp_path):
    summary = summarize(bench("expert", tmp_path, episodes=24, num_envs=4, max_steps=None))
    assert summary["overall"]["wins"] == 24 and len(summary["by_task_type"]) == 6


def test_expert_solves_every_task_type(expert_run):
    out, episodes = expert_run
    summary = summarize(episodes)
    assert summary["episodes"] == 6
    assert set(summary["by_task_type"]) == set(PAPER_COLUMNS)  # the panel covers all six types
    assert all(rate["success"] == 1.0 for rate in summary["by_task_type"].values())
    assert summary["overall"]["success"] == 1.0 and summary["errors"] == 0
    # the expert uses options: several subgoals per episode, all of them verified as achieved
    assert summary["options_per_episode"] > 1.5
    assert summary["subgoals_achieved"] == summary["subgoals_proposed"] > 6
    assert summary["failures"] == {} and all(e["failure_class"] is None for e in episodes)
    data = json.loads((out / RESULTS_FILE).read_text())
    assert [e["index"] for e in data["episodes"]] == list(range(6))
    assert data["summary"]["overall"]["wins"] == 6
    ep = data["episodes"][0]
    assert sum(ep["option_lengths"]) == ep["steps"] and len(ep["option_lengths"]) == ep["options"]
    report = (out / "results.md").read_text()
    assert "| expert | 100.0 [21, 100] |" in report and "| All |" in report


def test_random_is_far_below_the_expert(tmp_path, expert_run):
    episodes = bench("random", tmp_path, episodes=12, num_envs=4, max_steps=20)
    summary = summarize(episodes)
    assert summary["overall"]["success"] <= 0.25
    # beyond the intervals: random's upper bound is below the expert's lower bound
    assert summary["overall"]["ci"][1] < summarize(expert_run[1])["overall"]["ci"][0]
    assert all(e["options"] == 1 for e in episodes)  # plain commands stay inside one option
    # every lost episode is classified from its transcript, which keeps every step
    assert all(e["failure_class"] in CLASSES for e in episodes if not e["won"])
    assert all(len(e["transcript"]) == e["steps"] for e in episodes)
    assert summary["one_step_option_share"] == 0.0 and summary["mean_option_length"] == summary["mean_steps"]
    assert "## Failures" in (tmp_path / "results.md").read_text()


def test_results_do_not_depend_on_num_envs(tmp_path):
    one = bench("random", tmp_path / "m1", episodes=7, num_envs=1)
    four = bench("random", tmp_path / "m4", episodes=7, num_envs=4)
    assert one == four
    other_seed = bench("random", tmp_path / "s1", episodes=7, num_envs=4, seed=1)
    assert [e["task_id"] for e in other_seed] == [e["task_id"] for e in one]  # same games (game i of the split) ...
    assert other_seed != one  # ... different reset and agent seeds


def test_resume_plays_only_the_missing_episodes(tmp_path):
    full = bench("random", tmp_path / "full", episodes=6)
    out = tmp_path / "cut"
    bench("random", out, episodes=6)
    lines = (out / EPISODES_FILE).read_text().splitlines()
    (out / EPISODES_FILE).write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # a crash mid-write
    data = json.loads((out / RESULTS_FILE).read_text())
    data["episodes"] = []
    (out / RESULTS_FILE).write_text(json.dumps(data))
    assert len(ResultsDir(out).episodes()) == 3
    with pytest.raises(RunDirInUseError, match="--resume"):
        bench("random", out, episodes=6)
    with pytest.raises(SetupError, match="panel"):
        bench("random", out, episodes=7, resume=True)
    resumed = bench("random", out, episodes=6, resume=True)
    assert resumed == full
    assert len(json.loads((out / RESULTS_FILE).read_text())["header"]["runs"]) == 2  # the first run and the resume
    # the torn line is dropped, not glued to the next record
    assert [json.loads(line)["index"] for line in (out / EPISODES_FILE).read_text().splitlines()] == list(range(6))


def test_webshop_expert_and_random(tmp_path):
    pytest.importorskip("rapidfuzz", reason="the webshop extra is not installed")
    from hiper_agent.bench.agents import make_agent
    from hiper_agent.bench.runner import run_benchmark
    from hiper_agent.evaluation.panels import EvalPanel

    panel = EvalPanel("HiPER/WebShop-v0", "test", 8, 0)
    runs = {}
    for spec in ("expert", "random"):
        results = ResultsDir(tmp_path / spec)
        results.start({"agent": {"spec": spec}, "panel": panel.to_dict(), "env_kwargs": {}})
        runs[spec] = summarize(run_benchmark(make_agent(spec), panel, results, num_envs=4, progress=False))
    assert runs["expert"]["overall"]["success"] == 1.0 and runs["expert"]["score"]["mean"] == 1.0
    assert set(runs["expert"]["by_task_type"]) == {"webshop"}
    assert runs["random"]["overall"]["success"] <= 0.25 and runs["random"]["score"]["mean"] < 0.6
    assert "| agent | Score | Succ. |" in (tmp_path / "expert" / "results.md").read_text()
