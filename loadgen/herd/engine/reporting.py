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
from herd.api.verdicts import Verdict, explain, verdict_of
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


@dataclass(frozen=True)
class ThresholdInputs:
    """The numbers thresholds read (``herd.api.thresholds.METRICS``), whatever they come
    from: a runner's report, the exact merge of runners' reports, or the merge of their
    bounded summaries. One type, so ``p95 < 2s`` means the same everywhere."""

    latency: Percentiles | None
    planned: int
    ok: int
    failed: int
    never_sent: int
    unknown: int
    workers: int
    throughput: float
    burst_spread: float | None

    @classmethod
    def of_report(cls, report: Report) -> ThresholdInputs:
        requests = report.requests
        return cls(
            latency=report.latency_seconds,
            planned=requests.planned,
            ok=requests.ok,
            failed=requests.failed,
            never_sent=requests.never_sent,
            unknown=requests.unknown,
            workers=report.workers.distinct,
            throughput=report.throughput_rps,
            burst_spread=report.concurrency.burst_spread_seconds,
        )

    @property
    def error_rate(self) -> float | None:
        # Never-sent and unknown requests count as not succeeding: a run that could not
        # send half its load, or lost a process, must not pass an error-rate threshold.
        if self.planned == 0:
            return None
        return (self.failed + self.never_sent + self.unknown) / self.planned


def threshold_value(threshold: Threshold, inputs: ThresholdInputs) -> float | None:
    """The number a threshold talks about; None when the run has none."""
    metric = threshold.metric
    latency = inputs.latency
    if metric in ("p50", "p90", "p95", "p99", "p999", "max", "mean"):
        return getattr(latency, metric) if latency else None
    if metric == "error_rate":
        return inputs.error_rate
    if metric == "errors":
        return float(inputs.failed)
    if metric == "never_sent":
        return float(inputs.never_sent)
    if metric == "ok":
        return float(inputs.ok)
    if metric == "workers":
        return float(inputs.workers)
    if metric == "throughput":
        return inputs.throughput
    if metric == "burst_spread":
        return inputs.burst_spread
    raise ValueError(f"no value for metric {metric}")  # METRICS and this function disagree


def evaluate_thresholds(
    inputs: ThresholdInputs, thresholds: list[Threshold]
) -> list[ThresholdResult]:
    """The spec's thresholds judged on ``inputs``, then herd's implicit one (a run in
    which no request succeeded fails), listed only when it fails so that the verdict
    ("passed" when every result passed) always has a failed line to show for itself."""
    results = []
    for threshold in thresholds:
        value = threshold_value(threshold, inputs)
        passed = value is not None and threshold.holds(value)
        results.append(ThresholdResult(expr=threshold.expr, value=value, passed=passed))
    if inputs.ok == 0:
        results.append(
            ThresholdResult(expr=IMPLICIT_THRESHOLD, value=0.0, passed=False, implicit=True)
        )
    return results


@dataclass(frozen=True)
class Judgement:
    thresholds: list[ThresholdResult]
    verdict: Verdict
    reason: str
    """Why the verdict is not ``passed`` ("" when it is)."""


def judge_numbers(
    inputs: ThresholdInputs,
    thresholds: list[Threshold],
    *,
    client_limited: bool,
    missing: str | None,
    why_limited: str,
    why_unknown: str = "",
) -> Judgement:
    """Thresholds and verdict (``herd.api.verdicts.decide``) on final numbers: one path
    for a runner's report, the merge of runners' reports and the merge of summaries.

    ``missing`` says which results are missing (runners that did not report), None when
    none are; ``why_limited`` what limited the client, when it was; ``why_unknown`` how
    requests came to be of unknown fate, when they are."""
    outcomes = evaluate_thresholds(inputs, thresholds)
    complete = missing is None and inputs.unknown == 0
    verdict = verdict_of(outcomes, client_limited=client_limited, complete=complete)
    if missing is not None:
        why = missing
    elif client_limited:
        why = why_limited
    else:
        why = f"{inputs.unknown} requests of unknown fate{why_unknown}"
    return Judgement(outcomes, verdict, explain(verdict, outcomes, why))


def build_report(
    facts: RunFacts,
    recorder: Recorder,
    upload_stats: UploadStats | None,
    redactor: Redactor,
    lost: Sequence[Finding] = (),
    notes: Sequence[str] = (),
    missing: str | None = None,
) -> Report:
    """The report of a run, judged. ``lost``: processes that left no results (a
    multi-process runner's), ``notes``: what else its diagnostics should say,
    ``missing``: which runners' results are missing (a merge of runners), if any."""
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
    return judge(report, spec, assessment, redactor, missing)


def judge(
    report: Report,
    spec: LoadTestSpec,
    assessment: Assessment,
    redactor: Redactor,
    missing: str | None = None,
) -> Report:
    """``report`` with its thresholds, self-check and verdict (``herd.api.verdicts``)."""
    client_limited, self_check, diagnostics = assessment.judged(spec.self_check.ignore)
    diagnostics = [redactor(text) for text in diagnostics]
    # The counted findings come first: the first says why the run is inconclusive.
    judgement = judge_numbers(
        ThresholdInputs.of_report(report),
        spec.parsed_thresholds,
        client_limited=client_limited,
        missing=missing,
        why_limited=diagnostics[0] if diagnostics else "",
    )
    if missing is not None:
        diagnostics.insert(0, missing)
    return report.model_copy(
        update={
            "thresholds": judgement.thresholds,
            "verdict": judgement.verdict,
            "verdict_reason": judgement.reason,
            "client_limited": client_limited,
            "self_check": self_check,
            "diagnostics": diagnostics,
        }
    )
