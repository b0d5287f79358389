"""Runners' full results -> the run's report, exactly as one runner of the whole load
would have written it.

Each runner's statistics (``RunnerResult.run_state``) are first put on one clock: a
runner's monotonic times become seconds since the earliest runner started, through its
``clock_offset`` (``wall = monotonic + clock_offset``). Then they are merged by the
engine's own code, as a multi-process runner merges its processes
(``herd.engine.multicore.state.merge_runs``: counts add up, HDR histograms merge bucket by
bucket, workers are a union with exact per-worker counts and the earliest first
sighting, uploads and event-loop lag merge), and the report is built and judged by
``herd.engine.reporting.build_report``, as a runner's is.

Two numbers are only as exact as the clocks: a timeline bucket moves by whole buckets,
so a runner's bucket lands within half a bucket of where its wall clock puts it; and
the peak in flight of several runners is bounded from their per-bucket peaks (one
bucket either side, for that half bucket), as for processes an upper bound.

A runner that left no results is named; its planned share is ``unknown``
(``lost_runners``), and the run is inconclusive.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from herd.api.loading import SpecError, parse_loadtest
from herd.api.report import Report, ScalingProbe
from herd.api.verdicts import PROCESS_LOST
from herd.engine.env_expansion import Redactor
from herd.engine.histogram import Histogram
from herd.engine.multicore.state import merge_runs
from herd.engine.planning import Plan
from herd.engine.recorder import Recorder
from herd.engine.reporting import RunFacts, build_report
from herd.engine.schedule import Share
from herd.engine.selfcheck import Finding
from herd.results.lost_runners import (
    RUNNER_LOST,
    lost_runners,
    missing_reason,
    unknown_share,
)
from herd.results.runner_result import RunnerResult

_LOST_PROCESS_PREFIX = "client-limited: process "


class MergeError(ValueError):
    """Runner results that cannot be merged into one run (the message says why)."""


def merge_runner_results(results: Sequence[RunnerResult], runners: int | None = None) -> Report:
    """The run's report from its runners' results (at least one). ``runners`` is how
    many runners the run had (default: what the runners' reports say)."""
    results = _checked(results, runners)
    expected = runners or results[0].report.runners
    first = results[0]
    try:
        loadtest = parse_loadtest(copy.deepcopy(first.loadtest))
    except SpecError as error:
        raise MergeError(f"runner {first.report.runner}: its LoadTest: {error}") from None
    spec = loadtest.spec
    whole = Share()
    plan = Plan(spec.load, spec.target, whole)
    deltas = _clock_deltas(results)
    states = [
        _rebased(result.run_state, delta) for result, delta in zip(results, deltas, strict=True)
    ]
    merged = merge_runs(states)
    recorder = merged.recorder or Recorder(0.0, plan.bucket_seconds)
    if merged.recorder is not None:
        recorder.peak_in_flight = _peak_bound(states, recorder.peak_in_flight)
    lost = lost_runners(spec, {result.report.runner for result in results}, expected)
    if unknown_share(lost):
        recorder.on_unknown(RUNNER_LOST, unknown_share(lost))
    reports = [result.report for result in results]
    windows = [
        (datetime.fromisoformat(r.load_started_at), r.duration_seconds)
        for r in reports
        if r.load_started_at is not None
    ]
    load_started = min((start for start, _ in windows), default=None)
    load_seconds = 0.0
    if load_started is not None:
        ends = [start.timestamp() + seconds for start, seconds in windows]
        load_seconds = max(ends) - load_started.timestamp()
    stats = merged.upload_stats
    staging = 0.0
    if stats is not None and stats.first_start is not None and stats.last_end is not None:
        staging = stats.last_end - stats.first_start
    facts = RunFacts(
        loadtest=loadtest,
        run_id=first.report.run_id,
        share=whole,
        plan=plan,
        started_at=min(datetime.fromisoformat(r.started_at) for r in reports),
        load_started_at=load_started,
        planned=sum(r.requests.planned for r in reports) + unknown_share(lost),
        load_seconds=max(0.0, load_seconds),
        cpu_utilization=max(r.client.cpu_utilization for r in reports),
        loop_lag=merged.loop_lag if merged.loop_lag is not None else Histogram(),
        stopped=next((r.stopped for r in reports if r.stopped), None),
        staging_seconds=staging,
        scaling_probe=_probe(results, deltas),
    )
    notes = [runner.diagnostic() for runner in lost] + [_note(reports, expected)]
    report = build_report(
        facts, recorder, stats, Redactor(), _lost_processes(reports), notes, missing_reason(lost)
    )
    return report.model_copy(update={"runners": expected, "namespace": first.report.namespace})


def _checked(results: Sequence[RunnerResult], runners: int | None) -> list[RunnerResult]:
    if not results:
        raise MergeError("no runner results to merge")
    ordered = sorted(results, key=lambda result: result.report.runner)
    first = ordered[0].report
    expected = runners or first.runners
    seen: set[int] = set()
    for result in ordered:
        report = result.report
        if report.runner in seen:
            raise MergeError(f"runner {report.runner} has two results")
        seen.add(report.runner)
        if (report.loadtest, report.run_id) != (first.loadtest, first.run_id):
            raise MergeError(
                f"runner {report.runner} ran {report.loadtest} run {report.run_id}, "
                f"runner {first.runner} {first.loadtest} run {first.run_id}: not one run"
            )
        if report.runner >= expected:
            raise MergeError(f"runner {report.runner} is not one of {expected} runners")
        if report.runners != first.runners:
            raise MergeError(
                f"runner {report.runner} was one of {report.runners} runners, "
                f"runner {first.runner} one of {first.runners}"
            )
        if result.run_state.get("recorder") is not None:
            bucket = result.run_state["recorder"]["bucket_seconds"]
            if bucket != _bucket_seconds(ordered):
                raise MergeError(f"runner {report.runner}'s timeline buckets are {bucket}s wide")
    return ordered


def _bucket_seconds(results: Sequence[RunnerResult]) -> float | None:
    return next(
        (r.run_state["recorder"]["bucket_seconds"] for r in results if r.run_state["recorder"]),
        None,
    )


def _wall_origin(result: RunnerResult) -> float:
    """When the runner's statistics start, on the wall clock."""
    recorder = result.run_state.get("recorder")
    if recorder is not None:
        return float(recorder["start"]) + result.clock_offset
    return datetime.fromisoformat(result.report.started_at).timestamp()


def _clock_deltas(results: Sequence[RunnerResult]) -> list[float]:
    """Seconds from the earliest runner's start to each runner's own."""
    origins = [_wall_origin(result) for result in results]
    common = min(origins)
    return [origin - common for origin in origins]


def _shift(value: float | None, by: float) -> float | None:
    return None if value is None else value + by


def _rebased(state: dict[str, Any], delta: float) -> dict[str, Any]:
    """``state`` on the common clock: 0 is the earliest runner's start."""
    state = copy.deepcopy(state)
    recorder = state.get("recorder")
    if recorder is not None:
        by = delta - recorder["start"]  # a monotonic time t becomes t + by
        recorder["start"] = 0.0
        for name in ("first_wire", "last_wire", "first_sent", "last_sent"):
            recorder[name] = _shift(recorder[name], by)
        recorder["area_since"] = recorder["area_since"] + by
        recorder["worker_first_seen"] = {
            worker: seen + delta for worker, seen in recorder["worker_first_seen"].items()
        }
        if "timeline" in recorder:
            keys = round(delta / recorder["bucket_seconds"])
            for row in recorder["timeline"]:
                row["key"] += keys
        uploads = state.get("uploads")
        if uploads is not None:
            uploads["first_start"] = _shift(uploads["first_start"], by)
            uploads["last_end"] = _shift(uploads["last_end"], by)
    return state


def _peak_bound(states: Sequence[dict[str, Any]], merged_peak: int) -> int:
    """Peak in flight of all runners: per common bucket, each runner's largest peak in
    that bucket or a neighbour (its buckets moved by up to half a bucket), added."""
    recorders = [s["recorder"] for s in states if s["recorder"] is not None]
    if not all("timeline" in r for r in recorders):
        every: int = sum(r["peak_in_flight"] for r in recorders)
        return every
    near: dict[int, int] = {}
    for recorder in recorders:
        own: dict[int, int] = {}
        for row in recorder["timeline"]:
            for key in (row["key"] - 1, row["key"], row["key"] + 1):
                own[key] = max(own.get(key, 0), row["peak"])
        for key, peak in own.items():
            near[key] = near.get(key, 0) + peak
    total: int = sum(r["peak_in_flight"] for r in recorders)
    return max(merged_peak, min(total, max(near.values(), default=0)))


def _probe(results: Sequence[RunnerResult], deltas: Sequence[float]) -> ScalingProbe | None:
    """The first runner's scaling probe (one polls the endpoint's provider), its samples
    on the common clock."""
    for result, delta in zip(results, deltas, strict=True):
        probe = result.report.scaling_probe
        if probe is not None:
            series = [
                sample.model_copy(update={"t": round(sample.t + delta, 3)})
                for sample in probe.series
            ]
            return probe.model_copy(update={"series": series})
    return None


def _lost_processes(reports: Sequence[Report]) -> list[Finding]:
    """A runner's lost processes stay findings of the run (and no spec ignores them)."""
    return [
        Finding(PROCESS_LOST, f"runner {r.runner}: {line.removeprefix('client-limited: ')}")
        for r in reports
        if PROCESS_LOST in r.self_check.limited_by
        for line in r.diagnostics
        if line.startswith(_LOST_PROCESS_PREFIX)
    ]


def _note(reports: Sequence[Report], expected: int) -> str:
    named = ", ".join(str(r.runner) for r in reports)
    note = f"merged from the results of runner {named} of {expected}"
    starts = [
        datetime.fromisoformat(r.load_started_at).timestamp()
        for r in reports
        if r.load_started_at is not None
    ]
    if len(starts) > 1:
        note += f"; their load started within {(max(starts) - min(starts)) * 1000:.2f} ms"
    return note
