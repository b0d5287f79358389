"""Merging runners' full results gives what one runner of all their requests reports.

One stream of requests is recorded once whole, on one clock, and once split over three
"runners", each on its own monotonic clock (a different origin and offset to the wall
clock, as on different machines) and started at its own time. The runners' results go
through JSON, are merged, and both reports come from the engine's own code. Everything
matches exactly but the peak in flight, which is bounded.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from herd.api.loading import parse_loadtest
from herd.engine.env_expansion import Redactor
from herd.engine.histogram import Histogram
from herd.engine.multicore.state import recorder_state
from herd.engine.planning import Plan
from herd.engine.recorder import Recorder
from herd.engine.records import RequestRecord
from herd.engine.reporting import RunFacts, build_report
from herd.engine.schedule import Share
from herd.results.runner_merge import MergeError, merge_runner_results
from herd.results.runner_result import RunnerResult

ORIGIN = 5000.0  # the whole recorder's clock, which is also the wall clock here
BUCKET = 0.1
RUNNERS = 3
STARTED = datetime(2026, 1, 1, tzinfo=UTC)
DOCUMENT = {
    "apiVersion": "herd.dev/v1alpha1",
    "kind": "LoadTest",
    "metadata": {"name": "split"},
    "spec": {
        "target": {"url": "http://127.0.0.1:9/"},
        "load": {"pattern": "rate", "rate": 100, "duration": "4s"},
        "thresholds": ["p95 < 2s", "workers >= 10"],
    },
}


def requests(count: int, seed: int) -> list[tuple[int, RequestRecord]]:
    """(runner, record) for ``count`` overlapping requests with mixed outcomes, on the
    wall clock, all after every runner started."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        intended = ORIGIN + 1.5 + rng.uniform(0, 3)
        record = RequestRecord(index, intended)
        record.sent = intended + rng.expovariate(500)
        record.pool_wait = rng.choice([0.0, 0.0, rng.uniform(0, 0.01)])
        record.wire = record.sent + rng.uniform(0, 0.001)
        record.ttfb = record.wire + rng.uniform(0.01, 0.5)
        record.end = record.ttfb + rng.uniform(0, 0.2)
        outcome = rng.random()
        if outcome < 0.1:
            record.error = "timeout"
        elif outcome < 0.2:
            record.status, record.error = 503, "http_503"
        else:
            record.status = 200
            record.worker = f"w{rng.randrange(40)}"
            record.delay = rng.uniform(0, 2)
        made.append((rng.randrange(RUNNERS), record))
    return made


def on_clock(record: RequestRecord, offset: float) -> RequestRecord:
    """The record as a runner whose monotonic clock is ``wall - offset`` saw it."""
    seen = RequestRecord(record.index, record.intended - offset)
    for name in ("sent", "wire", "ttfb", "end"):
        setattr(seen, name, getattr(record, name) - offset)
    seen.pool_wait, seen.error, seen.status = record.pool_wait, record.error, record.status
    seen.worker, seen.delay = record.worker, record.delay
    return seen


def record_all(made, recorders: list[Recorder], offsets: list[float] | None) -> None:
    events = [(r.sent, 0, p, r) for p, r in made] + [(r.end, 1, p, r) for p, r in made]
    for _, done, runner, record in sorted(events, key=lambda e: (e[0], e[1], e[3].index)):
        if offsets is None:
            recorder, seen = recorders[0], record
        else:
            recorder, seen = recorders[runner], on_clock(record, offsets[runner])
        (recorder.on_done if done else recorder.on_sent)(seen)


def report_of(recorder: Recorder, share: Share, planned: int, started_at: datetime):
    test = parse_loadtest(json.loads(json.dumps(DOCUMENT)))
    facts = RunFacts(
        loadtest=test,
        run_id="r",
        share=share,
        plan=Plan(test.spec.load, test.spec.target, share),
        started_at=started_at,
        load_started_at=STARTED + timedelta(seconds=1),
        planned=planned,
        load_seconds=4.0,
        cpu_utilization=0.1,
        loop_lag=Histogram(),
        stopped=None,
        staging_seconds=0.0,
    )
    return build_report(facts, recorder, None, Redactor())


def runner_results(made, starts: list[float], offsets: list[float]) -> list[RunnerResult]:
    """Each runner's result: it started ``starts[i]`` seconds after ORIGIN (wall), its
    monotonic clock is the wall clock less ``offsets[i]``."""
    recorders = [
        Recorder(ORIGIN + start - offset, BUCKET)
        for start, offset in zip(starts, offsets, strict=True)
    ]
    record_all(made, recorders, offsets)
    recorders[1].on_never_sent("SIGTERM", 3)
    results = []
    for index, recorder in enumerate(recorders):
        planned = sum(1 for runner, _ in made if runner == index) + (3 if index == 1 else 0)
        started = STARTED + timedelta(seconds=starts[index])
        report = report_of(recorder, Share(index, RUNNERS), planned, started)
        state = {
            "recorder": recorder_state(recorder),
            "uploads": None,
            "loop_lag": Histogram().encode(),
            "probe": None,
            "extras": {},
        }
        result = RunnerResult(
            loadtest=DOCUMENT, report=report, run_state=state, clock_offset=offsets[index]
        )
        results.append(RunnerResult.model_validate_json(result.model_dump_json()))
    return results


def whole_report(made):
    whole = Recorder(ORIGIN, BUCKET)
    record_all(made, [whole], None)
    whole.on_never_sent("SIGTERM", 3)
    return report_of(whole, Share(), len(made) + 3, STARTED)


def comparable(report) -> dict:
    """The report but for the bounded peak, the runner count and the merge's own note;
    first sightings are compared apart (a wall-clock offset of 1.7e9 s carries
    microseconds, and the report rounds to them)."""
    data = report.model_dump()
    data["workers"].pop("first_seen_seconds")
    data["workers"].pop("time_to_workers_seconds")
    data["concurrency"].pop("peak_in_flight")
    for bucket in data["timeline"]["buckets"]:
        bucket.pop("peak_in_flight")
    data.pop("runners")
    data["diagnostics"] = [d for d in data["diagnostics"] if not d.startswith("merged from")]
    return data


@pytest.mark.parametrize(
    ("seed", "starts", "offsets"),
    [
        (7, [0.0, 0.5, 1.0], [0.0, 1000.25, -73.5]),
        (11, [0.7, 0.0, 0.2], [1.7e9, 1.7e9 + 3.125, 12.0]),
        (13, [0.3, 0.3, 0.0], [-5000.0, 250000.5, 0.75]),
    ],
)
def test_split_over_runners_on_their_own_clocks_merges_to_the_whole(seed, starts, offsets):
    made = requests(400, seed)
    whole = whole_report(made)
    results = runner_results(made, starts, offsets)
    random.Random(seed).shuffle(results)  # the order runners are read in does not matter

    merged = merge_runner_results(results)

    assert comparable(merged) == comparable(whole)
    seen, whole_seen = merged.workers.first_seen_seconds, whole.workers.first_seen_seconds
    assert list(seen) == list(whole_seen)  # in the order seen
    assert seen == pytest.approx(whole_seen, abs=2e-6)
    assert merged.runners == RUNNERS
    assert merged.requests.sent == 400 and merged.workers.distinct == whole.workers.distinct
    peaks = sum(r.concurrency.peak_in_flight for r in (x.report for x in results))
    assert whole.concurrency.peak_in_flight <= merged.concurrency.peak_in_flight <= peaks
    assert merged.verdict == whole.verdict


def test_a_missing_runner_is_named_and_its_share_is_unknown():
    made = requests(300, 5)
    results = runner_results(made, [0.0, 0.1, 0.2], [0.0, 10.0, 20.0])
    kept = [results[0], results[2]]

    merged = merge_runner_results(kept)

    share = Plan(
        parse_loadtest(DOCUMENT).spec.load, parse_loadtest(DOCUMENT).spec.target, Share(1, 3)
    ).planned
    assert share
    requests_ = merged.requests
    assert requests_.unknown == share and merged.unknown_reasons == {"runner_lost": share}
    assert requests_.planned == requests_.ok + requests_.failed + requests_.never_sent + share
    assert requests_.sent == sum(r.report.requests.sent for r in kept)
    assert merged.verdict == "inconclusive"
    assert merged.verdict_reason == "results missing: runner 1 of 3 did not report"
    assert merged.diagnostics[0] == merged.verdict_reason
    assert any(
        d.startswith("runner 1 of 3 left no results (runner_lost)") for d in merged.diagnostics
    )


def test_an_expected_count_beyond_the_reports_names_every_missing_runner():
    results = runner_results(requests(90, 3), [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    merged = merge_runner_results(results, runners=5)
    assert merged.runners == 5
    assert merged.verdict == "inconclusive"
    assert merged.verdict_reason == "results missing: runner 3, 4 of 5 did not report"


def test_results_that_are_not_one_run_are_refused():
    results = runner_results(requests(30, 1), [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    with pytest.raises(MergeError, match="runner 0 has two results"):
        merge_runner_results([results[0], results[0]])
    other = results[1].model_copy(
        update={"report": results[1].report.model_copy(update={"run_id": "other"})}
    )
    with pytest.raises(MergeError, match="not one run"):
        merge_runner_results([results[0], other])
    with pytest.raises(MergeError, match="runner 2 is not one of 2 runners"):
        merge_runner_results(results, runners=2)
    with pytest.raises(MergeError, match="no runner results"):
        merge_runner_results([])
