"""Aggregates request events into constant-memory statistics.

The request path only calls ``on_sent`` / ``on_done``; histograms, counters, the
worker table and the timeline live here, and anything else that wants request
events (the Prometheus exporter, the request log) subscribes as a listener, so
the HTTP code never knows who is watching.

A finished request is only queued by ``on_done``; ``settle`` counts the queue in
batches. Counted one by one, between the event loop's and aiohttp's work, the
recorder's tables kept falling out of the CPU's caches: 2.5 µs a request more in
the closed loop, about a twentieth of a request's whole cost. What is counted at
``on_sent`` (sent, in flight, its peak) and ``never_sent`` is always current;
everything else is exact after ``settle()``, which every reader calls first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from herd.engine.histogram import Histogram
from herd.engine.records import RequestRecord
from herd.engine.timeline import Timeline

# Distinct worker ids kept by name; beyond this, workers are folded into "other"
# so a misbehaving endpoint (a fresh id per response) cannot grow memory without bound.
MAX_TRACKED_WORKERS = 10_000
OTHER_WORKERS = "other"

# Finished requests queued before they are counted: few enough to stay in the caches.
_BATCH = 256

Listener = Callable[[RequestRecord], None]


def sending_mean(area: float, first: float | None, last: float | None, peak: int) -> float:
    """Mean in flight over the sending window [first, last], from its in-flight integral."""
    if first is None or last is None or last <= first:
        return float(peak)  # everything left at once
    return area / (last - first)


class Recorder:
    """All request statistics of one runner."""

    def __init__(self, start: float, bucket_seconds: float):
        self.start = start
        self.latency = Histogram()  # intended start -> end: what a user of the endpoint waits
        self.service_time = Histogram()  # sent -> end
        self.ttfb = Histogram()  # sent -> response headers
        self.pool_wait = Histogram()  # waits for a pooled HTTP connection (only those that waited)
        self.scheduling_lag = Histogram()  # intended start -> sent, less the pool wait
        self.queue_delay = Histogram()  # endpoint-reported delayTime
        self.execution = Histogram()  # endpoint-reported executionTime
        self.sent = 0
        self.ok = 0
        self.failed = 0
        self.errors: Counter[str] = Counter()
        self.status_codes: Counter[int] = Counter()
        self.never_sent: Counter[str] = Counter()
        self.response_bytes = 0  # response body bytes read, decoded
        self.bodies_cut = 0  # bodies too long to be held (keepResponseBytes)
        # Planned requests whose fate is unknown (a lost process's), by reason: only a
        # merge of several processes' records ever has any.
        self.unknown: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.first_wire = float("inf")
        self.last_wire = float("-inf")
        self.worker_requests: Counter[str] = Counter()
        self.worker_first_seen: dict[str, float] = {}
        self.timeline = Timeline(start, bucket_seconds)
        self.listeners: list[Listener] = []
        # Time-weighted in-flight: the integral of in_flight over time.
        self._in_flight_area = 0.0
        self._area_since = start
        self._first_sent: float | None = None
        # The integral up to the latest send: the run's sending window, without the drain.
        self._sending_area = 0.0
        self._last_sent: float | None = None
        self._finished: list[RequestRecord] = []

    def mean_in_flight(self) -> float:
        """Average requests in flight while the run was sending: from the first send to the
        last. The drain after the last send (in flight falls as the last requests end, for
        as long as the slowest takes) is the end of the load, not the client falling short."""
        return sending_mean(
            self._sending_area, self._first_sent, self._last_sent, self.peak_in_flight
        )

    # on_sent and on_done run for every request: the in-flight integral is inlined.

    def on_sent(self, record: RequestRecord) -> None:
        sent = record.sent
        if self._first_sent is None:
            self._first_sent = self._area_since = sent
        in_flight = self.in_flight
        if sent > self._area_since:
            self._in_flight_area += in_flight * (sent - self._area_since)
            self._area_since = sent
        self._sending_area = self._in_flight_area
        self._last_sent = sent
        self.sent += 1
        self.in_flight = in_flight = in_flight + 1
        if in_flight > self.peak_in_flight:
            self.peak_in_flight = in_flight
        # The client's own lateness: a wait for a pooled connection is pool_wait's.
        self.scheduling_lag.record(sent - record.intended - record.pool_wait)
        self.timeline.sent(sent, in_flight)

    def on_done(self, record: RequestRecord) -> None:
        end = record.end
        record.in_flight = in_flight = self.in_flight
        if end > self._area_since:
            self._in_flight_area += in_flight * (end - self._area_since)
            self._area_since = end
        self.in_flight = in_flight - 1
        finished = self._finished
        finished.append(record)
        if len(finished) >= _BATCH:
            self.settle()

    def settle(self) -> None:
        """Count every finished request, then hand them to the listeners: the statistics
        are exact after this, and a listener that fails cannot have them counted twice."""
        finished = self._finished
        if not finished:
            return
        self._finished = []
        timeline_done = self.timeline.done
        latency_record = self.latency.record
        service_time_record = self.service_time.record
        ttfb_record = self.ttfb.record
        status_codes = self.status_codes
        first_wire, last_wire = self.first_wire, self.last_wire
        ok = body_bytes = 0
        for record in finished:
            end, sent, error = record.end, record.sent, record.error
            latency = end - record.intended
            timeline_done(end, latency, error, record.in_flight)
            if error is None:
                ok += 1
            else:
                self.failed += 1
                self.errors[error] += 1
            if record.status:
                status_codes[record.status] += 1
                body_bytes += record.body_bytes
                if record.body_cut:
                    self.bodies_cut += 1
            latency_record(latency)
            service_time_record(end - sent)
            if record.ttfb:
                ttfb_record(record.ttfb - sent)
            if record.pool_wait:
                self.pool_wait.record(record.pool_wait)
            wire = record.wire or sent
            if wire < first_wire:
                first_wire = wire
            if wire > last_wire:
                last_wire = wire
            if record.worker is not None:
                self._count_worker(record.worker, end)
            if record.delay is not None:
                self.queue_delay.record(record.delay)
            if record.execution is not None:
                self.execution.record(record.execution)
        self.ok += ok
        self.response_bytes += body_bytes
        self.first_wire, self.last_wire = first_wire, last_wire
        for listener in self.listeners:
            for record in finished:
                listener(record)

    def on_never_sent(self, reason: str, count: int = 1) -> None:
        self.never_sent[reason] += count

    def on_unknown(self, reason: str, count: int) -> None:
        self.unknown[reason] += count

    def _count_worker(self, worker: str, at: float) -> None:
        first_time = False
        if worker not in self.worker_requests:
            if len(self.worker_first_seen) >= MAX_TRACKED_WORKERS:
                worker = OTHER_WORKERS
            if worker not in self.worker_first_seen:
                self.worker_first_seen[worker] = at - self.start
                first_time = True
        self.worker_requests[worker] += 1
        self.timeline.worker_answered(at, worker, first_time)

    @property
    def wire_spread(self) -> float:
        """Seconds between the first and the last request leaving the client."""
        return max(0.0, self.last_wire - self.first_wire) if self.sent else 0.0
