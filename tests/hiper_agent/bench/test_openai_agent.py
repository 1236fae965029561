"""The ``openai:`` agent against a scripted OpenAI-compatible server on the loopback interface (issue 19).

Each game of the panel gets its own behaviour from the server, so the counts do not depend on ``--num-envs``:
well-formed, tagless and half-tagged replies, a 502 then success, a 400 with an explanation, a timeout, delays.
The server also answers as real ones do: it drops the stop string from the reply and says ``finish_reason: stop``.
"""

from __future__ import annotations

import json
import threading

import gymnasium as gym
import pytest
from scripted_server import DELAY, STEPS, TIMEOUT, Scripted, Server

pytest.importorskip("openai", reason="the openai client is in the bench and dev extras")

from hiper_agent.bench.cli import EXIT_INCOMPLETE, main  # noqa: E402
from hiper_agent.bench.compare import compare_table  # noqa: E402
from hiper_agent.bench.recorder import prompt_hash  # noqa: E402
from hiper_agent.bench.results import EPISODES_FILE, RESULTS_FILE, load_results  # noqa: E402


@pytest.fixture(scope="module")
def tasks():
    env = gym.make("HiPER/ALFWorld-v0", split="valid_unseen")
    return [env.reset(seed=i, options={"game_index": i})[1]["task"] for i in range(6)]


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    Scripted.requests, Scripted.behaviours, Scripted.on_request = [], {}, None
    srv = Server()
    yield srv
    srv.stop()


def _args(server, out, *extra, episodes=6, style="hiper", steps=STEPS):
    flags = (
        f"--agent openai:stand-in --agent-style {style} --episodes {episodes} --num-envs 3 --max-episode-steps {steps} "
        f"--max-retries 2 --retry-backoff 0.01 --request-timeout {TIMEOUT} --no-progress --no-plots"
    ).split()
    return [*flags, "--base-url", server.url, "--out", str(out), *extra]


def test_every_count_against_a_scripted_server(tmp_path, server, tasks, capsys):
    behaviours = ["well_formed", "tagless", "half_tagged", "flaky_slow", "bad_request", "timeout"]
    Scripted.behaviours = dict(zip(tasks, behaviours, strict=True))
    out = tmp_path / "run"
    assert main(_args(server, out)) == EXIT_INCOMPLETE  # two episodes failed on the server
    assert "INCOMPLETE" in capsys.readouterr().err
    data = load_results(out)
    eps, summary = data["episodes"], data["summary"]
    assert [e["failure"] for e in eps] == [None, None, None, None, "infrastructure", "infrastructure"]
    # defect 1: format errors for every reply that is not the three blocks, counted by the agent and by the env
    assert [e["agent_format_errors"] for e in eps[:4]] == [0, STEPS, STEPS, 0]
    assert [e["env_format_errors"] for e in eps[:4]] == [0, 0, STEPS, 0]  # a tagless reply is a bare command to the env
    assert [e["format_errors"] for e in eps[:4]] == [0, STEPS, STEPS, 0]
    assert [e["invalid_actions"] for e in eps[:4]] == [0, 0, 0, 0]  # lenient: the commands were all admissible
    assert summary["format_error_rate"] == pytest.approx(2 * STEPS / (4 * STEPS))
    assert "(agent 50.0 %, env 25.0 %)" in (out / "results.md").read_text()
    # defect 2: infrastructure failures apart, out of the rates, with a non-zero exit status
    assert summary["infrastructure_failures"] == 2 and summary["episodes"] == 4 and not summary["complete"]
    assert summary["overall"]["episodes"] == 4 and summary["errors"] == 0
    # defect 4: the server's explanation is kept
    assert "HTTP 400" in eps[4]["error"] and "Server is pinned to model other-model" in eps[4]["error"]
    assert "no reply within 1 s (not retried" in eps[5]["error"]
    # defect 3: a timed-out or rejected request is sent once; a 502 is retried (and the retry counted)
    sent = {task: sum(r["task"] == task for r in Scripted.requests) for task in tasks}
    assert sent[tasks[4]] == 1 and sent[tasks[5]] == 1 and sent[tasks[3]] == STEPS + 1
    flaky = eps[3]["transcript"]
    assert flaky[0]["meta"]["attempts"] == 2 and [s["meta"]["attempts"] for s in flaky[1:]] == [1] * (STEPS - 1)
    assert summary["latency"]["source"] == "request" and summary["latency"]["max"] >= DELAY
    assert summary["latency"]["n"] == 4 * STEPS
    # defect 5: every request stops at </action>; the server drops it and the agent puts it back
    assert all(r["stop"] == ["</action>"] for r in Scripted.requests if r["task"])
    assert eps[0]["transcript"][0]["meta"]["stop_restored"] is True
    # every reply kept: the raw reply, its prompt's hash, what it parsed to, the env's verdict, the timings
    step = eps[1]["transcript"][0]
    assert step["reply"] == step["command"]
    assert step["format_errors"] == ["missing_switch", "missing_subgoal", "missing_action"]
    assert step["valid"] and len(step["prompt_sha"]) == 16 and "prompt" not in step
    assert {"agent_s", "env_s", "request_s"} <= set(step["time"])
    assert eps[0]["transcript"][0]["parsed"]["switch"] is True and eps[0]["options"] == STEPS
    # well-formed replies SWITCH every step; tagless and half-tagged ones KEEP the first option (no <switch>)
    assert [e["option_lengths"] for e in eps[:4]] == [[1] * STEPS, [STEPS], [STEPS], [1] * STEPS]
    assert summary["mean_option_length"] == pytest.approx(16 / 10) and summary["one_step_option_share"] == 0.8
    # results.json drops the transcripts, episodes.jsonl keeps them
    assert "transcript" not in json.loads((out / RESULTS_FILE).read_text())["episodes"][0]

    # --resume replays the infrastructure failures, and only them, once the server behaves
    Scripted.behaviours, before = {}, len(Scripted.requests)
    assert main([*_args(server, out), "--resume"]) == 0
    replayed = {r["task"] for r in Scripted.requests[before:] if r["task"]}
    assert replayed == {tasks[4], tasks[5]}
    data = load_results(out)
    assert data["summary"]["complete"] and [e["failure"] for e in data["episodes"]] == [None] * 6
    assert len((out / EPISODES_FILE).read_text().splitlines()) == 8  # the two replays appended, the last one wins


def test_a_server_that_stops_mid_run(tmp_path, server, tasks, capsys):
    out = tmp_path / "run"
    stop_at = 4  # the preflight and three step requests get through, then the server goes away
    Scripted.on_request = lambda n: n >= stop_at and (threading.Thread(target=server.stop).start() or True)
    args = [*_args(server, out, "--max-infrastructure-failures", "2", steps=2), "--num-envs", "1"]
    assert main(args) == EXIT_INCOMPLETE
    err = capsys.readouterr().err
    assert "infrastructure failures" in err and "--resume" in err
    summary = load_results(out)["summary"]
    # two episodes failed in a row on the dead server, then the run stopped starting new ones
    assert summary["infrastructure_failures"] == 2 and summary["not_played"] == 6 - 1 - 2
    assert "cannot reach the server" in load_results(out)["episodes"][1]["error"]
    Scripted.on_request = None
    server.start()  # the server is back, on the same port
    assert main([*args, "--resume"]) == 0
    final = load_results(out)
    assert final["summary"]["complete"] and final["summary"]["episodes"] == 6


def test_a_stopped_server_stops_the_run_before_it_starts(tmp_path, server, capsys):
    server.stop()
    out = tmp_path / "never"
    assert main(_args(server, out)) == 2
    err = capsys.readouterr().err
    assert "did not answer a test request" in err and "cannot reach the server" in err
    assert not out.exists()  # nothing left behind


def test_a_wrong_model_name_is_reported_with_the_servers_words(tmp_path, server, capsys, monkeypatch):
    monkeypatch.setattr(
        Scripted, "do_POST", lambda self: self._send(404, {"error": {"message": "model nope not found"}})
    )
    assert main(_args(server, tmp_path / "x")) == 2
    assert "HTTP 404" in (err := capsys.readouterr().err) and "model nope not found" in err


def test_react_style_and_compare_warnings(tmp_path, server, tasks):
    hiper, react = tmp_path / "hiper", tmp_path / "react"
    assert main(_args(server, hiper, episodes=2)) == 0
    assert main([*_args(server, react, episodes=2, style="react", steps=2), "--keep-prompts"]) == 0
    episodes = load_results(react)["episodes"]
    step = episodes[0]["transcript"][0]
    assert step["prompt_sha"] == prompt_hash(step["prompt"]) and "Admissible actions" in step["prompt"]
    assert step["parsed"]["action"] == step["command"] and step["reply"].startswith("<think>")
    assert [e["options"] for e in episodes] == [1, 1] and all(e["format_errors"] == 0 for e in episodes)
    requests = [r for r in Scripted.requests if r["task"] and "<switch>" not in r["prompt"]]
    assert requests and all(r["stop"] == ["</action>"] and r["max_tokens"] == 256 for r in requests)
    # defect 7: compare warns on every difference that makes the numbers incomparable, and has the failure rows
    table = compare_table([load_results(hiper), load_results(react)])
    assert "different step limits" in table and "different agent style" in table
    assert "different env keywords" in table and "different panels" not in table
    for row in (
        "| invalid actions |",
        "| format errors |",
        "| agent errors |",
        "| infrastructure failures |",
        "| mean option length |",
        "| 1-step options |",
    ):
        assert row in table
    assert "[view](" in table  # each run's trajectory view is linked


def test_openai_agent_needs_a_key(tmp_path, server, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["--agent", "openai:m", "--base-url", server.url, "--out", str(tmp_path / "x"), "--episodes", "1"]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err
