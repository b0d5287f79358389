"""A process of a runner that dies takes its records with it. What it had sent is not
known to be unsent: the runner reports it as ``unknown``, never as never sent and never
as sent, so planned = ok + failed + never_sent + unknown and the target's count lies
between ``sent`` and ``sent + unknown``. Only what is provable stays never sent: a
process killed before its release, or arrivals of an open loop due after it died."""

from __future__ import annotations

import os
import signal
import time

import pytest

from herd.api.report import Report
from tests.engine.test_accounting import assert_exact
from tests.multicore.conftest import (
    INDEX_BODY,
    arrived,
    finish,
    gone,
    herd_processes,
    wait_for_arrivals,
    wait_for_children,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def lost_note(report: Report) -> str:
    lines = [line for line in report.diagnostics if "left no results" in line]
    assert len(lines) == 1, report.diagnostics
    assert "killed by SIGKILL" in lines[0]
    return lines[0]


def test_a_process_killed_after_sending_its_burst_leaves_its_share_unknown(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/3", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 40},
        "thresholds": ["error_rate < 10%"],
    }
    process = herd_processes(spec, tmp_path, "--html", str(tmp_path / "report.html"))
    _, second = wait_for_children(process.pid, 2)
    wait_for_arrivals(fresh_target, 40)  # every request is at the target, none answered
    os.kill(second, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=60)
    report = Report.model_validate_json((tmp_path / "report.json").read_text())
    requests = report.requests
    assert requests.never_sent == 0  # it had sent them all: none is claimed unsent
    assert_exact(report)
    assert (requests.planned, requests.sent, requests.ok) == (40, 20, 20)
    assert report.unknown_reasons == {"process_lost": 20}
    assert len(fresh_target.record()) == 40 == requests.sent + requests.unknown
    # An unknown request is not a success.
    assert report.thresholds[0].value == 0.5
    # The threshold fails on what is known, but the lost share may hold what decides
    # it: inconclusive (exit 4), and no spec can ignore a lost process.
    assert not report.thresholds[0].passed
    assert report.verdict == "inconclusive" and process.returncode == 4, stderr
    assert report.client_limited and report.self_check.limited_by == ["process_lost"]
    assert report.verdict_reason.startswith("client-limited: process 1 left no results")
    assert "20 are of unknown fate" in lost_note(report)
    printed = " ".join(stdout.split())
    assert "never sent 0 unknown 20" in printed
    assert "unknown: process_lost 20 (sent or not" in printed
    assert "never sent 0, unknown 20" in (tmp_path / "report.html").read_text()


def test_a_process_killed_mid_rate_leaves_unknown_only_what_was_due(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/0.2", "body": INDEX_BODY},
        "load": {"pattern": "rate", "rate": 50, "duration": "30s", "drainTimeout": "5s"},
    }
    process = herd_processes(spec, tmp_path, "-q")
    first, second = wait_for_children(process.pid, 2)
    wait_for_arrivals(fresh_target, 20)
    os.kill(second, signal.SIGKILL)
    time.sleep(0.3)  # the survivor keeps sending its share
    process.send_signal(signal.SIGTERM)
    report, stderr = finish(process, tmp_path)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    # Process 1 planned arrivals 1, 3, 5, …: 750, none of them counted sent.
    odd = [e for e in arrived(fresh_target) if e["request"]["i"] % 2 == 1]
    even = [e for e in arrived(fresh_target) if e["request"]["i"] % 2 == 0]
    assert odd, "process 1 was killed before it sent anything"
    claimed_unsent = report.never_sent_reasons["process_lost"]
    assert claimed_unsent <= 750 - len(odd), "a request the target saw is claimed never sent"
    assert_exact(report)
    assert report.requests.planned == 1500
    lost = report.unknown_reasons["process_lost"]
    assert lost + claimed_unsent == 750
    assert len(odd) <= lost
    # Arrivals due after its death provably never left: most of its share.
    assert lost < 750 / 2
    assert report.requests.sent == len(even)
    assert report.never_sent_reasons["SIGTERM"] == 750 - report.requests.sent
    assert report.client_limited
    assert "provably never left" in lost_note(report)
    assert gone(first) and gone(second)


def test_a_process_killed_before_its_release_never_sent_its_share(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/0.2", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 40},
    }
    process = herd_processes(spec, tmp_path, "-q")
    _, second = wait_for_children(process.pid, 2)
    os.kill(second, signal.SIGKILL)  # still starting: nothing staged, nothing released
    report, _ = finish(process, tmp_path)
    assert_exact(report)
    assert report.requests.sent == 20 == len(fresh_target.record())
    assert report.never_sent_reasons == {"process_lost": 20}
    assert report.requests.unknown == 0
    assert "before its load was released" in lost_note(report)


def test_a_process_killed_before_a_fixed_release_time_never_sent_its_share(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/0.2", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 40},
    }
    release_at = time.time() + 6
    process = herd_processes(spec, tmp_path, "-q", "--release-at", str(release_at))
    _, second = wait_for_children(process.pid, 2)
    time.sleep(1)  # started, waiting for the release time
    os.kill(second, signal.SIGKILL)
    report, _ = finish(process, tmp_path)
    assert time.time() > release_at
    assert_exact(report)
    assert report.requests.sent == 20 == len(fresh_target.record())
    assert report.never_sent_reasons == {"process_lost": 20}
    assert report.requests.unknown == 0
    assert "before its load was released" in lost_note(report)


def test_a_time_bound_closed_loop_counts_a_lost_process_to_its_last_progress(
    fresh_target, tmp_path
):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/0.1", "body": INDEX_BODY},
        "load": {"pattern": "concurrency", "concurrency": 4, "duration": "30s"},
    }
    process = herd_processes(spec, tmp_path, "-q")
    _, second = wait_for_children(process.pid, 2)
    wait_for_arrivals(fresh_target, 40)
    os.kill(second, signal.SIGKILL)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    report, stderr = finish(process, tmp_path)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    # No planned count up front: the lost process's is its last known count, all of it
    # sent, so unknown, and no more than the target saw from it (odd indices).
    assert report.requests.planned > report.requests.sent, "its requests vanished"
    assert_exact(report)
    odd = [e for e in arrived(fresh_target) if e["request"]["i"] % 2 == 1]
    assert 0 < report.requests.unknown <= len(odd)
    assert report.unknown_reasons == {"process_lost": report.requests.unknown}
    assert "process_lost" not in report.never_sent_reasons
    assert "counted nowhere" in lost_note(report)
