"""The timeline: events land in the bucket of their time, in any order, and each
bucket's latency percentiles are within its 5% bins of the exact ones."""

from __future__ import annotations

import math
import random

import pytest

from herd.engine.timeline import Timeline


def test_events_land_in_the_bucket_of_their_time_in_any_order():
    timeline = Timeline(start=100.0, bucket_seconds=0.5)
    times = [100.1, 100.2, 100.7, 100.3, 101.9, 100.6, 99.0]  # 99.0: before the start
    for at in times:
        timeline.sent(at, in_flight=1)
    for at in times:
        timeline.done(at + 0.01, 0.01, None, in_flight=1)
    rows = {row.t: row for row in timeline.rows()}
    assert {t: row.sent for t, row in rows.items()} == {0.0: 4, 0.5: 2, 1.5: 1}
    assert {t: row.ok for t, row in rows.items()} == {0.0: 4, 0.5: 2, 1.5: 1}


def test_bucket_percentiles_are_within_five_percent():
    rng = random.Random(7)
    latencies = sorted(10 ** rng.uniform(-4.5, 1.5) for _ in range(2000))
    timeline = Timeline(start=0.0, bucket_seconds=10.0)
    for latency in rng.sample(latencies, len(latencies)):
        timeline.done(1.0, latency, None, in_flight=1)
    row = timeline.rows()[0]
    for name, percent in (("latency_p50", 50), ("latency_p95", 95), ("latency_p99", 99)):
        exact = latencies[math.ceil(len(latencies) * percent / 100) - 1]
        value = getattr(row, name)
        assert value is not None and exact <= value <= exact * 1.05 * 1.000001, name


def test_latencies_at_or_under_ten_microseconds_share_the_first_bin():
    timeline = Timeline(start=0.0, bucket_seconds=1.0)
    for latency in (0.0, 1e-7, 1e-5):
        timeline.done(0.5, latency, "timeout", in_flight=3)
    row = timeline.rows()[0]
    assert row.failed == 3 and row.errors == {"timeout": 3}
    assert row.peak_in_flight == 3
    assert row.latency_p99 == pytest.approx(1.05e-5, abs=1e-6)  # the first bin, rounded to µs
