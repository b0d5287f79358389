"""The engine's histogram is hdrh's, counter for counter: same layout, same numbers, same bytes."""

from __future__ import annotations

import random

from hdrh.histogram import HdrHistogram

from herd.engine.histogram import (
    _HIGHEST_US,
    PERCENTILES,
    Histogram,
    _equivalent_values,
    counter_index,
    new_hdr,
)


def _hdrh_summary(hdr: HdrHistogram) -> dict[str, float]:
    values = {name: hdr.get_value_at_percentile(p) / 1e6 for name, p in PERCENTILES.items()}
    values["min"] = hdr.get_min_value() / 1e6
    values["max"] = hdr.get_max_value() / 1e6
    values["mean"] = hdr.get_mean_value() / 1e6
    return {name: round(value, 6) for name, value in values.items()}


def _spread(count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [10 ** rng.uniform(-6.5, 3.7) for _ in range(count)]  # 0.3 µs .. 1.4 h


def test_counter_index_is_hdrh_index_for_every_value_it_can_see():
    hdr = new_hdr()
    rng = random.Random(3)
    values = [*range(1, 70_000), *(rng.randrange(1, _HIGHEST_US) for _ in range(50_000))]
    for micros in [*values, _HIGHEST_US]:
        assert counter_index(micros) == hdr.get_counts_array_index(micros), micros


def test_counter_ranges_follow_hdrh():
    hdr = new_hdr()
    lowest, highest, medians = _equivalent_values()
    assert len(lowest) == hdr.counts_len
    for index in range(hdr.counts_len):
        low = hdr.get_value_from_index(index)
        assert lowest[index] == hdr.get_lowest_equivalent_value(low), index
        assert highest[index] == hdr.get_highest_equivalent_value(low), index
        assert medians[index] == hdr._hdr_median_equiv_value(low), index


def test_summary_matches_hdrh_and_out_of_range_values_are_clamped():
    values = [*_spread(20_000, 1), 0.0, -0.5, 7200.0]
    histogram, hdr = Histogram(), new_hdr()
    for value in values:
        histogram.record(value)
        hdr.record_value(min(max(int(value * 1e6), 1), _HIGHEST_US))
    assert histogram.count == len(values)
    assert histogram.summary() == _hdrh_summary(hdr)
    assert histogram.percentile(95) == hdr.get_value_at_percentile(95) / 1e6
    assert histogram.percentile(0) == hdr.get_value_at_percentile(0) / 1e6


def test_encoding_is_hdrh_wire_format_both_ways():
    histogram = Histogram()
    for value in _spread(5_000, 2):
        histogram.record(value)
    decoded_by_hdrh = HdrHistogram.decode(histogram.encode().encode("ascii"))
    assert decoded_by_hdrh.get_total_count() == 5_000
    assert _hdrh_summary(decoded_by_hdrh) == histogram.summary()
    again = Histogram.decode(decoded_by_hdrh.encode().decode("ascii"))
    assert again.summary() == histogram.summary()


def test_encoding_is_byte_for_byte_what_hdrh_encodes():
    values = _spread(3_000, 5)
    histogram, hdr = Histogram(), new_hdr()
    for value in values:
        histogram.record(value)
        hdr.record_value(min(max(int(value * 1e6), 1), _HIGHEST_US))
    assert histogram.encode() == hdr.encode().decode("ascii")
    assert Histogram().encode() == new_hdr().encode().decode("ascii")


def test_empty_histogram():
    histogram = Histogram()
    assert histogram.count == 0
    assert histogram.summary() is None
    assert histogram.percentile(99) == 0.0
    assert Histogram.decode(histogram.encode()).count == 0
