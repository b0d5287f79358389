"""Latency histograms (HdrHistogram) that merge exactly across runners.

Values are recorded in whole microseconds from 1 µs to 1 hour at 3 significant
digits (0.1% error), so memory stays constant however many requests a run makes,
and percentiles of merged runners are exact — never averages of percentiles.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

from hdrh.histogram import HdrHistogram

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000
_SIGNIFICANT_DIGITS = 3

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


class Histogram:
    """Seconds in, seconds out; microseconds inside."""

    __slots__ = ("_hdr",)

    def __init__(self) -> None:
        self._hdr = HdrHistogram(_LOWEST_US, _HIGHEST_US, _SIGNIFICANT_DIGITS)

    def record(self, seconds: float) -> None:
        micros = int(seconds * 1_000_000)
        # Clamp: a negative clock step or a value past an hour must not raise
        # in the hot path; both are far outside anything herd measures.
        self._hdr.record_value(min(max(micros, _LOWEST_US), _HIGHEST_US))

    @property
    def count(self) -> int:
        return self._hdr.get_total_count()

    def percentile(self, percent: float) -> float:
        return self._hdr.get_value_at_percentile(percent) / 1_000_000

    def summary(self) -> dict[str, float] | None:
        """p50…p999, min, max and mean in seconds; None when nothing was recorded."""
        if self.count == 0:
            return None
        # One pass over the counts for every percentile (one call each would walk them 5x).
        at = self._hdr.get_percentile_to_value_dict(list(PERCENTILES.values()))
        values = {name: at[p] / 1_000_000 for name, p in PERCENTILES.items()}
        values["min"] = self._hdr.get_min_value() / 1_000_000
        values["max"] = self._hdr.get_max_value() / 1_000_000
        values["mean"] = self._hdr.get_mean_value() / 1_000_000
        return {name: round(value, 6) for name, value in values.items()}

    def cumulative(self, bounds: Sequence[float]) -> tuple[list[int], float]:
        """Values at or below each bound (ascending, seconds), and the sum of all values.

        For Prometheus buckets, read at scrape time so the request path pays nothing.
        Exact to the histogram's resolution: a value within 0.1% above a bound may
        count under it. The sum takes each value as the middle of its HDR bucket.
        """
        hdr = self._hdr
        if hdr.get_total_count() == 0:
            return [0] * len(bounds), 0.0
        last = hdr.get_counts_array_index(hdr.max_value)
        counts = hdr.counts[: last + 1]  # one C-level copy; the loops below are per bound
        cumulative, running, summed_to = [], 0, 0
        for bound in bounds:
            micros = min(max(int(bound * 1_000_000), _LOWEST_US), _HIGHEST_US)
            index = min(hdr.get_counts_array_index(micros), last)
            if index >= summed_to:
                running += sum(counts[summed_to : index + 1])
                summed_to = index + 1
            cumulative.append(running)
        middles = _bucket_middles(
            hdr.unit_magnitude, hdr.sub_bucket_half_count_magnitude, hdr.counts_len
        )
        return cumulative, sum(map(operator.mul, counts, middles)) / 1_000_000

    def encode(self) -> str:
        """Compressed, base64 HdrHistogram encoding (interoperable with other HDR ports)."""
        return self._hdr.encode().decode("ascii")

    def merge(self, other: Histogram) -> None:
        self._hdr.add(other._hdr)

    @classmethod
    def decode(cls, encoded: str) -> Histogram:
        histogram = cls()
        histogram._hdr.decode_and_add(encoded.encode("ascii"))
        return histogram


@functools.cache
def _bucket_middles(unit_magnitude: int, half_magnitude: int, length: int) -> list[float]:
    """The middle value of each HDR bucket (hdrh's index layout), computed once per shape:
    looking each one up through hdrh at every scrape would hold the event loop for ms."""
    half = 1 << half_magnitude
    middles = []
    for index in range(length):
        bucket, sub_bucket = (index >> half_magnitude) - 1, (index & (half - 1)) + half
        if bucket < 0:
            bucket, sub_bucket = 0, sub_bucket - half
        size = 1 << (bucket + unit_magnitude)
        middles.append((sub_bucket << (bucket + unit_magnitude)) + (size - 1) / 2)
    return middles
