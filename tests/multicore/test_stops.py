"""Stops, deaths and deadlines of a multi-process runner: every planned request is
still accounted for (planned = ok + failed + never sent), and no process outlives it.
A process that dies alone is test_lost.py's."""

from __future__ import annotations

import signal
import time

import pytest

from tests.engine.test_accounting import assert_exact
from tests.multicore.conftest import (
    INDEX_BODY,
    finish,
    gone,
    herd_processes,
    wait_for_arrivals,
    wait_for_children,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def slow_rate(url: str) -> dict:
    return {
        "target": {"url": f"{url}/sleep/0.2", "body": INDEX_BODY},
        "load": {"pattern": "rate", "rate": 50, "duration": "30s", "drainTimeout": "5s"},
    }


def test_sigterm_to_the_runner_drains_every_process_and_accounts_for_all(fresh_target, tmp_path):
    process = herd_processes(slow_rate(fresh_target.url), tmp_path, "-q")
    wait_for_arrivals(fresh_target, 20)
    process.send_signal(signal.SIGTERM)
    report, stderr = finish(process, tmp_path)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert_exact(report)
    assert report.stopped == "SIGTERM"
    assert report.requests.planned == 1500
    assert report.requests.failed == 0  # in flight (0.2 s each) finished within the drain
    assert report.never_sent_reasons == {"SIGTERM": 1500 - report.requests.sent}
    assert report.requests.sent == len(fresh_target.record())


def test_max_duration_stops_every_process(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/5", "body": INDEX_BODY},
        "load": {"pattern": "rate", "rate": 20, "duration": "10s", "maxDuration": "1s"},
    }
    started = time.monotonic()
    report, _ = finish(herd_processes(spec, tmp_path, "-q"), tmp_path)
    assert time.monotonic() - started < 8, "maxDuration did not bound the run"
    assert_exact(report)
    assert report.stopped == "max_duration"
    assert report.requests.planned == 200
    assert report.errors == {"max_duration": report.requests.sent}
    assert report.never_sent_reasons == {"max_duration": 200 - report.requests.sent}
    assert len(fresh_target.record()) == report.requests.sent


def test_processes_do_not_outlive_a_killed_runner(fresh_target, tmp_path):
    process = herd_processes(slow_rate(fresh_target.url), tmp_path, "-q")
    kids = wait_for_children(process.pid, 2)
    wait_for_arrivals(fresh_target, 10)
    process.kill()
    process.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in kids):
        assert time.monotonic() < deadline, "a process outlived its runner"
        time.sleep(0.05)


def test_a_bad_variable_fails_before_any_process_starts(fresh_target, tmp_path):
    spec = {
        "target": {
            "url": f"{fresh_target.url}/work",
            "headers": {"Authorization": "Bearer ${HERD_UNSET_KEY}"},
        },
        "load": {"pattern": "burst", "requests": 10},
    }
    process = herd_processes(spec, tmp_path, "-q")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2, stderr
    assert "spec.target.headers.Authorization" in stderr
    assert fresh_target.record() == []


def test_a_process_that_cannot_start_its_run_fails_the_run(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/work"},
        "uploads": {
            "bucket": "bucket",
            "source": {"directory": str(tmp_path / "missing")},
            "concurrency": 4,
        },
        "load": {"pattern": "burst", "requests": 10},
    }
    process = herd_processes(spec, tmp_path, "-q")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2, stderr
    assert "spec.uploads.source.directory" in stderr
    assert fresh_target.record() == []
