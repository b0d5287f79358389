"""A burst must reach the endpoint together — the incident's failure was that it didn't."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import run_spec


def arrivals(record: list[dict]) -> list[float]:
    return sorted(entry["arrival"] for entry in record)


async def test_thirty_request_burst_arrives_within_100ms(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work"},
            "load": {"pattern": "burst", "requests": 30},
        }
    )
    seen = arrivals(fresh_target.record())
    assert len(seen) == 30
    assert seen[-1] - seen[0] < 0.1
    assert report.requests.model_dump() == {
        "planned": 30,
        "sent": 30,
        "ok": 30,
        "failed": 0,
        "never_sent": 0,
        "unknown": 0,
    }
    # Thirty overlapping requests: the target handed each to its own worker.
    assert report.workers.distinct == 30
    assert report.concurrency.peak_in_flight == 30
    assert not report.client_limited, report.diagnostics


async def test_thousand_request_burst_arrives_within_a_few_hundred_ms(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/1.0"},
            "load": {"pattern": "burst", "requests": 1000},
        }
    )
    seen = arrivals(fresh_target.record())
    assert len(seen) == 1000 == report.requests.ok
    assert seen[-1] - seen[0] < 0.5
    assert report.concurrency.burst_spread_seconds < 0.5


async def test_latency_matches_the_targets_service_time(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/0.2"},
            "load": {"pattern": "burst", "requests": 20},
        }
    )
    assert report.latency_seconds is not None
    # Issue #2's contract: p50 within 25% of the target's true service time.
    assert 0.2 <= report.latency_seconds.p50 < 0.2 * 1.25


async def test_the_spread_is_taken_from_when_each_request_went_out(fresh_target):
    log = io.StringIO()
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work"},
            "load": {"pattern": "burst", "requests": 40},
        },
        request_log=log,
    )
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert len(lines) == 40
    assert all(line["sent"] <= line["wire"] <= line["ttfb"] for line in lines)
    wires = [line["wire"] for line in lines]
    assert report.concurrency.burst_spread_seconds == pytest.approx(
        max(wires) - min(wires), abs=2e-6
    )
