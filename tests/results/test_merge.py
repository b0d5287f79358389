"""Merging runner summaries: exact histograms (never averaged percentiles), counts,
workers, start skew, and the verdict from the engine's own threshold code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from herd.api.loading import parse_loadtest
from herd.engine.histogram import Histogram
from herd.engine.planning import Plan
from herd.engine.schedule import Share
from herd.results import latency
from herd.results.merge import merge_results
from herd.results.summary import decode_summary, summarize, termination_message
from tests.operator.fixtures import CREATED, MINIMAL_SPEC, loadtest, report, spread_latencies


def spec(thresholds: list[str] | None = None, **changes):
    body = {**MINIMAL_SPEC, **changes}
    if thresholds is not None:
        body["thresholds"] = thresholds
    return parse_loadtest(loadtest(body)).spec


def summaries(reports):
    return [decode_summary(termination_message(r)) for r in reports]


def test_percentiles_are_those_of_all_requests_not_averages():
    fast = [0.1] * 95 + [0.2] * 5  # p95 0.1 s
    slow = [3.0] * 100  # p95 3 s
    merged = merge_results(spec(), summaries([report(0, 2, fast), report(1, 2, slow)]))
    everything = Histogram()
    for value in fast + slow:
        everything.record(value)
    assert merged.latency.p95 == everything.summary()["p95"] == pytest.approx(3.0, rel=1e-3)
    assert merged.latency.p50 == everything.summary()["p50"]
    average_of_p95s = (0.1 + 3.0) / 2
    assert merged.latency.p95 != pytest.approx(average_of_p95s, rel=0.05)
    assert merged.latency.significant_digits == 3


def test_merge_matches_one_histogram_of_every_value():
    parts = [spread_latencies(500, seed) for seed in range(3)]
    merged = merge_results(spec(), summaries([report(i, 3, parts[i]) for i in range(3)]))
    everything = Histogram()
    for value in (v for part in parts for v in part):
        everything.record(value)
    assert merged.latency.model_dump(exclude={"significant_digits"}) == everything.summary()


def test_coarser_runner_makes_the_merge_conservative():
    values = spread_latencies(300)
    fine = summarize(report(0, 2, values))
    coarse = fine.model_copy(
        update={"runner": 1, "latency": latency.rebin(fine.latency, latency.LADDER[-1])}
    )
    merged = merge_results(spec(), [fine, coarse])
    exact = merge_results(spec(), [fine, fine.model_copy(update={"runner": 1})])
    assert merged.latency.significant_digits == 1
    assert merged.latency.p95 >= exact.latency.p95  # errs high, never flatters the endpoint
    assert merged.latency.p95 <= exact.latency.p95 * 1.07


def test_counts_errors_and_error_rate_include_never_sent():
    reports = [report(0, 2, failed=2, never_sent=3), report(1, 2, failed=1)]
    merged = merge_results(spec(["error_rate < 20%"]), summaries(reports))
    assert merged.requests.model_dump() == {
        "planned": 23,
        "sent": 20,
        "ok": 17,
        "failed": 3,
        "never_sent": 3,
        "unknown": 0,
    }
    assert merged.errors == {"http_503": 3} and merged.never_sent_reasons == {"SIGTERM": 3}
    assert merged.error_rate == pytest.approx(6 / 23, abs=1e-6)
    assert merged.verdict == "failed"  # 26% > 20%: never-sent requests count as failures
    assert merged.thresholds[0].value == pytest.approx(6 / 23)


def test_unknown_requests_add_up_and_count_against_the_error_rate():
    reports = [report(0, 2, unknown=4), report(1, 2, failed=1, unknown=1)]
    merged = merge_results(spec(["error_rate < 20%"]), summaries(reports))
    requests = merged.requests
    assert (requests.planned, requests.sent, requests.unknown) == (25, 20, 5)
    assert requests.planned == requests.ok + requests.failed + requests.never_sent + 5
    assert merged.unknown_reasons == {"process_lost": 5}
    assert merged.error_rate == pytest.approx(6 / 25, abs=1e-6)
    # 24% > 20%: an unknown request is not a success; but what was lost may have been
    # the failures or the successes that decide it: inconclusive, whatever the threshold.
    assert not merged.thresholds[0].passed
    assert merged.verdict == "inconclusive"
    assert merged.verdict_reason == "5 requests of unknown fate (a runner's process was lost)"


def test_workers_are_the_union_across_runners():
    reports = [
        report(0, 2, workers={"a": 6, "b": 4}),
        report(1, 2, workers={"b": 5, "c": 5}),
    ]
    merged = merge_results(spec(["workers >= 3"]), summaries(reports))
    assert merged.workers.distinct == 3 and merged.workers.exact
    assert merged.workers.requests == {"b": 9, "a": 6, "c": 5}
    assert merged.verdict == "passed"


def test_workers_beyond_what_summaries_list_give_a_lower_bound():
    many = {f"w{i:02d}": 1 for i in range(40)}
    merged = merge_results(
        spec(["workers >= 40"]), summaries([report(0, 1, [0.1] * 40, workers=many)])
    )
    assert merged.workers.distinct == 40 and not merged.workers.exact
    assert merged.verdict == "passed"


def test_start_skew_throughput_and_burst_spread():
    reports = [
        report(0, 2, [0.5] * 10, started_at=CREATED, duration=10.0, burst_spread=0.02),
        report(
            1, 2, [0.5] * 10, started_at=CREATED + timedelta(seconds=0.25), duration=10.0,
            burst_spread=0.05,
        ),
    ]  # fmt: skip
    merged = merge_results(spec(["burst_spread < 1s"]), summaries(reports))
    assert merged.start_skew_seconds == pytest.approx(0.25)
    assert merged.duration_seconds == pytest.approx(10.25)
    assert merged.throughput_rps == pytest.approx(20 / 10.25, abs=1e-3)
    assert merged.burst_spread_seconds == pytest.approx(0.3)  # 0.25 skew + 0.05 spread
    assert merged.verdict == "passed"


@pytest.mark.parametrize(
    ("threshold", "verdict"),
    [("p95 < 2s", "passed"), ("p95 < 100ms", "failed"), ("ok >= 30", "passed"),
     ("max < 1s", "passed"), ("throughput > 1000", "failed")],
)  # fmt: skip
def test_verdict_uses_the_engine_thresholds(threshold, verdict):
    reports = [report(i, 3) for i in range(3)]
    merged = merge_results(spec([threshold]), summaries(reports))
    assert merged.verdict == verdict
    assert merged.thresholds[0].expr == threshold


def test_no_latency_when_nothing_completed():
    merged = merge_results(spec(["p95 < 1s"]), summaries([report(0, 1, [], workers={})]))
    assert merged.latency is None
    assert merged.thresholds[0].value is None and merged.verdict == "failed"


def test_diagnostics_name_their_runner_and_client_limited_is_any():
    reports = [report(0, 2), report(1, 2, diagnostics=["the burst trickled out"])]
    merged = merge_results(spec(), summaries(reports))
    assert merged.client_limited
    assert merged.diagnostics == ["runner 1: the burst trickled out"]


def test_nothing_to_merge_is_an_error():
    with pytest.raises(ValueError):
        merge_results(spec(), [])


def test_a_run_in_which_no_request_succeeded_fails_in_the_cluster_too():
    """Issue #12 item 14: the merged verdict is never "passed" when nothing succeeded,
    however permissive the spec's thresholds."""
    reports = [report(i, 2, [0.1] * 5, failed=5, workers={}) for i in range(2)]
    merged = merge_results(spec(["errors < 100"]), summaries(reports))
    assert merged.requests.ok == 0
    assert merged.verdict == "failed"
    assert [(t.expr, t.passed, t.implicit) for t in merged.thresholds] == [
        ("errors < 100", True, False),
        ("ok > 0", False, True),
    ]


def test_one_success_anywhere_is_enough_for_the_implicit_rule():
    reports = [report(0, 2, [0.1] * 5, failed=5, workers={}), report(1, 2, [0.1] * 5, failed=4)]
    merged = merge_results(spec([]), summaries(reports))
    assert merged.verdict == "passed" and merged.thresholds == []


def test_a_runner_that_did_not_report_leaves_the_run_inconclusive():
    """Partial results (runner 1 of 3 missing) pass every threshold, and prove nothing."""
    reports = [report(0, 3), report(2, 3)]
    merged = merge_results(spec(["p95 < 2s"]), summaries(reports))
    assert merged.thresholds[0].passed
    assert merged.verdict == "inconclusive"
    assert merged.verdict_reason == "results missing: runner 1 of 3 did not report"
    # Runner 1's planned share (the engine's plan for Share(1, 3)) is unknown, not dropped.
    share = Plan(spec().load, spec().target, Share(1, 3)).planned
    assert share and merged.unknown_reasons == {"runner_lost": share}
    counts = merged.requests
    assert counts.planned == 2 * reports[0].requests.planned + share
    assert counts.planned == counts.ok + counts.failed + counts.never_sent + counts.unknown
    assert merged.diagnostics[0].startswith("runner 1 of 3 left no results (runner_lost)")


def test_a_client_limited_runner_makes_the_run_inconclusive_and_says_why():
    limited = "client-limited: calls waited for their own S3 uploads"
    reports = [
        report(0, 2, ignored=["cpu"], diagnostics=["self-check rule cpu ignored by the spec"]),
        report(1, 2, limited_by=["inline_uploads"], diagnostics=[limited]),
    ]
    reports[0] = reports[0].model_copy(update={"client_limited": False})
    merged = merge_results(spec(["p95 < 2s"]), summaries(reports))
    assert merged.client_limited and merged.thresholds[0].passed
    assert merged.verdict == "inconclusive"
    assert merged.verdict_reason == f"runner 1: {limited}"
    assert merged.self_check.limited_by == ["inline_uploads"]
    assert merged.self_check.ignored == ["cpu"]


def test_only_ignored_rules_leave_the_verdict_to_the_thresholds():
    reports = [report(i, 2, ignored=["cpu"]) for i in range(2)]
    merged = merge_results(spec(["p95 < 100ms"]), summaries(reports))
    assert not merged.client_limited and merged.self_check.ignored == ["cpu"]
    assert merged.verdict == "failed"
    assert merged.verdict_reason.startswith("p95 < 100ms failed (was 0.")


def test_nothing_succeeded_fails_even_when_the_client_was_limited():
    reports = [
        report(i, 2, [0.1] * 5, failed=5, workers={}, limited_by=["cpu"], diagnostics=["cpu"])
        for i in range(2)
    ]
    merged = merge_results(spec([]), summaries(reports))
    assert merged.client_limited
    assert merged.verdict == "failed"
    assert merged.verdict_reason == "no request succeeded (ok > 0)"
