"""Every planned request is accounted for: planned = ok + failed + never_sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from herd.api.report import Report
from herd.demo.services import free_port
from tests.conftest import run_spec


def assert_exact(report: Report) -> None:
    """Every planned request is counted once: ok, failed, never sent or unknown."""
    r = report.requests
    assert r.planned == r.ok + r.failed + r.never_sent + r.unknown
    assert r.sent == r.ok + r.failed
    assert sum(report.errors.values()) == r.failed
    assert sum(report.never_sent_reasons.values()) == r.never_sent
    assert sum(report.unknown_reasons.values()) == r.unknown


async def test_timeouts_are_failures_of_their_own_class(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/3", "timeout": "300ms"},
            "load": {"pattern": "burst", "requests": 10},
        }
    )
    assert_exact(report)
    assert report.errors == {"timeout": 10}
    assert len(fresh_target.record()) == 10
    assert 0.3 <= report.latency_seconds.max < 0.6


async def test_refused_connections_are_connect_errors():
    closed_port = free_port()
    report = await run_spec(
        {
            "target": {"url": f"http://127.0.0.1:{closed_port}/", "connectTimeout": "1s"},
            "load": {"pattern": "concurrency", "concurrency": 3, "requests": 12},
        }
    )
    assert_exact(report)
    assert report.errors == {"connect": 12}
    assert report.requests.ok == 0


async def test_http_errors_are_counted_by_status(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/status/503"},
            "load": {"pattern": "burst", "requests": 7},
            "thresholds": ["error_rate < 1%"],
        }
    )
    assert_exact(report)
    assert report.errors == {"http_503": 7}
    assert report.status_codes == {"503": 7}
    assert report.verdict == "failed"
    assert report.thresholds[0].value == 1.0


async def test_max_duration_is_a_hard_stop(fresh_target):
    started = time.monotonic()
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/5"},
            "load": {"pattern": "rate", "rate": 20, "duration": "10s", "maxDuration": "1s"},
        }
    )
    assert time.monotonic() - started < 3
    assert_exact(report)
    assert report.stopped == "max_duration"
    assert report.requests.planned == 200
    # About a second of arrivals went out and were cut off; the rest never left.
    assert 15 <= report.requests.sent <= 25
    assert report.errors == {"max_duration": report.requests.sent}
    assert report.never_sent_reasons == {"max_duration": 200 - report.requests.sent}
    assert len(fresh_target.record()) == report.requests.sent


def run_herd_cli(spec: dict, tmp_path: Path, *args: str, env: dict | None = None):
    path = tmp_path / "loadtest.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "herd.dev/v1alpha1",
                "kind": "LoadTest",
                "metadata": {"name": "cli"},
                "spec": spec,
            }
        )
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "herd.cli",
            "run",
            str(path),
            "--report",
            str(tmp_path / "report.json"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for_arrivals(target, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(target.record()) < count:
        assert time.monotonic() < deadline, "target never saw the expected traffic"
        time.sleep(0.05)


def test_sigterm_stops_issuing_drains_and_still_writes_the_report(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/0.2"},
        "load": {"pattern": "rate", "rate": 50, "duration": "30s", "drainTimeout": "5s"},
    }
    process = run_herd_cli(spec, tmp_path)
    wait_for_arrivals(fresh_target, 20)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    report = Report.model_validate_json((tmp_path / "report.json").read_text())
    assert_exact(report)
    assert report.stopped == "SIGTERM"
    assert report.requests.planned == 1500
    # In-flight requests (0.2 s each) finished within the drain; none were cut off.
    assert report.requests.failed == 0
    assert report.never_sent_reasons == {"SIGTERM": 1500 - report.requests.sent}
    assert report.requests.sent == len(fresh_target.record())


def test_drain_timeout_aborts_what_is_still_in_flight(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/10"},
        "load": {"pattern": "burst", "requests": 5, "drainTimeout": "300ms"},
    }
    process = run_herd_cli(spec, tmp_path)
    wait_for_arrivals(fresh_target, 5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGINT, stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"] == {
        "planned": 5, "sent": 5, "ok": 0, "failed": 5, "never_sent": 0, "unknown": 0
    }  # fmt: skip
    assert report["errors"] == {"aborted": 5}


def test_requests_log_holds_every_sent_request(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/status/429"},
        "load": {"pattern": "concurrency", "concurrency": 2, "requests": 6},
    }
    process = run_herd_cli(spec, tmp_path, "--requests-log", str(tmp_path / "requests.jsonl"))
    process.communicate(timeout=30)
    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(6))
    assert {line["error"] for line in lines} == {"http_429"}
    assert all(line["intended"] <= line["sent"] <= line["ttfb"] <= line["end"] for line in lines)
    assert len({line["worker"] for line in lines}) <= 2  # two loops, two workers at most


def test_runner_summary_is_written_for_the_operator(fresh_target, tmp_path):
    from herd.results.summary import TERMINATION_MESSAGE_LIMIT, decode_summary

    spec = {
        "target": {"url": f"{fresh_target.url}/work"},
        "load": {"pattern": "burst", "requests": 9},
    }
    summary_file = tmp_path / "termination-log"
    process = run_herd_cli(
        spec, tmp_path, "--runner-index", "1", "--runners", "3", "--summary", str(summary_file)
    )
    process.communicate(timeout=30)
    text = summary_file.read_text()
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    summary = decode_summary(text)
    report = json.loads((tmp_path / "report.json").read_text())
    assert summary.runner == 1 and summary.runners == 3
    assert summary.requests == (3, 3, 3, 0, 0)  # runner 1 of 3 takes a third of 9
    assert report["load_started_at"] is not None
    started = datetime.fromisoformat(report["load_started_at"]).timestamp()
    assert summary.load_started_at == pytest.approx(started, abs=0.001)


async def test_a_starved_pool_never_sends_and_counts_it_never_sent(fresh_target):
    """herd never starves its own pool; if a caller did, the wait is capped by the pool
    timeout and a call that got no connection is never sent, not a failed request."""
    import asyncio

    from herd.engine.calls import Caller, CallSettings, open_session
    from herd.engine.recorder import Recorder
    from herd.engine.records import RequestRecord, now

    recorder = Recorder(now(), 0.1)
    settings = CallSettings("GET", f"{fresh_target.url}/sleep/0.3", {}, None, None)
    async with open_session(1, connect_timeout=5) as session:
        caller = Caller(session, settings, recorder, pool_size=1, pool_timeout=0.1, timeout=5)
        records = [RequestRecord(i, now()) for i in range(3)]
        started = now()
        await asyncio.gather(*(caller.call(record, None) for record in records))
    recorder.settle()
    assert len(fresh_target.record()) == 1 == recorder.sent  # the starved calls never left
    assert recorder.ok == 1 and recorder.failed == 0 and recorder.errors == {}
    assert recorder.never_sent == {"pool_timeout": 2}
    assert now() - started < 3 * 0.3  # the starved calls gave up at the pool timeout
