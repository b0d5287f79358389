"""The termination-message summary: what it carries, how it is bounded, and the proof
that the largest possible one fits in 4096 bytes."""

from __future__ import annotations

import random

import pytest

from herd.api.verdicts import PROCESS_LOST, SELF_CHECK_RULES
from herd.results import latency
from herd.results.summary import (
    MAX_COUNT,
    MAX_ERROR_CLASSES,
    MAX_WORKER_ID_CHARS,
    MAX_WORKERS,
    OTHER,
    RULE_BITS,
    TERMINATION_MESSAGE_LIMIT,
    SummaryError,
    SummaryTooLarge,
    decode_summary,
    encode_summary,
    summarize,
    termination_message,
)
from herd.results.summary_bounds import worst_case_size, worst_case_summary
from tests.operator.fixtures import CREATED, report, spread_latencies


def test_round_trip_keeps_what_the_operator_needs():
    source = report(runner=1, runners=3, failed=2, never_sent=1, diagnostics=["pool waits"])
    text = termination_message(source, release_at=CREATED.timestamp() + 60)
    summary = decode_summary(text)
    assert (summary.runner, summary.runners) == (1, 3)
    assert summary.requests == (11, 10, 8, 2, 1)
    assert summary.errors == {"http_503": 2} and summary.never_sent == {"SIGTERM": 1}
    assert summary.workers == {"worker-1": 8} and summary.workers_distinct == 1
    assert summary.load_started_at == CREATED.timestamp() + 60  # ready before the release
    assert summary.load_seconds == 10.0 and summary.burst_spread == 0.01
    assert summary.client_limited and summary.diagnostics == ["pool waits"]
    assert latency.decode(summary.latency).get_total_count() == 10
    assert summary.latency == source.histograms["latency"]  # full precision when it fits


def test_unknown_requests_travel_beside_the_five_counts():
    summary = decode_summary(termination_message(report(unknown=7)))
    assert summary.requests == (17, 10, 10, 0, 0)  # planned still counts them
    assert summary.unknown == {"process_lost": 7} and summary.unknown_count == 7


def test_a_summary_without_unknown_reads_as_before_in_both_directions():
    text = termination_message(report())
    # An operator from before the field reads this runner's summary: no new key.
    assert '"u"' not in text
    # And this operator reads a summary written before the field existed.
    assert decode_summary(text).unknown_count == 0


def test_self_check_rules_travel_as_bits_and_stay_out_while_empty():
    source = report(limited_by=["inline_uploads", PROCESS_LOST], ignored=["cpu"], diagnostics=["x"])
    summary = decode_summary(termination_message(source))
    assert summary.self_check.limited_by == ["inline_uploads", PROCESS_LOST]
    assert summary.self_check.ignored == ["cpu"]
    assert '"l"' not in termination_message(report())
    assert '"g"' not in termination_message(report())


def test_every_self_check_rule_has_a_bit():
    """A rule added to the spec's vocabulary needs a bit (appended: bits never move)."""
    assert set(RULE_BITS) == {*SELF_CHECK_RULES, PROCESS_LOST}
    assert len(RULE_BITS) == len(set(RULE_BITS))


def test_a_late_runner_starts_when_its_staging_ends():
    late = report(started_at=CREATED)
    summary = summarize(late, release_at=CREATED.timestamp() - 30)
    assert summary.load_started_at == CREATED.timestamp()


def test_rare_error_classes_and_quiet_workers_are_folded():
    errors = {f"http_{500 + i}": 100 - i for i in range(12)}
    workers = {f"worker-{i:02d}": 50 - i for i in range(20)}
    summary = summarize(report(errors=errors, workers=workers, failed=0))
    assert len(summary.errors) == MAX_ERROR_CLASSES + 1
    assert summary.errors[OTHER] == sum(100 - i for i in range(MAX_ERROR_CLASSES, 12))
    assert summary.errors["http_500"] == 100
    assert len(summary.workers) == MAX_WORKERS and "worker-00" in summary.workers
    assert summary.workers_distinct == 20
    assert summary.workers_other == sum(50 - i for i in range(MAX_WORKERS, 20))
    assert sum(summary.workers.values()) + summary.workers_other == sum(workers.values())


def test_names_and_texts_are_made_safe_and_short():
    summary = summarize(
        report(
            workers={'w"\\\n' + "x" * 100: 3},
            errors={"é" * 40: 1},
            diagnostics=['a "quoted" \\ line\nwith ünicode' * 20],
        )
    )
    (worker,) = summary.workers
    assert len(worker) == MAX_WORKER_ID_CHARS and worker.startswith("w___")
    (error,) = summary.errors
    assert set(error) == {"_"}
    (text,) = summary.diagnostics
    assert '"' not in text and "\\" not in text and text.isascii() and len(text) == 160
    encoded = encode_summary(summary)
    assert encoded.isascii()


def test_counts_beyond_the_bound_are_refused_not_truncated():
    with pytest.raises(SummaryTooLarge):
        summarize(report(workers={"w": MAX_COUNT + 1}))


def test_worst_case_fits_the_termination_message():
    """The proof: every bounded part at its bound, and the histogram bound."""
    assert worst_case_size() <= TERMINATION_MESSAGE_LIMIT


def adversarial_histogram(precision: latency.Precision, pattern: str, seed: int) -> str:
    """Counters that defeat compression: large, distinct, spread over every bucket."""
    rng = random.Random(seed)
    histogram = precision.empty()
    per_counter = MAX_COUNT // precision.counters
    for index in range(precision.counters):
        if pattern == "alternate" and index % 2:
            continue
        if pattern == "sparse" and rng.random() < 0.7:
            continue
        value = histogram.get_value_from_index(index)
        histogram.record_value(value, per_counter - rng.randrange(per_counter // 3))
    return latency.encode(histogram)


@pytest.mark.parametrize("pattern", ["full", "alternate", "sparse"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histogram_bound_holds_for_adversarial_histograms(pattern, seed):
    coarsest = latency.LADDER[-1]
    encoded = adversarial_histogram(coarsest, pattern, seed)
    assert len(encoded) <= latency.encoded_size_bound(coarsest, MAX_COUNT)


@pytest.mark.parametrize("precision", latency.LADDER)
def test_worst_case_message_really_encodes_within_the_limit(precision):
    """Every field at its bound and every counter of a histogram filled, at each precision
    a runner could start from: the encoder finds a precision that fits."""
    histogram = adversarial_histogram(precision, "full", 1)
    text = encode_summary(worst_case_summary(histogram))
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    decoded = latency.decode(decode_summary(text).latency)
    assert decoded.get_total_count() == latency.decode(histogram).get_total_count()


def test_a_wide_histogram_drops_precision_to_fit():
    # 100,000 requests from 1 ms to 20 minutes: thousands of distinct 3-digit buckets.
    rng = random.Random(5)
    values = [10 ** rng.uniform(-3, 3.1) for _ in range(100_000)]
    source = report(latencies=values)
    assert len(source.histograms["latency"]) > TERMINATION_MESSAGE_LIMIT
    text = termination_message(source)
    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    histogram = latency.decode(decode_summary(text).latency)
    assert histogram.get_total_count() == 100_000  # coarser buckets, every request counted
    assert histogram.significant_figures < 3


def test_a_typical_run_keeps_full_precision():
    text = termination_message(report(latencies=spread_latencies(2_000)))
    assert latency.decode(decode_summary(text).latency).significant_figures == 3


def test_empty_runs_send_no_histogram():
    summary = summarize(report(latencies=[], workers={}))
    assert summary.latency == "" and summary.requests == (0, 0, 0, 0, 0)
    assert decode_summary(encode_summary(summary)) == summary


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "not a runner summary"),
        ("herd run failed: bucket not found", "not a runner summary"),
        ('{"v":1}', "unreadable runner summary"),
        ('{"v":1,"i":0,"n":1,"t":1,"d":1,"r":[1,1,1,0,0], "zz": 1}', "unreadable"),
        ('{"v":2,"i":0,"n":1,"t":1,"d":1,"r":[1,1,1,0,0]}', "version 2"),
        ('{"v":1,"i":0,"n":1,"t":1,"d":1,"r":[1,1,1', "unreadable"),
    ],
)
def test_what_is_not_a_summary_says_so(text, error):
    with pytest.raises(SummaryError, match=error):
        decode_summary(text)
