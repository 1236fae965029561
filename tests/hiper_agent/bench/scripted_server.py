"""A scripted OpenAI-compatible chat server for the ``openai:`` agent's tests (nothing from hiper: any client works).

Each game gets its behaviour from ``Scripted.behaviours[task]``: ``well_formed`` (default), ``tagless``,
``half_tagged``, ``flaky_slow`` (a 502 on the first request of the episode, ``DELAY`` seconds per request),
``bad_request`` (400 with an explanation), ``timeout`` (sleeps past ``TIMEOUT``). It answers as real servers do:
it drops the stop string from the reply and says ``finish_reason: stop``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STEPS = 4
DELAY = 0.2
TIMEOUT = 1.0


class Scripted(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions``; what it does for a game is ``behaviours[task]`` (see `_reply`)."""

    behaviours: dict[str, str] = {}
    requests: list[dict] = []
    lock = threading.Lock()
    on_request = None  # called with the request count (the mid-run stop of the dead-server test)

    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (its timeout)
            pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = request["messages"][-1]["content"]
        task = re.search(r"Your task is: (.*)", prompt)
        task = task.group(1).strip() if task else None
        with Scripted.lock:
            Scripted.requests.append({"task": task, "prompt": prompt, **request})
            count = len(Scripted.requests)
            attempt = sum(r["task"] == task and r["prompt"] == prompt for r in Scripted.requests)
        if Scripted.on_request is not None and Scripted.on_request(count):
            self.close_connection = True  # the server is going away: no reply
            return
        if self.headers.get("Authorization") != "Bearer test-key":
            return self._send(401, {"error": {"message": "bad key"}})
        if task is None:  # the preflight request
            return self._send(200, _completion(request, "OK", "length"))
        behaviour = Scripted.behaviours.get(task, "well_formed")
        if behaviour == "bad_request":
            return self._send(400, {"error": {"message": "Server is pinned to model other-model", "code": 400}})
        if behaviour == "timeout":
            time.sleep(TIMEOUT + 0.5)
            return self._send(200, _completion(request, "<action>look</action>", "stop"))
        if behaviour == "flaky_slow":
            time.sleep(DELAY)
            if attempt == 1 and "taken 0 step(s) so far" in prompt:
                return self._send(502, {"error": {"message": "bad gateway"}})
        command = re.findall(r"'([^']*)'", re.search(r"Admissible actions: \[(.*)\]", prompt).group(1))[0]
        if behaviour == "tagless":
            text = command
        elif behaviour == "half_tagged":
            text = f"<action>{command}</action>"
        elif "<switch>" in prompt:
            text = f"<switch>SWITCH</switch>\n<subgoal>try {command}</subgoal>\n<action>{command}</action>"
        else:
            text = f"<think>the first one</think> <action>{command}</action>"
        finish = "stop"
        for stop in request.get("stop") or []:
            if stop in text:  # as real servers do: the stop string is not part of the reply
                text = text[: text.index(stop)]
        self._send(200, _completion(request, text, finish))


def _completion(request: dict, text: str, finish: str) -> dict:
    message = {"role": "assistant", "content": text}
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": request["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17},
    }


class Server:
    """The scripted server on a fixed loopback port, which can be stopped and started again."""

    def __init__(self) -> None:
        self.port = 0
        self.httpd = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Scripted)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
