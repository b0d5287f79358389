"""Merging processes' statistics gives what one recorder of all requests gives.

One stream of requests is recorded once whole and once split over three
"processes" (recorders sharing the origin, as a runner's processes do); the split
states go through JSON, are merged, and both build a report with the engine's own
code. Everything matches exactly but the peak in flight, which is bounded.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from herd.engine.env_expansion import Redactor
from herd.engine.histogram import Histogram
from herd.engine.multicore.state import (
    merge_recorders,
    merge_uploads,
    recorder_state,
    upload_state,
)
from herd.engine.planning import Plan
from herd.engine.recorder import Recorder
from herd.engine.records import RequestRecord
from herd.engine.reporting import RunFacts, build_report
from herd.engine.schedule import Share
from herd.engine.staging import UploadStats
from tests.conftest import loadtest

ORIGIN = 5000.0
BUCKET = 0.1
PROCESSES = 3


def requests(count: int, seed: int = 7) -> list[tuple[int, RequestRecord]]:
    """(process, record) for ``count`` overlapping requests with mixed outcomes."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        intended = ORIGIN + 0.5 + rng.uniform(0, 3)
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
            record.worker = f"w{rng.randrange(25)}"
            record.delay = rng.uniform(0, 2)
            record.execution = rng.uniform(0, 1)
        made.append((rng.randrange(PROCESSES), record))
    return made


def record_all(made, recorders: list[Recorder], split: bool) -> None:
    events = [(r.sent, 0, p, r) for p, r in made] + [(r.end, 1, p, r) for p, r in made]
    for _, done, process, record in sorted(events, key=lambda e: (e[0], e[1], e[3].index)):
        recorder = recorders[process if split else 0]
        (recorder.on_done if done else recorder.on_sent)(record)


def report_of(recorder: Recorder):
    test = loadtest(
        {
            "target": {"url": "http://127.0.0.1:9/"},
            "load": {"pattern": "rate", "rate": 100, "duration": "4s"},
        }
    )
    facts = RunFacts(
        loadtest=test,
        run_id="r",
        share=Share(),
        plan=Plan(test.spec.load, test.spec.target, Share()),
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        load_started_at=None,
        planned=400,
        load_seconds=4.0,
        cpu_utilization=0.1,
        loop_lag=Histogram(),
        stopped=None,
        staging_seconds=0.0,
    )
    return build_report(facts, recorder, None, Redactor())


def test_split_then_merged_equals_recorded_whole():
    made = requests(400)
    whole = Recorder(ORIGIN, BUCKET)
    record_all(made, [whole], split=False)
    whole.on_never_sent("SIGTERM", 3)
    parts = [Recorder(ORIGIN, BUCKET) for _ in range(PROCESSES)]
    record_all(made, parts, split=True)
    parts[1].on_never_sent("SIGTERM", 3)

    states = [json.loads(json.dumps(recorder_state(part))) for part in parts]
    merged = merge_recorders(states)

    one, many = report_of(whole).model_dump(), report_of(merged).model_dump()
    # Peaks of concurrent processes are bounded, not rebuilt: checked below. (A rate
    # run, so no diagnostic quotes the peak.)
    for report in (one, many):
        report["concurrency"].pop("peak_in_flight")
        for bucket in report["timeline"]["buckets"]:
            bucket.pop("peak_in_flight")
    assert many == one
    # The self-check's mean in flight is the sum of the processes' own (each a loop over
    # its share, while it sends), not the union's: near the whole's when they send together.
    assert merged.mean_in_flight() == pytest.approx(whole.mean_in_flight(), rel=0.01)
    assert list(merged.worker_first_seen) == list(whole.worker_first_seen)  # in order seen
    assert whole.peak_in_flight <= merged.peak_in_flight <= sum(p.peak_in_flight for p in parts)


def test_histograms_merge_exactly():
    rng = random.Random(3)
    values = [rng.lognormvariate(-2, 1) for _ in range(5000)]
    whole, parts = Histogram(), [Histogram() for _ in range(4)]
    for n, value in enumerate(values):
        whole.record(value)
        parts[n % 4].record(value)
    merged = Histogram()
    for part in parts:
        merged.merge(Histogram.decode(part.encode()))
    assert merged.summary() == whole.summary()
    assert merged.count == whole.count == len(values)


def test_upload_statistics_add_up():
    stats = []
    for n in range(2):
        s = UploadStats()
        s.objects, s.bytes, s.failed, s.retries, s.peak_in_flight = 10 + n, 4096, n, 2, 3
        s.errors = {"s3_SlowDown": n + 1}
        s.latency.record(0.01 * (n + 1))
        s.first_start, s.last_end = 100.0 + n, 101.0 + n
        stats.append(json.loads(json.dumps(upload_state(s))))
    merged = merge_uploads(stats)
    assert (merged.objects, merged.bytes, merged.failed, merged.retries) == (21, 8192, 1, 4)
    assert merged.errors == {"s3_SlowDown": 3}
    assert merged.latency.count == 2
    assert (merged.first_start, merged.last_end) == (100.0, 102.0)
    assert merged.peak_in_flight == 6  # an upper bound: the processes' peaks added
