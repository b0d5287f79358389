"""N runner summaries → one set of results and a verdict against the spec's thresholds.

The verdict is ``herd.api.verdicts.decide``'s, as for ``herd run``: a runner whose summary
is missing, or a lost process's requests of unknown fate, leave it inconclusive.

Counts add up; histograms are added bucket by bucket (``latency.merge``), never
averaged; workers are the union of what runners saw; a runner that did not report is
named and its planned share is unknown (``lost_runners``). Thresholds and the verdict
are judged by the engine's own code (``herd.engine.reporting.judge_numbers``) on the
merged numbers, as for one runner's report and the exact merge of full reports, so
``p95 < 2s`` means the same in a cluster as with ``herd run``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from herd.api.report import Percentiles
from herd.api.spec import LoadTestSpec
from herd.api.status import (
    LatencySeconds,
    RequestCounts,
    RunResults,
    SelfCheckRules,
    ThresholdOutcome,
    WorkerCounts,
)
from herd.engine.reporting import ThresholdInputs, judge_numbers
from herd.results import latency
from herd.results.lost_runners import RUNNER_LOST, lost_runners, missing_reason, unknown_share
from herd.results.summary import RunnerSummary

MAX_WORKERS_IN_STATUS = 20
MAX_DIAGNOSTICS_IN_STATUS = 10


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


def _why_limited(summaries: Sequence[RunnerSummary]) -> str:
    """The first limited runner's first finding (its summary's diagnostics list those first)."""
    limited = next((s for s in summaries if s.client_limited and s.diagnostics), None)
    if limited is not None:
        return f"runner {limited.runner}: {limited.diagnostics[0]}"
    return "a runner found the client limited the run"


def merge_results(spec: LoadTestSpec, summaries: Sequence[RunnerSummary]) -> RunResults:
    """Merge the summaries of a run's runners (at least one) and judge the thresholds."""
    if not summaries:
        raise ValueError("no runner summaries to merge")
    summaries = sorted(summaries, key=lambda summary: summary.runner)
    planned, sent, ok, failed, never_sent = (
        sum(column) for column in zip(*(summary.requests for summary in summaries), strict=True)
    )
    runners = summaries[0].runners
    lost = lost_runners(spec, {summary.runner for summary in summaries}, runners)
    planned += unknown_share(lost)
    unknown_reasons = _sum([summary.unknown for summary in summaries])
    if unknown_share(lost):
        unknown_reasons[RUNNER_LOST] = unknown_reasons.get(RUNNER_LOST, 0) + unknown_share(lost)
    unknown = sum(unknown_reasons.values())
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
    client_limited = any(summary.client_limited for summary in summaries)
    inputs = ThresholdInputs(
        latency=Percentiles(**merged.seconds) if merged else None,
        planned=planned,
        ok=ok,
        failed=failed,
        never_sent=never_sent,
        unknown=unknown,
        workers=workers.distinct,
        throughput=throughput,
        burst_spread=burst_spread,
    )
    judgement = judge_numbers(
        inputs,
        spec.parsed_thresholds,
        client_limited=client_limited,
        missing=missing_reason(lost),
        why_limited=_why_limited(summaries),
        why_unknown=" (a runner's process was lost)",
    )
    return RunResults(
        runners_reported=len(summaries),
        requests=requests,
        errors=_sum([summary.errors for summary in summaries]),
        never_sent_reasons=_sum([summary.never_sent for summary in summaries]),
        unknown_reasons=dict(sorted(unknown_reasons.items())),
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
        diagnostics=[runner.diagnostic() for runner in lost] + _diagnostics(summaries),
        stopped=next((summary.stopped for summary in summaries if summary.stopped), None),
        thresholds=[ThresholdOutcome(**outcome.model_dump()) for outcome in judgement.thresholds],
        verdict=judgement.verdict,
        verdict_reason=judgement.reason,
    )
