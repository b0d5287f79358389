"""HDR histograms turned into Prometheus buckets: counts at or below each bound, and the sum."""

from __future__ import annotations

import random

import pytest

from herd.engine.histogram import Histogram, _bucket_middles, new_hdr
from herd.metrics.buckets import DURATION_BUCKETS, WAIT_BUCKETS, as_buckets, hdr_buckets


def test_cumulative_counts_match_a_plain_count_of_the_values():
    rng = random.Random(4)
    # Log-uniform from 50 µs to 500 s, away from the bounds by more than HDR's 0.1%.
    values = []
    while len(values) < 5000:
        value = 10 ** rng.uniform(-4.3, 2.7)
        if all(abs(value - bound) > bound * 0.002 for bound in DURATION_BUCKETS):
            values.append(value)
    histogram = Histogram()
    for value in values:
        histogram.record(value)

    cumulative, total = histogram.cumulative(DURATION_BUCKETS)

    assert cumulative == [sum(v <= bound for v in values) for bound in DURATION_BUCKETS]
    assert total == pytest.approx(sum(values), rel=1e-3)


def test_empty_histogram_and_values_past_the_last_bound():
    assert Histogram().cumulative(WAIT_BUCKETS) == ([0] * len(WAIT_BUCKETS), 0.0)
    histogram = Histogram()
    histogram.record(0.00005)
    histogram.record(120.0)  # past WAIT_BUCKETS' 60 s: only in +Inf
    buckets, total = hdr_buckets(histogram, WAIT_BUCKETS)
    assert buckets[0] == ("0.0001", 1)
    assert buckets[-2] == ("60.0", 1)
    assert buckets[-1] == ("+Inf", 2)
    assert total == pytest.approx(120.00005, rel=1e-3)


def test_as_buckets_ends_with_inf():
    assert as_buckets((0.5, 1.0), [1, 3], 4) == [("0.5", 1), ("1.0", 3), ("+Inf", 4)]


def test_bucket_middles_follow_hdrh_index_layout():
    """The sum relies on a table of HDR bucket middles; hdrh must agree with it everywhere."""
    hdr = new_hdr()
    middles = _bucket_middles()
    assert len(middles) == hdr.counts_len
    for index in range(hdr.counts_len):
        low = hdr.get_value_from_index(index)
        assert middles[index] == (low + hdr.get_highest_equivalent_value(low)) / 2, index
