"""The credit benchmark runs end to end in its quick mode and prints its three sections."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_bench_credit_quick(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "variance.png"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_credit.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    for section in ("1. Unbiasedness", "2. Variance", "3. Speed", "hae_batch numpy"):
        assert section in proc.stdout
    assert "V_high off by N(0,1) (control)" in proc.stdout and out.stat().st_size > 10_000
