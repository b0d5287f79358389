"""A time-bound load ends on time whatever the endpoint does (issue #12, item 3).

What has not started when ``duration`` (or the stages) ends is never sent
(``load_ended``), requests still in flight get ``drainTimeout``, and the run is
over within ``duration + drainTimeout``; ``maxDuration`` bounds every run. Each
case measures the run's wall time around it and compares the target's count of
arrivals with the report's ``sent``.
"""

from __future__ import annotations

import signal
import time

from herd.api.report import Report
from tests.conftest import run_spec
from tests.engine.test_accounting import assert_exact, run_herd_cli, wait_for_arrivals

# A run may overrun its bound by this share of it: start-up, a loaded machine.
MARGIN = 0.5


async def timed_run(spec: dict) -> tuple[Report, float]:
    started = time.monotonic()
    report = await run_spec(spec)
    return report, time.monotonic() - started


async def test_rate_arrivals_queued_behind_the_cap_are_not_sent_after_the_load(fresh_target):
    # 2 s of 10/s into a 5 s endpoint, 2 in flight at most: 18 arrivals queue at the cap.
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/5"},
            "load": {
                "pattern": "rate",
                "rate": 10,
                "duration": "2s",
                "maxInFlight": 2,
                "drainTimeout": "1s",
            },
        }
    )
    assert 2 <= wall < (2 + 1) * (1 + MARGIN)
    assert_exact(report)
    assert report.requests.planned == 20
    assert report.requests.sent == 2 == len(fresh_target.record())
    assert report.never_sent_reasons == {"load_ended": 18}
    assert report.errors == {"aborted": 2}  # still in flight when the drain ran out
    assert report.client_limited
    assert any("load.maxInFlight (2" in line for line in report.diagnostics), report.diagnostics


async def test_a_ramp_ends_with_its_last_stage(fresh_target):
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/5"},
            "load": {
                "pattern": "rate",
                "stages": [{"duration": "1s", "target": 20}, {"duration": "1s", "target": 20}],
                "maxInFlight": 3,
                "drainTimeout": "1s",
            },
        }
    )
    assert 2 <= wall < (2 + 1) * (1 + MARGIN)
    assert_exact(report)
    assert report.requests.planned == 30  # 10 on the ramp, 20 at 20/s
    assert report.requests.sent == 3 == len(fresh_target.record())
    assert report.never_sent_reasons == {"load_ended": 27}


async def test_a_capped_rate_run_ends_with_its_duration_too(fresh_target):
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/5"},
            "load": {
                "pattern": "rate",
                "rate": 20,
                "duration": "1500ms",
                "requests": 12,
                "maxInFlight": 2,
                "drainTimeout": "1s",
            },
        }
    )
    assert 1.5 <= wall < (1.5 + 1) * (1 + MARGIN)
    assert_exact(report)
    assert report.requests.planned == 12
    assert report.requests.sent == 2 == len(fresh_target.record())
    assert report.never_sent_reasons == {"load_ended": 10}


async def test_a_capped_rate_run_lets_its_requests_run_until_the_load_ends(fresh_target):
    # Every arrival leaves in the first 0.2 s; the load lasts 3 s; drainTimeout is 0.
    # The drain starts when the load ends, not when the last arrival left.
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/1"},
            "load": {
                "pattern": "rate",
                "rate": 20,
                "duration": "3s",
                "requests": 4,
                "drainTimeout": "0s",
            },
        }
    )
    assert_exact(report)
    assert report.requests.ok == 4 == len(fresh_target.record())
    assert 1 <= wall < 3  # and it ends when they are done, not at the load's end


async def test_closed_loops_stop_at_the_duration(fresh_target):
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/5"},
            "load": {
                "pattern": "concurrency",
                "concurrency": 2,
                "duration": "1s",
                "drainTimeout": "500ms",
            },
        }
    )
    assert 1 <= wall < (1 + 0.5) * (1 + MARGIN)
    assert_exact(report)
    assert report.requests.sent == 2 == report.requests.planned == len(fresh_target.record())
    assert report.errors == {"aborted": 2}


async def test_closed_loops_with_a_count_leave_the_rest_unsent_at_the_duration(fresh_target):
    # 2 loops of 0.4 s requests for 1 s: 6 started at most, the other 14 never.
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/0.4"},
            "load": {
                "pattern": "concurrency",
                "concurrency": 2,
                "requests": 20,
                "duration": "1s",
                "drainTimeout": "2s",
            },
        }
    )
    assert 1 <= wall < (1 + 0.4) * (1 + MARGIN)
    assert_exact(report)
    sent = report.requests.sent
    assert 4 <= sent <= 6 and sent == report.requests.ok == len(fresh_target.record())
    assert report.never_sent_reasons == {"load_ended": 20 - sent}


async def test_closed_loops_with_a_count_end_when_it_is_done(fresh_target):
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/0.05"},
            "load": {
                "pattern": "concurrency",
                "concurrency": 2,
                "requests": 4,
                "duration": "30s",
            },
        }
    )
    assert_exact(report)
    assert report.requests.ok == 4 == len(fresh_target.record())
    assert wall < 3  # not the 30 s the duration allowed


async def test_a_count_bound_load_lets_each_request_run_to_its_timeout(fresh_target):
    # No duration: the drain does not apply; each request has its whole timeout.
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/1", "timeout": "5s"},
            "load": {"pattern": "burst", "requests": 3, "drainTimeout": "0s"},
        }
    )
    assert_exact(report)
    assert report.requests.ok == 3 == len(fresh_target.record())
    assert 1 <= wall < 1 * (1 + MARGIN) + 1


async def test_max_duration_shorter_than_the_load_stops_queued_arrivals(fresh_target):
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/5"},
            "load": {
                "pattern": "rate",
                "rate": 10,
                "duration": "10s",
                "maxInFlight": 2,
                "maxDuration": "1500ms",
            },
        }
    )
    assert 1.5 <= wall < 1.5 * (1 + MARGIN) + 1
    assert_exact(report)
    assert report.stopped == "max_duration"
    assert report.requests.sent == 2 == len(fresh_target.record())
    assert report.errors == {"max_duration": 2}
    assert report.never_sent_reasons == {"max_duration": 98}


async def test_max_duration_bounds_a_count_bound_load(fresh_target):
    report, wall = await timed_run(
        {
            "target": {"url": f"{fresh_target.url}/sleep/10"},
            "load": {"pattern": "burst", "requests": 3, "maxDuration": "1s"},
        }
    )
    assert 1 <= wall < 1 * (1 + MARGIN) + 1
    assert_exact(report)
    assert report.stopped == "max_duration"
    assert report.errors == {"max_duration": 3}


def test_sigterm_while_arrivals_queue_at_the_cap(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/10"},
        "load": {
            "pattern": "rate",
            "rate": 10,
            "duration": "30s",
            "maxInFlight": 2,
            "drainTimeout": "1s",
        },
    }
    process = run_herd_cli(spec, tmp_path)
    wait_for_arrivals(fresh_target, 2)
    time.sleep(0.5)  # arrivals now queue at the cap
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    after_signal = time.monotonic() - signalled
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert after_signal < 1 * (1 + MARGIN) + 1  # the drain, the report, the interpreter's exit
    report = Report.model_validate_json((tmp_path / "report.json").read_text())
    assert_exact(report)
    assert report.stopped == "SIGTERM"
    assert report.requests.sent == 2 == len(fresh_target.record())
    assert report.errors == {"aborted": 2}
    assert report.never_sent_reasons == {"SIGTERM": 298}
