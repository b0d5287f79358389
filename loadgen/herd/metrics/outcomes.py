"""The one per-request piece of the exporter: completed requests by code, with durations.

The recorder keeps one latency histogram for all requests; Prometheus users split
latency by outcome (a fast ``503`` must not make the ``200`` latency look good), so
this recorder listener buckets each request's duration under its code. It is on
the request path, so it does the least it can: one dict lookup, one bisect, two
additions. Everything else is read from the recorder at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Protocol

from herd.engine.records import RequestRecord
from herd.metrics.buckets import DURATION_BUCKETS

Snapshot = dict[str, tuple[list[int], float]]
"""Per code: cumulative counts for each bound then +Inf, and the sum of durations."""


class OutcomeSnapshots(Protocol):
    """What ``/metrics`` reads of the outcomes: this process's (``RequestOutcomes``), or
    a runner's processes' added up (``herd.metrics.processes.MergedOutcomes``)."""

    @property
    def bounds(self) -> tuple[float, ...]: ...

    def snapshot(self) -> Snapshot: ...


class RequestOutcomes:
    """Recorder listener: per code, the sum and the (non-cumulative) bucket counts of durations.

    The code is the HTTP status, or the error class when no status explains the
    outcome (``timeout``, ``connect``, or ``aborted`` after a ``200``'s headers).
    The duration runs from the request's intended start, as the report's latency does.
    """

    __slots__ = ("_bounds", "_by_key")

    def __init__(self, bounds: Sequence[float] = DURATION_BUCKETS):
        self._bounds = tuple(bounds)
        # Keyed by the status (int) or the error class (str): building the label
        # string waits for the scrape. Each value: [sum, bucket 0, …, bucket +Inf]
        # (the counts are ints; one flat list keeps the per-request update cheap).
        self._by_key: dict[int | str, list[float]] = {}

    @property
    def bounds(self) -> tuple[float, ...]:
        return self._bounds

    def __call__(self, record: RequestRecord) -> None:
        error = record.error
        key: int | str = record.status if error is None or error.startswith("http_") else error
        tally = self._by_key.get(key)
        if tally is None:
            tally = self._by_key[key] = [0.0] + [0] * (len(self._bounds) + 1)
        seconds = record.end - record.intended
        tally[0] += seconds
        tally[bisect_left(self._bounds, seconds) + 1] += 1  # le: bound >= value

    def snapshot(self) -> dict[str, tuple[list[int], float]]:
        """Per code: cumulative counts for each bound then +Inf, and the sum of durations."""
        result: dict[str, tuple[list[int], float]] = {}
        for key, tally in self._by_key.items():
            cumulative: list[int] = []
            running = 0
            for count in tally[1:]:
                running += int(count)
                cumulative.append(running)
            code = str(key) if isinstance(key, int) else key
            result[code] = (cumulative, tally[0])
        return result
