"""The fault matrix: each fault of issue #12 against a recording target that counts what
it received, compared with herd's report.

For every row: the target received exactly what herd reports ``sent`` (or, where herd
says it cannot know, at most ``sent + unknown``), and ``planned = ok + failed +
never_sent + unknown`` holds exactly. A row names the class its requests must end in,
so a fault that is counted, but counted as something else, fails too.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

import pytest

from herd.api.report import Report
from tests.conftest import run_spec
from tests.engine.test_accounting import assert_exact
from tests.faults.matrix import record_row
from tests.multicore.conftest import (
    INDEX_BODY,
    finish,
    herd_processes,
    wait_for_arrivals,
    wait_for_children,
)


def assert_target_agrees(received: int, report: Report) -> None:
    """What the endpoint saw is what herd says it sent; unknown only widens the bound."""
    r = report.requests
    if r.unknown:
        assert r.sent <= received <= r.sent + r.unknown
    else:
        assert received == r.sent


@dataclass(frozen=True)
class Fault:
    name: str
    route: str
    load: dict[str, Any]
    classes: set[str]
    """Every failed or never-sent request ends in one of these classes."""
    target: dict[str, Any] = field(default_factory=dict)
    some_ok: bool = False
    """Rows where the fault spares part of the load (ok > 0 expected)."""


BURST = {"pattern": "burst", "requests": 6}
FAULTS = [
    Fault("hang-up, GET burst", "/abort", BURST, {"disconnected"}),
    Fault(
        "hang-up, GET rate",
        "/abort",
        {"pattern": "rate", "rate": 20, "duration": "300ms"},
        {"disconnected"},
    ),
    Fault(
        "hang-up, PUT burst",
        "/abort",
        BURST,
        {"disconnected"},
        target={"method": "PUT", "body": "x"},
    ),
    Fault(
        "hang-up, burst without preconnect",
        "/abort",
        {**BURST, "preconnect": False},
        {"disconnected"},
    ),
    Fault(
        "reset, DELETE closed loop",
        "/reset",
        {"pattern": "concurrency", "concurrency": 2, "requests": 6},
        {"disconnected"},
        target={"method": "DELETE"},
    ),
    Fault("timeout", "/sleep/3", BURST, {"timeout"}, target={"timeout": "300ms"}),
    Fault("503s", "/status/503", BURST, {"http_503"}),
    Fault("redirect (counted, not followed)", "/redirect", BURST, set(), some_ok=True),
    Fault(
        "50 MB bodies", "/bytes/50000000", {"pattern": "burst", "requests": 2}, set(), some_ok=True
    ),
    Fault(
        "endless stream",
        "/stream",
        {"pattern": "burst", "requests": 2},
        {"timeout"},
        target={"timeout": "1s"},
    ),
    Fault(
        "gzip inflating to 100 MB",
        "/gzip/100000000",
        {"pattern": "burst", "requests": 2},
        set(),
        some_ok=True,
    ),
    Fault("maxDuration mid-flight", "/sleep/10", {**BURST, "maxDuration": "1s"}, {"max_duration"}),
    Fault(
        "drain cut short",
        "/sleep/10",
        {"pattern": "concurrency", "concurrency": 3, "duration": "500ms", "drainTimeout": "300ms"},
        {"aborted"},
    ),
    Fault(
        "arrivals queued behind maxInFlight",
        "/sleep/1",
        {
            "pattern": "rate",
            "rate": 20,
            "duration": "1s",
            "maxInFlight": 2,
            "drainTimeout": "1500ms",
        },
        {"load_ended"},
        some_ok=True,
    ),
    Fault(
        "poolTimeout at maxInFlight",
        "/sleep/1",
        {
            "pattern": "rate",
            "rate": 20,
            "duration": "1s",
            "maxInFlight": 2,
            "drainTimeout": "1500ms",
        },
        {"pool_timeout", "load_ended"},
        target={"poolTimeout": "200ms"},
        some_ok=True,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
async def test_the_target_received_what_herd_reports(fault: Fault, fresh_target):
    report = await run_spec(
        {"target": {"url": f"{fresh_target.url}{fault.route}", **fault.target}, "load": fault.load}
    )
    received = len(fresh_target.record())
    record_row(fault.name, received, report)
    assert_exact(report)
    assert_target_agrees(received, report)
    assert set(report.errors) | set(report.never_sent_reasons) <= fault.classes
    assert (report.requests.ok > 0) == fault.some_ok
    if not fault.some_ok:
        assert report.verdict == "failed"  # a run in which nothing succeeded never passes


async def test_a_template_that_fails_for_some_requests(fresh_target):
    body = '{"i": {{ 1 // ((request.index + 1) % 3) }}}'  # 2, 5, 8 divide by zero
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/", "body": body},
            "load": {"pattern": "concurrency", "concurrency": 2, "requests": 9},
        }
    )
    received = len(fresh_target.record())
    record_row("template error for a third of the requests", received, report)
    assert_exact(report)
    assert_target_agrees(received, report)
    assert report.never_sent_reasons == {"template_error": 3}
    assert report.requests.ok == 6


async def test_staging_into_a_missing_bucket(fresh_target, s3_server, aws_env):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/", "body": "{{ uploads[0].url }}"},
            "uploads": {
                "endpoint": s3_server.url,
                "region": "us-east-1",
                "bucket": "no-such-bucket-here",
                "source": {"synthetic": {"sizeBytes": 64}},
            },
            "load": BURST,
        }
    )
    received = len(fresh_target.record())
    record_row("staging into a missing bucket", received, report)
    assert_exact(report)
    assert_target_agrees(received, report)
    assert report.requests.sent == 0 and report.requests.never_sent == 6
    assert report.verdict == "failed"


def test_a_process_killed_after_sending(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/3", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 20},
    }
    process = herd_processes(spec, tmp_path)
    _, second = wait_for_children(process.pid, 2)
    wait_for_arrivals(fresh_target, 20)
    os.kill(second, signal.SIGKILL)
    report, _ = finish(process, tmp_path)
    received = len(fresh_target.record())
    record_row("a process SIGKILLed after sending", received, report)
    assert_exact(report)
    assert_target_agrees(received, report)
    assert report.requests.unknown == 10 and report.unknown_reasons == {"process_lost": 10}


def test_sigterm_while_requests_are_in_flight(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/10", "body": INDEX_BODY},
        "load": {
            "pattern": "concurrency",
            "concurrency": 4,
            "duration": "30s",
            "drainTimeout": "300ms",
        },
    }
    process = herd_processes(spec, tmp_path)
    wait_for_arrivals(fresh_target, 4)
    process.send_signal(signal.SIGTERM)
    report, _ = finish(process, tmp_path)
    received = len(fresh_target.record())
    record_row("SIGTERM with requests in flight", received, report)
    assert process.returncode == 128 + signal.SIGTERM
    assert_exact(report)
    assert_target_agrees(received, report)
    assert report.stopped == "SIGTERM"
