"""Pure pieces of the engine: arrival math, shares, histograms, self-check rules."""

from __future__ import annotations

import pytest

from herd.api.report import Report
from herd.api.spec import LoadSpec
from herd.engine.histogram import Histogram
from herd.engine.schedule import Share, arrival_count, arrival_offsets, rate_segments
from herd.engine.selfcheck import RunShape, assess


def test_constant_rate_arrivals():
    segments = rate_segments(LoadSpec(pattern="rate", rate=4, duration="2s"))
    assert list(arrival_offsets(segments)) == [0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def test_ramp_arrivals_follow_the_area_under_the_curve():
    # 0 -> 10/s over 2 s holds 10 arrivals; then 2 s at 10/s holds 20 more.
    load = LoadSpec(
        pattern="rate", stages=[{"duration": "2s", "target": 10}, {"duration": "2s", "target": 10}]
    )
    offsets = list(arrival_offsets(rate_segments(load)))
    assert len(offsets) == arrival_count(rate_segments(load)) == 30
    assert offsets == sorted(offsets)
    # During the ramp, arrival k is due when 2.5 t^2 = k.
    assert offsets[5] == pytest.approx((5 / 2.5) ** 0.5)
    assert offsets[10] == pytest.approx(2.0)
    assert offsets[-1] == pytest.approx(3.9)


def test_ramp_down_ends_when_the_curve_does():
    load = LoadSpec(
        pattern="rate", stages=[{"duration": "1s", "target": 10}, {"duration": "1s", "target": 0}]
    )
    offsets = list(arrival_offsets(rate_segments(load)))
    assert len(offsets) == 10
    assert all(0 <= t < 2 for t in offsets)


@pytest.mark.parametrize("runners", [1, 2, 3, 7])
def test_shares_cover_everything_once(runners):
    shares = [Share(i, runners).split(100) for i in range(runners)]
    covered = [i for first, size in shares for i in range(first, first + size)]
    assert covered == list(range(100))
    assert max(s for _, s in shares) - min(s for _, s in shares) <= 1


def test_histograms_merge_exactly():
    fast, slow, together = Histogram(), Histogram(), Histogram()
    for i in range(1, 1001):
        fast.record(i / 1000)
        together.record(i / 1000)
    for i in range(1, 101):
        slow.record(10 + i / 100)
        together.record(10 + i / 100)
    merged = Histogram.decode(fast.encode())
    merged.merge(Histogram.decode(slow.encode()))
    assert merged.count == 1100
    assert merged.summary() == together.summary()
    # The merged p95 is in the slow runner's range; an average of p95s would not be.
    assert merged.percentile(95) > 1.0 > (fast.percentile(95) + slow.percentile(95)) / 2 - 9


def report_with(**changes) -> Report:
    percentiles = {
        "p50": 0.1,
        "p90": 0.1,
        "p95": 0.1,
        "p99": 0.1,
        "p999": 0.1,
        "min": 0.1,
        "max": 0.1,
        "mean": 0.1,
    }
    base = {
        "herd_version": "0",
        "loadtest": "t",
        "namespace": None,
        "run_id": "r",
        "runner": 0,
        "runners": 1,
        "started_at": "2026-01-01T00:00:00+00:00",
        "pattern": "burst",
        "target": "http://127.0.0.1/",
        "duration_seconds": 2.0,
        "throughput_rps": 15.0,
        "requests": {"planned": 30, "sent": 30, "ok": 30, "failed": 0, "never_sent": 0},
        "errors": {},
        "never_sent_reasons": {},
        "status_codes": {"200": 30},
        "latency_seconds": percentiles,
        "service_time_seconds": {**percentiles, "p50": 1.0},
        "ttfb_seconds": None,
        "queue_delay_seconds": None,
        "execution_seconds": None,
        "concurrency": {"target": 30, "peak_in_flight": 30, "burst_spread_seconds": 0.01},
        "workers": {
            "distinct": 3,
            "requests": {},
            "first_seen_seconds": {},
            "time_to_workers_seconds": {},
        },
        "uploads": None,
        "scaling_probe": None,
        "client": {
            "scheduling_lag_seconds": {**percentiles, "p95": 0.001, "p99": 0.001},
            "pool_wait_seconds": None,
            "pool_waits": 0,
            "event_loop_lag_seconds": None,
            "cpu_utilization": 0.2,
            "pool_size": 30,
        },
        "thresholds": [],
        "verdict": "passed",
        "client_limited": False,
        "diagnostics": [],
        "stopped": None,
        "timeline": {"bucket_seconds": 0.1, "buckets": []},
    }
    for path, value in changes.items():
        node = base
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return Report.model_validate(base)


def check(report: Report, shape: RunShape) -> tuple[bool, list[str]]:
    """(client_limited, diagnostics) of the self-check, with nothing ignored."""
    limited, _, diagnostics = assess(report, shape).judged(())
    return limited, diagnostics


BURST = RunShape(pattern="burst", inline_uploads=False, upload_concurrency=None, mean_in_flight=30)


def test_a_tight_burst_is_not_client_limited():
    limited, diagnostics = check(report_with(), BURST)
    assert not limited and diagnostics == []


def test_a_trickling_burst_is_client_limited():
    limited, diagnostics = check(report_with(concurrency__burst_spread_seconds=4.0), BURST)
    assert limited
    assert "the burst took 4.000s to leave the client" in diagnostics[0]


def test_calls_waiting_on_inline_uploads_are_flagged():
    shape = RunShape(pattern="burst", inline_uploads=True, upload_concurrency=2, mean_in_flight=3)
    report = report_with(client__scheduling_lag_seconds__p95=3.0)
    limited, diagnostics = check(report, shape)
    assert limited
    assert "waited for their own S3 uploads" in diagnostics[0]
    assert "2 at a time" in diagnostics[0]


def test_short_of_target_concurrency_is_flagged():
    limited, diagnostics = check(report_with(concurrency__peak_in_flight=10), BURST)
    assert limited and "at most 10 requests were in flight" in diagnostics[-1]


def test_refused_connections_do_not_blame_the_client():
    report = report_with(
        concurrency__peak_in_flight=2,
        errors={"connect": 30},
        requests={"planned": 30, "sent": 30, "ok": 0, "failed": 30, "never_sent": 0},
    )
    limited, _ = check(report, BURST)
    assert not limited


def test_open_loop_falling_behind_is_flagged():
    shape = RunShape(
        pattern="rate", inline_uploads=False, upload_concurrency=None, mean_in_flight=5
    )
    report = report_with(
        pattern="rate", concurrency__target=None, client__scheduling_lag_seconds__p99=0.3
    )
    limited, diagnostics = check(report, shape)
    assert limited and "fell behind the arrival schedule" in diagnostics[0]


def test_pool_waits_and_loop_lag_and_cpu_are_flagged():
    lagged = {
        "p50": 0.2,
        "p90": 0.2,
        "p95": 0.2,
        "p99": 0.2,
        "p999": 0.2,
        "min": 0.2,
        "max": 0.2,
        "mean": 0.2,
    }
    report = report_with(
        client__pool_wait_seconds=lagged,
        client__pool_waits=12,
        client__event_loop_lag_seconds=lagged,
        client__cpu_utilization=0.97,
    )
    limited, diagnostics = check(report, BURST)
    text = " ".join(diagnostics)
    assert limited
    assert "12 requests waited for a free connection" in text
    assert "event loop was blocked" in text
    assert "97% of a CPU core" in text


def test_never_sent_and_stops_are_explained():
    report = report_with(
        requests={"planned": 30, "sent": 20, "ok": 20, "failed": 0, "never_sent": 10},
        never_sent_reasons={"SIGTERM": 10},
        stopped="SIGTERM",
    )
    _, diagnostics = check(report, BURST)
    assert "10 planned requests were never sent (10 SIGTERM)" in diagnostics
    assert "the run was stopped early (SIGTERM)" in diagnostics
