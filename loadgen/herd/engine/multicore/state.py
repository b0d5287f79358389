"""A run's statistics as plain JSON, and several of them merged into one.

Every process of a runner records its own requests; the parent adds them up into
one ``Recorder`` (with upload statistics and event-loop lag) so the runner's report
is built by the same code as a single process's. The merge is exact where the
numbers allow it: counts add up, HDR histograms merge bucket by bucket, workers
are a set union with the earliest first sighting and summed requests, and
timeline buckets line up because every process counts from its parent's origin
on one clock (``time.perf_counter``, CLOCK_MONOTONIC: one clock for all the
processes of a machine). A peak of concurrent processes cannot be rebuilt from
their peaks: per timeline bucket the processes' peaks are added, and the run's
peak is the largest such sum, an upper bound that is exact when the processes
peak together (a burst, a closed loop).

This module reads the recorder's internals so the recorder itself stays lean for
the request path; tests/multicore/test_state.py splits one stream of requests over
several recorders and checks that their merge reports what a single one does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from herd.engine.histogram import Histogram
from herd.engine.probe import Sample
from herd.engine.recorder import Recorder, sending_mean
from herd.engine.run import LoadRun
from herd.engine.staging import UploadStats
from herd.engine.timeline import _Bucket

_RECORDER_HISTOGRAMS = (
    "latency",
    "service_time",
    "ttfb",
    "pool_wait",
    "scheduling_lag",
    "queue_delay",
    "execution",
)
_UPLOAD_COUNTS = (
    "objects",
    "bytes",
    "failed",
    "retries",
    "throttled",
    "in_flight",
    "peak_in_flight",
    "cleanup_deleted",
    "cleanup_failed",
)


# -- one process -> JSON ------------------------------------------------------------


def recorder_state(recorder: Recorder, with_timeline: bool = True) -> dict[str, Any]:
    recorder.settle()
    state: dict[str, Any] = {
        "start": recorder.start,
        "bucket_seconds": recorder.timeline.bucket_seconds,
        "histograms": {name: getattr(recorder, name).encode() for name in _RECORDER_HISTOGRAMS},
        "sent": recorder.sent,
        "ok": recorder.ok,
        "failed": recorder.failed,
        "errors": dict(recorder.errors),
        "status_codes": {str(code): n for code, n in recorder.status_codes.items()},
        "never_sent": dict(recorder.never_sent),
        "response_bytes": recorder.response_bytes,
        "bodies_cut": recorder.bodies_cut,
        "unknown": dict(recorder.unknown),
        "in_flight": recorder.in_flight,
        "peak_in_flight": recorder.peak_in_flight,
        "first_wire": _finite(recorder.first_wire),
        "last_wire": _finite(recorder.last_wire),
        "worker_requests": dict(recorder.worker_requests),
        "worker_first_seen": dict(recorder.worker_first_seen),
        "in_flight_area": recorder._in_flight_area,
        "area_since": recorder._area_since,
        "first_sent": recorder._first_sent,
        "sending_area": recorder._sending_area,
        "last_sent": recorder._last_sent,
    }
    if with_timeline:
        state["timeline"] = [
            {
                "key": key,
                "sent": bucket.sent,
                "ok": bucket.ok,
                "failed": bucket.failed,
                "peak": bucket.peak,
                "uploads": bucket.uploads,
                "workers": sorted(bucket.workers),
                "errors": dict(bucket.errors),
                "latency": {str(index): n for index, n in bucket.latency.items()},
            }
            for key, bucket in sorted(recorder.timeline._buckets.items())
        ]
    return state


def upload_state(stats: UploadStats) -> dict[str, Any]:
    state: dict[str, Any] = {name: getattr(stats, name) for name in _UPLOAD_COUNTS}
    state.update(
        errors=dict(stats.errors),
        latency=stats.latency.encode(),
        slot_wait=stats.slot_wait.encode(),
        first_start=stats.first_start,
        last_end=stats.last_end,
    )
    return state


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# -- many -> one ----------------------------------------------------------------------


def merge_recorders(states: Sequence[dict[str, Any]]) -> Recorder:
    """One recorder holding every process's requests (at least one state)."""
    origin, bucket_seconds = states[0]["start"], states[0]["bucket_seconds"]
    for state in states:
        if (state["start"], state["bucket_seconds"]) != (origin, bucket_seconds):
            raise ValueError("states of different runs (origin or bucket width differ)")
    merged = Recorder(origin, bucket_seconds)
    for name in _RECORDER_HISTOGRAMS:
        histogram = getattr(merged, name)
        for state in states:
            histogram.merge(Histogram.decode(state["histograms"][name]))
    for name in ("sent", "ok", "failed", "in_flight", "response_bytes", "bodies_cut"):
        setattr(merged, name, sum(state[name] for state in states))
    merged.errors = _added(state["errors"] for state in states)
    merged.never_sent = _added(state["never_sent"] for state in states)
    merged.unknown = _added(state.get("unknown", {}) for state in states)
    merged.status_codes = Counter(
        {int(code): n for code, n in _added(s["status_codes"] for s in states).items()}
    )
    wires = [s["first_wire"] for s in states if s["first_wire"] is not None]
    merged.first_wire = min(wires, default=math.inf)
    wires = [s["last_wire"] for s in states if s["last_wire"] is not None]
    merged.last_wire = max(wires, default=-math.inf)
    _merge_workers(merged, states)
    _merge_in_flight_area(merged, states)
    merged.peak_in_flight = sum(state["peak_in_flight"] for state in states)
    if all("timeline" in state for state in states):
        _merge_timeline(merged, states)
    return merged


def merge_uploads(states: Sequence[dict[str, Any]]) -> UploadStats:
    merged = UploadStats()
    for name in _UPLOAD_COUNTS:
        setattr(merged, name, sum(state[name] for state in states))
    merged.errors = dict(_added(state["errors"] for state in states))
    for state in states:
        merged.latency.merge(Histogram.decode(state["latency"]))
        merged.slot_wait.merge(Histogram.decode(state["slot_wait"]))
    starts = [s["first_start"] for s in states if s["first_start"] is not None]
    ends = [s["last_end"] for s in states if s["last_end"] is not None]
    merged.first_start = min(starts, default=None)
    merged.last_end = max(ends, default=None)
    return merged


def merge_histograms(encoded: Iterable[str]) -> Histogram:
    merged = Histogram()
    for text in encoded:
        merged.merge(Histogram.decode(text))
    return merged


def _added(counters: Iterable[dict[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for counts in counters:
        total.update(counts)
    return total


def _merge_workers(merged: Recorder, states: Sequence[dict[str, Any]]) -> None:
    first_seen: dict[str, float] = {}
    for state in states:
        merged.worker_requests.update(state["worker_requests"])
        for worker, seen in state["worker_first_seen"].items():
            if seen < first_seen.get(worker, math.inf):
                first_seen[worker] = seen
    # In order of appearance, as one recorder keeps them (the exporter relies on it).
    merged.worker_first_seen = dict(sorted(first_seen.items(), key=lambda item: item[1]))


def _merge_in_flight_area(merged: Recorder, states: Sequence[dict[str, Any]]) -> None:
    # Each process's in-flight integral covers its own first send to its last event
    # and is zero outside it, so the runner's is their sum over the union of spans.
    sending = [s for s in states if s["first_sent"] is not None]
    if not sending:
        return
    merged._first_sent = min(s["first_sent"] for s in sending)
    merged._area_since = max(s["area_since"] for s in sending)
    merged._in_flight_area = sum(state["in_flight_area"] for state in states)
    # Each process is a closed loop over its own share, sending until its last send: the
    # runner kept the sum of their means in flight (a process whose share ran out first
    # must not look like the client falling short). Stored as an area over the union.
    merged._last_sent = max(s["last_sent"] for s in sending)
    window = merged._last_sent - merged._first_sent
    mean = sum(
        sending_mean(s["sending_area"], s["first_sent"], s["last_sent"], s["peak_in_flight"])
        for s in sending
    )
    merged._sending_area = mean * window if window > 0 else 0.0


def _merge_timeline(merged: Recorder, states: Sequence[dict[str, Any]]) -> None:
    buckets: dict[int, _Bucket] = {}
    for state in states:
        for row in state["timeline"]:
            bucket = buckets.get(row["key"])
            if bucket is None:
                bucket = buckets[row["key"]] = _Bucket()
            bucket.sent += row["sent"]
            bucket.ok += row["ok"]
            bucket.failed += row["failed"]
            bucket.peak += row["peak"]
            bucket.uploads += row["uploads"]
            bucket.workers.update(row["workers"])
            bucket.errors.update(row["errors"])
            bucket.latency.update({int(index): n for index, n in row["latency"].items()})
    # A worker is new in the bucket of its first sighting by any process.
    width = merged.timeline.bucket_seconds
    for seen in merged.worker_first_seen.values():
        bucket = buckets.get(max(0, int(seen / width)))
        if bucket is not None:
            bucket.new_workers += 1
    merged.timeline._buckets = buckets
    if buckets:
        merged.peak_in_flight = min(
            merged.peak_in_flight, max(bucket.peak for bucket in buckets.values())
        )


# -- a whole process: what it sends while running and what it leaves at the end -------


@dataclass
class ProbeView:
    """The scaling probe as the exporter reads it: the latest sample and the failures."""

    series: list[Sample] = field(default_factory=list)
    failures: int = 0


@dataclass
class MergedStats:
    """The statistics a LoadRun exposes while it runs, for several processes at once."""

    recorder: Recorder | None = None
    upload_stats: UploadStats | None = None
    loop_lag: Histogram | None = None
    probe: ProbeView | None = None


class _ProbeStatistics(Protocol):
    @property
    def series(self) -> Sequence[Sample]: ...
    @property
    def failures(self) -> int: ...


class RunStatistics(Protocol):
    """What ``run_state`` reads: a ``LoadRun``, or a ``MultiProcessRun``'s merged view."""

    @property
    def recorder(self) -> Recorder | None: ...
    @property
    def upload_stats(self) -> UploadStats | None: ...
    @property
    def loop_lag(self) -> Histogram | None: ...
    @property
    def probe(self) -> _ProbeStatistics | None: ...


def run_state(
    load_run: RunStatistics | LoadRun,
    extras: Mapping[str, Callable[[], Any]] | None = None,
    with_timeline: bool = True,
) -> dict[str, Any]:
    """Everything the parent merges, as JSON; ``extras`` add what other layers collect."""
    recorder, uploads, loop_lag, probe = (
        load_run.recorder,
        load_run.upload_stats,
        load_run.loop_lag,
        load_run.probe,
    )
    return {
        "recorder": recorder_state(recorder, with_timeline) if recorder is not None else None,
        "uploads": upload_state(uploads) if uploads is not None else None,
        "loop_lag": loop_lag.encode() if loop_lag is not None else None,
        "probe": {"series": list(probe.series[-1:]), "failures": probe.failures} if probe else None,
        "extras": {name: snapshot() for name, snapshot in (extras or {}).items()},
    }


def merge_runs(states: Sequence[dict[str, Any]]) -> MergedStats:
    merged = MergedStats()
    recorders = [s["recorder"] for s in states if s["recorder"] is not None]
    if recorders:
        merged.recorder = merge_recorders(recorders)
    uploads = [s["uploads"] for s in states if s["uploads"] is not None]
    if uploads:
        merged.upload_stats = merge_uploads(uploads)
    lags = [s["loop_lag"] for s in states if s["loop_lag"] is not None]
    if lags:
        merged.loop_lag = merge_histograms(lags)
    probe = next((s["probe"] for s in states if s["probe"] is not None), None)
    if probe is not None:
        merged.probe = ProbeView(list(probe["series"]), probe["failures"])
    return merged
