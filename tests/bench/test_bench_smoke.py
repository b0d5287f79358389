"""The benchmark harness runs end to end (a seconds-long smoke; numbers live in docs/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run.py"


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx missing: scripts/test.sh installs it"
)
def test_benchmark_smoke_measures_every_client_and_herd_alone():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for row in (
        "| wrk (C) |",
        "| hey (Go) |",
        "| bare aiohttp + uvloop |",
        "| Locust FastHttpUser |",
        "| herd (full instrumentation) |",
    ):
        assert row in out, out
    assert "never sent 0" in out  # the smoke open loop (500 req/s) keeps its schedule
    assert "burst of 1000: left the client within" in out
    assert "KiB per request" in out
    assert "multi-core, closed loop" in out or "multi-core: skipped" in out
