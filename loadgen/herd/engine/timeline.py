"""What happened when: per-bucket counts over a run, for plots and scaling analysis.

Buckets are fixed-width slices of the run (0.1 s to 60 s, chosen so a run has at
most a few hundred). Latency per bucket is kept in coarse logarithmic bins (5%
wide), enough to draw percentiles over time in constant memory; the exact
numbers are in the run's HDR histograms.
"""

from __future__ import annotations

import math
from collections import Counter

from herd.api.report import TimelineBucket

_BIN_RATIO = math.log(1.05)  # bin width: percentiles over time are within 5%
_BIN_FLOOR = 1e-5  # 10 µs: anything faster lands in the first bin
_LOG_FLOOR = math.log(_BIN_FLOOR)
_BINS_PER_LOG = 1 / _BIN_RATIO


def _bin_value(index: int) -> float:
    return _BIN_FLOOR * math.exp((index + 1) * _BIN_RATIO)  # the bin's upper edge


class _Bucket:
    __slots__ = (
        "errors",
        "failed",
        "latency",
        "new_workers",
        "ok",
        "peak",
        "sent",
        "uploads",
        "workers",
    )

    def __init__(self) -> None:
        self.sent = 0
        self.ok = 0
        self.failed = 0
        self.peak = 0
        self.new_workers = 0
        self.uploads = 0
        self.workers: set[str] = set()
        self.errors: Counter[str] = Counter()
        self.latency: Counter[int] = Counter()

    def latency_percentile(self, percent: float) -> float | None:
        total = sum(self.latency.values())
        if not total:
            return None
        rank = math.ceil(total * percent / 100)
        seen = 0
        for index in sorted(self.latency):
            seen += self.latency[index]
            if seen >= rank:
                return round(_bin_value(index), 6)
        return None  # unreachable: the counts add up to total


class Timeline:
    def __init__(self, start: float, bucket_seconds: float):
        self.start = start
        self.bucket_seconds = bucket_seconds
        self._buckets: dict[int, _Bucket] = {}
        # The bucket the last event fell in, and its span: events arrive in time
        # order, so nearly every event lands in it without computing its key.
        self._current = _Bucket()
        self._current_from = self._current_until = 0.0

    def _bucket(self, at: float) -> _Bucket:
        if self._current_from <= at < self._current_until:
            return self._current
        key = max(0, int((at - self.start) / self.bucket_seconds))
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
        self._current = bucket
        self._current_from = self.start + key * self.bucket_seconds
        self._current_until = self._current_from + self.bucket_seconds
        return bucket

    def sent(self, at: float, in_flight: int) -> None:
        if self._current_from <= at < self._current_until:
            bucket = self._current
        else:
            bucket = self._bucket(at)
        bucket.sent += 1
        if in_flight > bucket.peak:
            bucket.peak = in_flight

    def done(self, at: float, latency: float, error: str | None, in_flight: int) -> None:
        """``in_flight`` counts this request still: buckets without sends show their load too."""
        if self._current_from <= at < self._current_until:
            bucket = self._current
        else:
            bucket = self._bucket(at)
        if in_flight > bucket.peak:
            bucket.peak = in_flight
        if error is None:
            bucket.ok += 1
        else:
            bucket.failed += 1
            bucket.errors[error] += 1
        # The latency's bin, computed inline: this runs for every request.
        if latency <= _BIN_FLOOR:
            bucket.latency[0] += 1
        else:
            bucket.latency[int((math.log(latency) - _LOG_FLOOR) * _BINS_PER_LOG)] += 1

    def worker_answered(self, at: float, worker: str, first_time: bool) -> None:
        if self._current_from <= at < self._current_until:
            bucket = self._current
        else:
            bucket = self._bucket(at)
        bucket.workers.add(worker)
        if first_time:
            bucket.new_workers += 1

    def upload_done(self, at: float) -> None:
        self._bucket(at).uploads += 1

    def rows(self) -> list[TimelineBucket]:
        rows: list[TimelineBucket] = []
        for key in sorted(self._buckets):
            bucket = self._buckets[key]
            rows.append(
                TimelineBucket(
                    t=round(key * self.bucket_seconds, 3),
                    sent=bucket.sent,
                    ok=bucket.ok,
                    failed=bucket.failed,
                    errors=dict(bucket.errors),
                    peak_in_flight=bucket.peak,
                    new_workers=bucket.new_workers,
                    active_workers=len(bucket.workers),
                    uploads=bucket.uploads,
                    latency_p50=bucket.latency_percentile(50),
                    latency_p95=bucket.latency_percentile(95),
                    latency_p99=bucket.latency_percentile(99),
                )
            )
        return rows
