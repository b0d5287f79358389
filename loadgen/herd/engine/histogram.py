"""Latency histograms (HdrHistogram) that merge exactly across runners.

Values are recorded in whole microseconds from 1 µs to 1 hour at 3 significant
digits (0.1% error), so memory stays constant however many requests a run makes,
and percentiles of merged runners are exact — never averages of percentiles.

Recording runs several times per request, so a value only joins a short list; the
list is counted in batches into a flat array of counters laid out as hdrh lays out
its own (a few integer operations a value, where hdrh's Python ``record_value``
costs over a microsecond). Every read counts what is pending first, so reads are
always exact. Reading walks the counters with C-level builtins; hdrh supplies the
wire format (``encode``/``decode``) that runners and the operator exchange, and the
tests hold the layout to hdrh's, counter by counter.
"""

from __future__ import annotations

import functools
import operator
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import accumulate, repeat

from hdrh.histogram import HdrHistogram

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000
_SIGNIFICANT_DIGITS = 3

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}

# Values pending before they are counted: small enough to stay in the cache.
_BATCH = 256


def new_hdr() -> HdrHistogram:
    """An empty hdrh histogram of the engine's range and precision."""
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _SIGNIFICANT_DIGITS)


_SHAPE = new_hdr()
# A lowest value of 1 µs makes hdrh's unit magnitude 0, which the index arithmetic assumes.
assert _SHAPE.unit_magnitude == 0
_COUNTERS: int = _SHAPE.counts_len
_HALF_MAGNITUDE: int = _SHAPE.sub_bucket_half_count_magnitude
_SUB_BUCKET_MASK: int = _SHAPE.sub_bucket_mask
_SUB_BUCKET_BITS = _HALF_MAGNITUDE + 1
del _SHAPE


def counter_index(micros: int) -> int:
    """hdrh's counter for ``micros`` (1 ≤ micros ≤ the highest value)."""
    shift = (micros | _SUB_BUCKET_MASK).bit_length() - _SUB_BUCKET_BITS
    return (shift << _HALF_MAGNITUDE) + (micros >> shift)


class Histogram:
    """Seconds in, seconds out; microseconds inside."""

    __slots__ = ("_counts", "_pending")

    def __init__(self) -> None:
        self._counts = array("q", bytes(8 * _COUNTERS))
        self._pending: list[float] = []

    def record(self, seconds: float) -> None:
        pending = self._pending
        pending.append(seconds)
        if len(pending) >= _BATCH:
            self._count_pending()

    def _count_pending(self) -> None:
        counts = self._counts
        for seconds in self._pending:
            micros = int(seconds * 1_000_000)
            if micros <= _SUB_BUCKET_MASK:  # up to 2 ms each microsecond is its own counter
                # Clamp: a negative clock step must not raise on the request path.
                counts[micros if micros >= _LOWEST_US else _LOWEST_US] += 1
                continue
            if micros > _HIGHEST_US:  # past an hour: far outside anything herd measures
                micros = _HIGHEST_US
            shift = (micros | _SUB_BUCKET_MASK).bit_length() - _SUB_BUCKET_BITS
            counts[(shift << _HALF_MAGNITUDE) + (micros >> shift)] += 1
        self._pending.clear()

    def _counted(self) -> array[int]:
        """The counters, with every recorded value in them."""
        if self._pending:
            self._count_pending()
        return self._counts

    @property
    def count(self) -> int:
        return sum(self._counts) + len(self._pending)

    def percentile(self, percent: float) -> float:
        return _values_at(list(accumulate(self._counted())), [percent])[0] / 1_000_000

    def summary(self) -> dict[str, float] | None:
        """p50…p999, min, max and mean in seconds, as hdrh computes them; None when empty."""
        counts = self._counted()
        running = list(accumulate(counts))
        total = running[-1]
        if total == 0:
            return None
        at = _values_at(running, PERCENTILES.values())
        values = {name: micros / 1_000_000 for name, micros in zip(PERCENTILES, at, strict=True)}
        lowest, highest, medians = _equivalent_values()
        values["min"] = lowest[bisect_left(running, 1)] / 1_000_000
        values["max"] = highest[bisect_left(running, total)] / 1_000_000
        values["mean"] = sum(map(operator.mul, counts, medians)) / total / 1_000_000
        return {name: round(value, 6) for name, value in values.items()}

    def cumulative(self, bounds: Sequence[float]) -> tuple[list[int], float]:
        """Values at or below each bound (ascending, seconds), and the sum of all values.

        For Prometheus buckets, read at scrape time so the request path pays nothing.
        Exact to the histogram's resolution: a value within 0.1% above a bound may
        count under it. The sum takes each value as the middle of its HDR bucket.
        """
        counts = self._counted()
        running = list(accumulate(counts))
        if running[-1] == 0:
            return [0] * len(bounds), 0.0
        cumulative = []
        for bound in bounds:
            micros = min(max(int(bound * 1_000_000), _LOWEST_US), _HIGHEST_US)
            cumulative.append(running[counter_index(micros)])
        return cumulative, sum(map(operator.mul, counts, _bucket_middles())) / 1_000_000

    def encode(self) -> str:
        """Compressed, base64 HdrHistogram encoding (interoperable with other HDR ports)."""
        hdr = new_hdr()
        counts = self._counted()
        running = list(accumulate(counts))
        total = running[-1]
        if total:
            # Copied in one C-level step (runners encode while the load runs); hdrh's
            # encoder reads the counters, the total and where the highest value is.
            hdr.counts[:] = counts
            lowest, _, _ = _equivalent_values()
            hdr.total_count = total
            hdr.min_value = lowest[bisect_left(running, 1)]
            hdr.max_value = lowest[bisect_left(running, total)]
        encoded: bytes = hdr.encode()
        return encoded.decode("ascii")

    def merge(self, other: Histogram) -> None:
        self._counts = array("q", map(operator.add, self._counted(), other._counted()))

    @classmethod
    def decode(cls, encoded: str) -> Histogram:
        hdr = new_hdr()
        hdr.decode_and_add(encoded.encode("ascii"))
        histogram = cls()
        histogram._counts = array("q", hdr.counts)
        return histogram


def _values_at(running: list[int], percents: Iterable[float]) -> list[int]:
    """hdrh's value (µs) at each percentile, from cumulative counts: the top of the
    counter holding that rank."""
    total = running[-1]
    if total == 0:
        return [0 for _ in percents]
    lowest, highest, _ = _equivalent_values()
    values = []
    for percent in percents:
        rank = max(int(min(percent, 100.0) * total / 100 + 0.5), 1)
        index = bisect_left(running, rank)
        values.append(highest[index] if percent else lowest[index])
    return values


@functools.cache
def _equivalent_values() -> tuple[list[int], list[int], list[int]]:
    """Per counter: the lowest and highest value it holds, and hdrh's "median
    equivalent" (lowest + half its width) that hdrh's mean weighs it by."""
    half = 1 << _HALF_MAGNITUDE
    lowest, widths = list(range(2 * half)), [1] * (2 * half)  # bucket 0: a counter per value
    bucket = 1
    while len(lowest) < _COUNTERS:  # then each bucket: half as many counters, twice as wide
        lowest.extend(range(half << bucket, 2 * half << bucket, 1 << bucket))
        widths.extend([1 << bucket] * half)
        bucket += 1
    highest = list(map(operator.add, lowest, map(operator.sub, widths, repeat(1))))
    medians = list(map(operator.add, lowest, map(operator.rshift, widths, repeat(1))))
    return lowest, highest, medians


@functools.cache
def _bucket_middles() -> list[float]:
    """The middle of each counter's range, for Prometheus sums: computed once, since
    looking each one up through hdrh at every scrape would hold the event loop for ms."""
    lowest, highest, _ = _equivalent_values()
    return [(low + high) / 2 for low, high in zip(lowest, highest, strict=True)]
