"""Turning a runner's statistics into the report, thresholds and verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from herd import __version__
from herd.api.report import (
    Client,
    Concurrency,
    Percentiles,
    Report,
    Requests,
    Responses,
    ScalingProbe,
    ThresholdResult,
    Timeline,
    Uploads,
    Workers,
)
from herd.api.spec import LoadTest, LoadTestSpec
from herd.api.thresholds import IMPLICIT_THRESHOLD, Threshold
from herd.api.verdicts import explain, verdict_of
from herd.engine.env_expansion import Redactor
from herd.engine.histogram import Histogram
from herd.engine.planning import Plan
from herd.engine.recorder import Recorder
from herd.engine.schedule import Share
from herd.engine.scrub import scrub_credentials
from herd.engine.selfcheck import Assessment, Finding, RunShape, assess
from herd.engine.staging import UploadStats

_TIME_TO_WORKERS_LIMIT = 100


@dataclass(frozen=True)
class RunFacts:
    """What the runner knows about the run besides the request statistics."""

    loadtest: LoadTest
    run_id: str
    share: Share
    plan: Plan
    started_at: datetime
    load_started_at: datetime | None
    planned: int
    load_seconds: float
    cpu_utilization: float
    loop_lag: Histogram
    stopped: str | None
    staging_seconds: float
    scaling_probe: ScalingProbe | None = None


def _percentiles(histogram: Histogram) -> Percentiles | None:
    summary = histogram.summary()
    return Percentiles(**summary) if summary else None


def threshold_value(threshold: Threshold, report: Report) -> float | None:
    """The report's number a threshold talks about; None when the run has none."""
    metric = threshold.metric
    latency = report.latency_seconds
    if metric in ("p50", "p90", "p95", "p99", "p999", "max", "mean"):
        return getattr(latency, metric) if latency else None
    requests = report.requests
    if metric == "error_rate":
        # Never-sent and unknown requests count as not succeeding: a run that could not
        # send half its load, or lost a process, must not pass an error-rate threshold.
        if requests.planned == 0:
            return None
        return (requests.failed + requests.never_sent + requests.unknown) / requests.planned
    if metric == "errors":
        return float(requests.failed)
    if metric == "never_sent":
        return float(requests.never_sent)
    if metric == "ok":
        return float(requests.ok)
    if metric == "workers":
        return float(report.workers.distinct)
    if metric == "throughput":
        return report.throughput_rps
    if metric == "burst_spread":
        return report.concurrency.burst_spread_seconds
    raise ValueError(f"no value for metric {metric}")  # METRICS and this function disagree


def evaluate_thresholds(report: Report, thresholds: list[Threshold]) -> list[ThresholdResult]:
    """The spec's thresholds judged on ``report``, then herd's implicit one (a run in
    which no request succeeded fails), listed only when it fails so that the verdict
    ("passed" when every result passed) always has a failed line to show for itself."""
    results = []
    for threshold in thresholds:
        value = threshold_value(threshold, report)
        passed = value is not None and threshold.holds(value)
        results.append(ThresholdResult(expr=threshold.expr, value=value, passed=passed))
    if report.requests.ok == 0:
        results.append(
            ThresholdResult(expr=IMPLICIT_THRESHOLD, value=0.0, passed=False, implicit=True)
        )
    return results


def build_report(
    facts: RunFacts,
    recorder: Recorder,
    upload_stats: UploadStats | None,
    redactor: Redactor,
    lost: Sequence[Finding] = (),
    notes: Sequence[str] = (),
) -> Report:
    """The report of a run, judged. ``lost``: processes that left no results (a
    multi-process runner's), ``notes``: what else its diagnostics should say."""
    spec = facts.loadtest.spec
    recorder.settle()
    completed = recorder.ok + recorder.failed
    uploads = None
    if upload_stats is not None and spec.uploads is not None:
        uploads = Uploads(
            objects=upload_stats.objects,
            bytes=upload_stats.bytes,
            failed=upload_stats.failed,
            retries=upload_stats.retries,
            throttled=upload_stats.throttled,
            peak_in_flight=upload_stats.peak_in_flight,
            concurrency=spec.uploads.concurrency,
            errors=dict(upload_stats.errors),
            latency_seconds=_percentiles(upload_stats.latency),
            duration_seconds=round(facts.staging_seconds, 6),
            cleanup_deleted=upload_stats.cleanup_deleted,
            cleanup_failed=upload_stats.cleanup_failed,
        )
    is_burst = facts.plan.pattern == "burst"
    first_seen = sorted(recorder.worker_first_seen.items(), key=lambda item: item[1])
    report = Report(
        herd_version=__version__,
        loadtest=facts.loadtest.metadata.name,
        namespace=facts.loadtest.metadata.namespace,
        run_id=facts.run_id,
        runner=facts.share.index,
        runners=facts.share.count,
        started_at=facts.started_at.isoformat(),
        load_started_at=facts.load_started_at.isoformat() if facts.load_started_at else None,
        pattern=facts.plan.pattern,
        target=scrub_credentials(spec.target.url),  # a password in the URL stays out
        duration_seconds=round(facts.load_seconds, 6),
        throughput_rps=round(completed / facts.load_seconds, 3) if facts.load_seconds > 0 else 0.0,
        requests=Requests(
            planned=facts.planned,
            sent=recorder.sent,
            ok=recorder.ok,
            failed=recorder.failed,
            never_sent=sum(recorder.never_sent.values()),
            unknown=sum(recorder.unknown.values()),
        ),
        errors=dict(sorted(recorder.errors.items())),
        never_sent_reasons=dict(sorted(recorder.never_sent.items())),
        unknown_reasons=dict(sorted(recorder.unknown.items())),
        status_codes={str(code): n for code, n in sorted(recorder.status_codes.items())},
        latency_seconds=_percentiles(recorder.latency),
        service_time_seconds=_percentiles(recorder.service_time),
        ttfb_seconds=_percentiles(recorder.ttfb),
        queue_delay_seconds=_percentiles(recorder.queue_delay),
        execution_seconds=_percentiles(recorder.execution),
        responses=Responses(body_bytes=recorder.response_bytes, bodies_cut=recorder.bodies_cut),
        concurrency=Concurrency(
            target=facts.plan.target_concurrency,
            peak_in_flight=recorder.peak_in_flight,
            burst_spread_seconds=round(recorder.wire_spread, 6)
            if is_burst and recorder.sent
            else None,
        ),
        workers=Workers(
            distinct=len(recorder.worker_requests),
            requests=dict(sorted(recorder.worker_requests.items())),
            first_seen_seconds={worker: round(seen, 6) for worker, seen in first_seen},
            time_to_workers_seconds={
                str(n): round(seen, 6)
                for n, (_, seen) in enumerate(first_seen[:_TIME_TO_WORKERS_LIMIT], start=1)
            },
        ),
        uploads=uploads,
        scaling_probe=facts.scaling_probe,
        client=Client(
            scheduling_lag_seconds=_percentiles(recorder.scheduling_lag),
            pool_wait_seconds=_percentiles(recorder.pool_wait),
            pool_waits=recorder.pool_wait.count,
            event_loop_lag_seconds=_percentiles(facts.loop_lag),
            cpu_utilization=round(facts.cpu_utilization, 3),
            pool_size=facts.plan.pool_size,
        ),
        thresholds=[],
        verdict="passed",
        client_limited=False,
        diagnostics=[],
        stopped=facts.stopped,
        timeline=Timeline(
            bucket_seconds=recorder.timeline.bucket_seconds,
            buckets=recorder.timeline.rows(),
        ),
        histograms={
            "latency": recorder.latency.encode(),
            "service_time": recorder.service_time.encode(),
        },
    )
    shape = RunShape(
        pattern=facts.plan.pattern,
        inline_uploads=spec.uploads is not None and spec.uploads.mode == "inline",
        upload_concurrency=spec.uploads.concurrency if spec.uploads else None,
        mean_in_flight=recorder.mean_in_flight(),
        pool_timeout=spec.target.pool_timeout,
    )
    found = assess(report, shape)
    assessment = Assessment([*found.findings, *lost], [*found.notes, *notes])
    return judge(report, spec, assessment, redactor)


def judge(report: Report, spec: LoadTestSpec, assessment: Assessment, redactor: Redactor) -> Report:
    """``report`` with its thresholds, self-check and verdict (``herd.api.verdicts``)."""
    client_limited, self_check, diagnostics = assessment.judged(spec.self_check.ignore)
    thresholds = evaluate_thresholds(report, spec.parsed_thresholds)
    verdict = verdict_of(
        thresholds, client_limited=client_limited, complete=report.requests.unknown == 0
    )
    diagnostics = [redactor(text) for text in diagnostics]
    # The counted findings come first: the first says why the run is inconclusive.
    why = (
        diagnostics[0] if client_limited else f"{report.requests.unknown} requests of unknown fate"
    )
    return report.model_copy(
        update={
            "thresholds": thresholds,
            "verdict": verdict,
            "verdict_reason": explain(verdict, thresholds, why),
            "client_limited": client_limited,
            "self_check": self_check,
            "diagnostics": diagnostics,
        }
    )
