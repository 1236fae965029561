"""The ``openai:`` agent against a small OpenAI-compatible stand-in server on the loopback interface."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gymnasium as gym
import pytest

pytest.importorskip("openai", reason="the openai client is in the bench and dev extras")

from hiper_agent.bench.cli import main  # noqa: E402
from hiper_agent.bench.results import RESULTS_FILE  # noqa: E402


class StandIn(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions``: plays the first admissible command listed in the prompt.

    It answers 500 to every request about ``FAIL_TASK`` (the client retries, then that episode fails) and 401
    without the expected key.
    """

    FAIL_TASK = ""
    requests: list[dict] = []

    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = request["messages"][-1]["content"]
        StandIn.requests.append({"path": self.path, "prompt": prompt, **request})
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        if self.headers.get("Authorization") != "Bearer test-key":
            return self._send(401, {"error": {"message": "bad key"}})
        if StandIn.FAIL_TASK and f"Your task is: {StandIn.FAIL_TASK}" in prompt:
            return self._send(500, {"error": {"message": "stand-in failure"}})
        commands = re.findall(r"'([^']*)'", re.search(r"Admissible actions: \[(.*)\]", prompt).group(1))
        if "<switch>" in prompt:
            text = f"<switch>SWITCH</switch>\n<subgoal>try {commands[0]}</subgoal>\n<action>{commands[0]}</action>"
        else:
            text = f"<think>the first one</think> <action>{commands[0]}</action>"
        message = {"role": "assistant", "content": text}
        self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": request["model"],
                         "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})  # fmt: skip


@pytest.fixture
def server(monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    StandIn.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _task_of_game(index: int) -> str:
    env = gym.make("HiPER/ALFWorld-v0", split="valid_unseen")
    return env.reset(seed=index, options={"game_index": index})[1]["task"]


@pytest.mark.parametrize("style", ["hiper", "react"])
def test_openai_agent_plays_and_survives_a_failing_request(tmp_path, server, style):
    StandIn.FAIL_TASK = _task_of_game(1)
    out = tmp_path / style
    args = ["--agent", "openai:stand-in", "--base-url", server, "--agent-style", style, "--episodes", "3",
            "--num-envs", "3", "--max-episode-steps", "4", "--max-retries", "1", "--request-timeout", "10",
            "--no-progress", "--no-plots", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    data = json.loads((out / RESULTS_FILE).read_text())
    episodes = data["episodes"]
    assert [e["error"] is None for e in episodes] == [True, False, True]
    assert "InternalServerError" in episodes[1]["error"]
    assert [e["steps"] for e in episodes] == [4, 0, 4]
    assert all(e["format_errors"] == 0 for e in episodes)
    assert data["header"]["agent"]["style"] == style
    failed = [r for r in StandIn.requests if StandIn.FAIL_TASK in r["prompt"]]
    assert len(failed) == 2  # the first try and one retry
    ok = [r for r in StandIn.requests if StandIn.FAIL_TASK not in r["prompt"]]
    assert all(r["model"] == "stand-in" and r["temperature"] == 0.0 for r in ok)
    # the hiper style opens options with the subgoals it writes; react stays in one option
    assert [e["options"] for e in episodes if e["error"] is None] == ([4, 4] if style == "hiper" else [1, 1])
    assert len({r["seed"] for r in ok}) == len(ok)  # every request has its own per-episode, per-step seed


def test_openai_agent_needs_a_key(tmp_path, server, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["--agent", "openai:m", "--base-url", server, "--out", str(tmp_path / "x"), "--episodes", "1"]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err
