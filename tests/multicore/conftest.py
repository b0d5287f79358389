"""Shared pieces of the multi-process tests: running ``herd run --processes`` and
reading what the recording target saw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from herd.api.report import Report
from tests.engine.test_accounting import run_herd_cli

# Each request tells the target its global index and its runner.
INDEX_BODY = '{"i": {{ request.index }}, "runner": {{ request.runner }}}'


def herd_processes(spec: dict, tmp_path: Path, *args: str) -> subprocess.Popen:
    """``herd run --processes 2``, writing tmp_path/report.json."""
    return run_herd_cli(spec, tmp_path, "--processes", "2", *args)


def write_loadtest(spec: dict, tmp_path: Path) -> Path:
    path = tmp_path / "loadtest.yaml"
    document = {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": {"name": "multicore"},
        "spec": spec,
    }
    path.write_text(json.dumps(document))  # JSON is YAML
    return path


def herd_command(loadtest_file: Path, tmp_path: Path, *args: str) -> list[str]:
    report = str(tmp_path / "report.json")
    return [sys.executable, "-m", "herd.cli", "run", str(loadtest_file), "--report", report, *args]


def finish(process: subprocess.Popen, tmp_path: Path, timeout: float = 60) -> tuple[Report, str]:
    """Wait for ``herd run`` (bounded) and read its report."""
    _, stderr = process.communicate(timeout=timeout)
    return Report.model_validate_json((tmp_path / "report.json").read_text()), stderr


def arrived(target) -> list[dict]:
    """The target's record, each entry with its request's decoded body."""
    record = target.record()
    for entry in record:
        entry["request"] = json.loads(entry["body"])
    return record


def wait_for_arrivals(target, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while len(target.record()) < count:
        assert time.monotonic() < deadline, "the target never saw the expected traffic"
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def wait_for_children(pid: int, count: int, timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(found := children(pid)) < count:
        assert time.monotonic() < deadline, f"process {pid} never had {count} children"
        time.sleep(0.05)
    return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone too: it runs nothing and waits for its parent to reap it.
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" in status.read_text()
