"""N runner summaries → one set of results and a verdict against the spec's thresholds.

The verdict is ``herd.api.verdicts.decide``'s, as for ``herd run``: a runner whose summary
is missing, or a lost process's requests of unknown fate, leave it inconclusive.

Counts add up; histograms are added bucket by bucket (``latency.merge``), never
averaged; workers are the union of what runners saw. Thresholds are judged by the
engine's own code (``herd.engine.reporting``) on a report built from the merged
numbers, so ``p95 < 2s`` means the same in a cluster as with ``herd run``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from herd import __version__
from herd.api.report import (
    Client,
    Concurrency,
    Percentiles,
    Report,
    Requests,
    Timeline,
    Workers,
)
from herd.api.spec import LoadTestSpec
from herd.api.status import (
    LatencySeconds,
    RequestCounts,
    RunResults,
    SelfCheckRules,
    ThresholdOutcome,
    WorkerCounts,
)
from herd.api.verdicts import explain, verdict_of
from herd.engine.reporting import evaluate_thresholds
from herd.results import latency
from herd.results.summary import RunnerSummary

MAX_WORKERS_IN_STATUS = 20
MAX_DIAGNOSTICS_IN_STATUS = 10
_NEUTRAL_TIME = "1970-01-01T00:00:00+00:00"  # no threshold reads it; keeps merging pure


def _sum(counters: Sequence[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for counts in counters:
        total.update(counts)
    return dict(sorted(total.items()))


def _workers(summaries: Sequence[RunnerSummary]) -> WorkerCounts:
    served = _sum([summary.workers for summary in summaries])
    # A runner that saw more workers than it could list makes the union a lower bound.
    exact = all(len(s.workers) == s.workers_distinct for s in summaries)
    distinct = len(served)
    if not exact:
        distinct = max(distinct, *(s.workers_distinct for s in summaries))
    busiest = sorted(served.items(), key=lambda item: (-item[1], item[0]))
    return WorkerCounts(
        distinct=distinct, exact=exact, requests=dict(busiest[:MAX_WORKERS_IN_STATUS])
    )


def _diagnostics(summaries: Sequence[RunnerSummary]) -> list[str]:
    lines = [
        f"runner {summary.runner}: {text}" for summary in summaries for text in summary.diagnostics
    ]
    return lines[:MAX_DIAGNOSTICS_IN_STATUS]


def _self_check(summaries: Sequence[RunnerSummary]) -> SelfCheckRules:
    limited = {rule for s in summaries for rule in s.self_check.limited_by}
    ignored = {rule for s in summaries for rule in s.self_check.ignored} - limited
    return SelfCheckRules(limited_by=sorted(limited), ignored=sorted(ignored))


def _why_inconclusive(summaries: Sequence[RunnerSummary], unknown: int) -> str:
    """The first runner's missing results or first finding that counts (its summary's
    diagnostics list those first)."""
    runners = summaries[0].runners
    reported = {summary.runner for summary in summaries}
    missing = [index for index in range(runners) if index not in reported]
    if missing:
        named = ", ".join(map(str, missing))
        return f"results missing: runner {named} of {runners} did not report"
    limited = next((s for s in summaries if s.client_limited and s.diagnostics), None)
    if limited is not None:
        return f"runner {limited.runner}: {limited.diagnostics[0]}"
    if unknown:
        return f"{unknown} requests of unknown fate (a runner's process was lost)"
    return "a runner found the client limited the run"


def _threshold_report(
    spec: LoadTestSpec,
    requests: RequestCounts,
    merged: latency.MergedLatency | None,
    workers: WorkerCounts,
    throughput: float,
    burst_spread: float | None,
) -> Report:
    """A report carrying the merged numbers thresholds read (the rest is neutral)."""
    return Report(
        herd_version=__version__,
        loadtest="merged",
        namespace=None,
        run_id="merged",
        runner=0,
        runners=1,
        started_at=_NEUTRAL_TIME,
        pattern=spec.load.pattern,
        target=spec.target.url,
        duration_seconds=0.0,
        throughput_rps=throughput,
        requests=Requests(**requests.model_dump()),
        errors={},
        never_sent_reasons={},
        status_codes={},
        latency_seconds=Percentiles(**merged.seconds) if merged else None,
        service_time_seconds=None,
        ttfb_seconds=None,
        queue_delay_seconds=None,
        execution_seconds=None,
        concurrency=Concurrency(target=None, peak_in_flight=0, burst_spread_seconds=burst_spread),
        workers=Workers(
            distinct=workers.distinct,
            requests={},
            first_seen_seconds={},
            time_to_workers_seconds={},
        ),
        uploads=None,
        scaling_probe=None,
        client=Client(
            scheduling_lag_seconds=None,
            pool_wait_seconds=None,
            pool_waits=0,
            event_loop_lag_seconds=None,
            cpu_utilization=0.0,
            pool_size=0,
        ),
        thresholds=[],
        verdict="passed",
        client_limited=False,
        diagnostics=[],
        stopped=None,
        timeline=Timeline(bucket_seconds=1.0, buckets=[]),
    )


def merge_results(spec: LoadTestSpec, summaries: Sequence[RunnerSummary]) -> RunResults:
    """Merge the summaries of a run's runners (at least one) and judge the thresholds."""
    if not summaries:
        raise ValueError("no runner summaries to merge")
    summaries = sorted(summaries, key=lambda summary: summary.runner)
    planned, sent, ok, failed, never_sent = (
        sum(column) for column in zip(*(summary.requests for summary in summaries), strict=True)
    )
    unknown = sum(summary.unknown_count for summary in summaries)
    requests = RequestCounts(
        planned=planned, sent=sent, ok=ok, failed=failed, never_sent=never_sent, unknown=unknown
    )
    starts = [summary.load_started_at for summary in summaries]
    ends = [summary.load_started_at + summary.load_seconds for summary in summaries]
    window = max(ends) - min(starts)
    throughput = round((ok + failed) / window, 3) if window > 0 else 0.0
    spreads = [
        summary.load_started_at + summary.burst_spread
        for summary in summaries
        if summary.burst_spread is not None
    ]
    # Each runner knows its own spread, not when its first request left: measured
    # from the earliest runner start, the global spread is an upper bound.
    burst_spread = round(max(spreads) - min(starts), 6) if spreads else None
    merged = latency.merge([summary.latency for summary in summaries])
    workers = _workers(summaries)
    report = _threshold_report(spec, requests, merged, workers, throughput, burst_spread)
    outcomes = evaluate_thresholds(report, spec.parsed_thresholds)
    client_limited = any(summary.client_limited for summary in summaries)
    runners = {summary.runner for summary in summaries}
    complete = unknown == 0 and runners == set(range(summaries[0].runners))
    verdict = verdict_of(outcomes, client_limited=client_limited, complete=complete)
    return RunResults(
        runners_reported=len(summaries),
        requests=requests,
        errors=_sum([summary.errors for summary in summaries]),
        never_sent_reasons=_sum([summary.never_sent for summary in summaries]),
        unknown_reasons=_sum([summary.unknown for summary in summaries]),
        latency=LatencySeconds(**merged.seconds, significant_digits=merged.precision.digits)
        if merged
        else None,
        error_rate=round((failed + never_sent + unknown) / planned, 6) if planned else None,
        throughput_rps=throughput,
        duration_seconds=round(window, 6),
        start_skew_seconds=round(max(starts) - min(starts), 6),
        burst_spread_seconds=burst_spread,
        workers=workers,
        client_limited=client_limited,
        self_check=_self_check(summaries),
        diagnostics=_diagnostics(summaries),
        stopped=next((summary.stopped for summary in summaries if summary.stopped), None),
        thresholds=[ThresholdOutcome(**outcome.model_dump()) for outcome in outcomes],
        verdict=verdict,
        verdict_reason=explain(verdict, outcomes, _why_inconclusive(summaries, unknown)),
    )
