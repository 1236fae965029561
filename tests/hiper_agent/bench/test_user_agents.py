"""User agents (``python:module:object``), failures that do not stop a run, the CLI and ``compare``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from bench_helpers import bench

from hiper_agent.bench.cli import main
from hiper_agent.bench.results import RESULTS_FILE
from hiper_agent.errors import SetupError

AGENT_MODULE = '''
import random
import time


class WordAgent:
    """Takes the admissible command sharing the most words with the task (ties broken by its own seed)."""

    def reset(self, task, info, seed=None):
        self.words = set(task.split())
        self.rng = random.Random(seed)

    def act(self, observation, info):
        commands = info["admissible_commands"]
        best = max(len(self.words & set(c.split())) for c in commands)
        return self.rng.choice([c for c in commands if len(self.words & set(c.split())) == best])


class Flaky(WordAgent):
    """Raises on game 2 and hangs on game 3 of the split."""

    def act(self, observation, info):
        if info["task_id"].endswith("000002"):
            raise RuntimeError("boom on game 2")
        if info["task_id"].endswith("000003"):
            time.sleep(3)
        return super().act(observation, info)


def make_agent():
    return WordAgent()


agent_instance = WordAgent()
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module the project has never seen, importable as ``my_bench_agent``."""
    (tmp_path / "my_bench_agent.py").write_text(textwrap.dedent(AGENT_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_bench_agent"


@pytest.mark.parametrize("obj", ["WordAgent", "make_agent", "agent_instance"])
def test_python_agent_runs_without_project_changes(tmp_path, user_module, obj):
    one = bench(f"python:{user_module}:{obj}", tmp_path / "m1", episodes=4, num_envs=1)
    two = bench(f"python:{user_module}:{obj}", tmp_path / "m2", episodes=4, num_envs=2)
    assert one == two  # the agent seeds itself from reset(seed=...): same episodes for any --num-envs
    assert all(e["error"] is None for e in one) and all(e["steps"] > 0 for e in one)


def test_failing_agent_fails_its_episodes_only(tmp_path, user_module):
    episodes = bench(f"python:{user_module}:Flaky", tmp_path, episodes=5, num_envs=2, step_timeout=1.0)
    errors = {e["index"]: e["error"] for e in episodes}
    assert errors[2] == "RuntimeError: boom on game 2"
    assert errors[3].startswith("StepTimeoutError")
    assert [i for i, err in errors.items() if err is None] == [0, 1, 4]
    assert not episodes[2]["won"] and episodes[2]["steps"] == 0
    # the agent's own failures count against it (in the rates), unlike a server's
    assert [episodes[i]["failure"] for i in (2, 3)] == ["agent", "agent"]
    assert [episodes[i]["failure_class"] for i in (2, 3)] == ["agent_error", "agent_error"]
    report = (tmp_path / "results.md").read_text()
    assert "boom on game 2" in report and "| agent_error |" in report


@pytest.mark.parametrize(
    "spec, message",
    [("python:nope_not_a_module:Agent", "cannot import"), ("python:json:NoSuch", "no attribute"), ("gpt", "unknown")],
)
def test_bad_specs_are_setup_errors(tmp_path, spec, message):
    with pytest.raises(SetupError, match=message):
        bench(spec, tmp_path)


def test_cli_run_and_compare(tmp_path, capsys):
    common = ["--episodes", "6", "--max-episode-steps", "12", "--no-progress"]
    assert main(["--agent", "random", "--out", str(tmp_path / "random"), "--num-envs", "3", *common]) == 0
    assert main(["--agent", "expert", "--out", str(tmp_path / "expert"), *common]) == 0
    out = capsys.readouterr().out
    assert "| agent | Pick | Look | Clean | Heat | Cool | Pick2 | All |" in out
    for name in ("success_by_task_type.png", "success_vs_subtasks.png", "option_lengths.png"):
        assert (tmp_path / "expert" / name).stat().st_size > 1000
    header = json.loads((tmp_path / "expert" / RESULTS_FILE).read_text())["header"]
    assert header["panel"]["name"] == "HiPER/ALFWorld-v0:valid_unseen:n6:s0" and "gymnasium" in header["versions"]
    # a second run into the same folder needs --resume (exit 2 with a message, no traceback)
    assert main(["--agent", "random", "--out", str(tmp_path / "random"), *common]) == 2
    assert "--resume" in capsys.readouterr().err
    table_file = tmp_path / "cmp.md"
    assert main(["compare", str(tmp_path / "random"), str(tmp_path / "expert"), "--out", str(table_file)]) == 0
    table = capsys.readouterr().out
    assert table == table_file.read_text() and table_file.with_suffix(".png").is_file()
    all_row = next(line for line in table.splitlines() if line.startswith("| All |"))
    assert all_row.endswith("100.0 [61, 100] ▲ |")  # 0/6 vs 6/6: beyond the intervals


def test_default_split_per_env_and_bad_env_arguments(tmp_path, capsys):
    pytest.importorskip("rapidfuzz", reason="the webshop extra is not installed")
    out = tmp_path / "webshop"
    common = ["--agent", "random", "--episodes", "2", "--max-episode-steps", "3", "--no-progress", "--no-plots"]
    assert main(["--env", "HiPER/WebShop-v0", *common, "--out", str(out)]) == 0  # no --split: WebShop's "test"
    assert json.loads((out / RESULTS_FILE).read_text())["header"]["panel"]["split"] == "test"
    for extra, message in ((["--split", "nope"], "split"), (["--env-kwarg", "no_such_kwarg=1"], "no_such_kwarg")):
        bad = tmp_path / "bad"
        assert main([*common, *extra, "--out", str(bad)]) == 2  # a clean message, no traceback ...
        err = capsys.readouterr().err
        assert "cannot make HiPER/ALFWorld-v0" in err and message in err and "Traceback" not in err
        assert not bad.exists()  # ... and no folder left behind


@pytest.mark.slow  # a fresh interpreter imports the ALFWorld stack: ~30 s on a loaded 2-core machine
def test_console_script_subprocess(tmp_path):
    out = tmp_path / "sub"
    flags = "--agent random --episodes 2 --max-episode-steps 3 --no-progress --no-plots".split()
    cmd = [sys.executable, "-m", "hiper_agent.bench.cli", *flags, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads((out / RESULTS_FILE).read_text())["episodes"]) == 2


def test_the_documented_example_agent_runs(tmp_path, monkeypatch):
    doc = (Path(__file__).parents[3] / "docs" / "benchmarking.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, re.DOTALL).group(1)
    assert len(code.strip().splitlines()) <= 22  # the page promises a 20-line agent
    (tmp_path / "my_agent.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    episodes = bench("python:my_agent:WordOverlap", tmp_path / "run", episodes=3, num_envs=3, max_steps=6)
    assert all(e["error"] is None for e in episodes)
    assert any(e["options"] > 1 for e in episodes)  # it opens an option whenever its verb changes
