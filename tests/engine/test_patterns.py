"""Concurrency and open-loop rate patterns, checked against what the target saw."""

from __future__ import annotations

import itertools
import statistics

import pytest

from tests.conftest import run_spec


async def test_concurrency_keeps_n_in_flight_until_requests_are_done(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/0.1"},
            "load": {"pattern": "concurrency", "concurrency": 5, "requests": 40},
        }
    )
    record = fresh_target.record()
    assert len(record) == 40 == report.requests.ok == report.requests.planned
    # Never more than 5 at the target at once, and 5 most of the time.
    events = sorted([(e["arrival"], 1) for e in record] + [(e["end"], -1) for e in record])
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    assert peak == 5
    assert report.concurrency.peak_in_flight == 5
    assert report.workers.distinct == 5
    # 40 requests of 0.1 s, 5 at a time: about 8 rounds.
    assert 0.8 <= report.duration_seconds < 1.6
    assert not report.client_limited, report.diagnostics


async def test_concurrency_bound_by_duration_counts_what_it_started(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/0.05"},
            "load": {"pattern": "concurrency", "concurrency": 4, "duration": "1s"},
        }
    )
    record = fresh_target.record()
    assert report.requests.planned == report.requests.sent == len(record)
    assert report.requests.never_sent == 0
    # 4 loops of ~50 ms requests for a second.
    assert 40 <= len(record) <= 100


async def test_rate_arrivals_are_evenly_spaced(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work"},
            "load": {"pattern": "rate", "rate": 100, "duration": "3s"},
        }
    )
    arrivals = sorted(entry["arrival"] for entry in fresh_target.record())
    assert len(arrivals) == 300 == report.requests.planned == report.requests.ok
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert abs(statistics.mean(gaps) - 0.01) < 0.001
    assert statistics.pstdev(gaps) < 0.004
    # Every 0.5 s window of the run holds its share of arrivals (50 ± 5).
    start = arrivals[0]
    windows = [0] * 6
    for at in arrivals:
        windows[min(5, int((at - start) / 0.5))] += 1
    assert all(45 <= count <= 55 for count in windows), windows
    assert report.client.scheduling_lag_seconds.p99 < 0.01


async def test_rate_ramp_follows_the_stages(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work"},
            "load": {
                "pattern": "rate",
                "stages": [{"duration": "1s", "target": 100}, {"duration": "1s", "target": 100}],
            },
        }
    )
    arrivals = sorted(entry["arrival"] for entry in fresh_target.record())
    # Ramp 0 -> 100/s over 1 s holds 50 arrivals, then 100 at a steady 100/s.
    assert len(arrivals) == 150 == report.requests.ok
    start = arrivals[0]
    first_half = sum(1 for at in arrivals if at - start < 0.5)
    second_half = sum(1 for at in arrivals if 0.5 <= at - start < 1.0)
    assert first_half < second_half  # accelerating


async def test_requests_cap_a_rate_run(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work"},
            "load": {"pattern": "rate", "rate": 200, "duration": "10s", "requests": 50},
        }
    )
    assert report.requests.planned == 50 == len(fresh_target.record())
    assert report.duration_seconds < 1.0


async def test_two_runners_split_a_rate_run_without_overlap(fresh_target):
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": "{{ request.index }}"},
        "load": {"pattern": "rate", "rate": 50, "duration": "1s"},
    }
    from herd.engine.schedule import Share

    first = await run_spec(spec, share=Share(0, 2))
    second = await run_spec(spec, share=Share(1, 2))
    indices = sorted(int(entry["body"]) for entry in fresh_target.record())
    assert indices == list(range(50))
    assert first.requests.planned + second.requests.planned == 50


async def test_queue_endpoints_report_worker_and_queue_times(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/queue", "workerId": {"jsonPath": "$.workerId"}},
            "load": {"pattern": "burst", "requests": 4},
        }
    )
    record = fresh_target.record()
    assert report.workers.distinct == len({entry["worker"] for entry in record}) == 4
    assert report.queue_delay_seconds.p50 == pytest.approx(0.025, abs=0.001)
    assert report.execution_seconds.p50 == pytest.approx(0.05, abs=0.001)
