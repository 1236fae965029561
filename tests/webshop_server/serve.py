"""Test helpers: a WebShop server in a child process (``python -m webshop_server``) and its resident memory."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Server:
    """A running server: its base URL and process."""

    url: str
    proc: subprocess.Popen

    def rss_mb(self) -> float:
        """The server's resident set size in MiB (Linux ``/proc``)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS line")


@contextlib.contextmanager
def running_server(*args: str) -> Iterator[Server]:
    """Start ``python -m webshop_server *args`` on a free loopback port; stop it on exit."""
    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "webshop_server", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {proc.returncode}") from None
                time.sleep(0.1)
        yield Server(url, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
