"""The recorder counts finished requests in batches; what readers see must still be exact."""

from __future__ import annotations

import pytest

from herd.engine.multicore.state import recorder_state
from herd.engine.recorder import Recorder
from herd.engine.records import RequestRecord

ORIGIN = 1000.0


def finished(index: int, sent: float, seconds: float, status: int = 200) -> RequestRecord:
    record = RequestRecord(index, intended=sent)
    record.sent = sent
    record.ttfb = sent + seconds / 2
    record.end = sent + seconds
    record.status = status
    if status >= 400:
        record.error = f"http_{status}"
    return record


def test_a_settled_recorder_counts_every_finished_request_once_in_order():
    recorder = Recorder(ORIGIN, bucket_seconds=1.0)
    heard: list[int] = []
    recorder.listeners.append(lambda record: heard.append(record.index))
    # More than one batch, and a tail that does not fill one.
    statuses = [503 if i % 7 == 0 else 200 for i in range(700)]
    records = [finished(i, ORIGIN + i * 0.001, 0.01, statuses[i]) for i in range(700)]
    for record in records:
        recorder.on_sent(record)
    for record in records:
        recorder.on_done(record)
    assert recorder.in_flight == 0  # live: never waits for a settle
    recorder.settle()
    recorder.settle()  # settling twice counts nothing twice
    failures = sum(1 for i in range(700) if i % 7 == 0)
    assert (recorder.ok, recorder.failed) == (700 - failures, failures)
    assert recorder.status_codes == {200: 700 - failures, 503: failures}
    assert recorder.latency.count == recorder.service_time.count == recorder.ttfb.count == 700
    assert heard == list(range(700))
    assert recorder.first_wire == records[0].sent and recorder.last_wire == records[-1].sent


def test_a_timeline_bucket_with_only_completions_shows_the_requests_it_held():
    recorder = Recorder(ORIGIN, bucket_seconds=1.0)
    held = [finished(i, ORIGIN + 0.1, 1.5) for i in range(3)]  # sent in bucket 0, end in 1
    for record in held:
        recorder.on_sent(record)
    for record in held:
        recorder.on_done(record)
    recorder.settle()
    peaks = [row.peak_in_flight for row in recorder.timeline.rows()]
    assert peaks == [3, 3]  # in bucket 1 all three were still in flight until the first ended


def test_a_state_read_mid_run_sees_every_request_finished_so_far():
    """Readers settle first: a progress line or a scrape is exact, not a batch behind."""
    recorder = Recorder(ORIGIN, bucket_seconds=1.0)
    for i in range(5):
        record = finished(i, ORIGIN + i, 0.2)
        recorder.on_sent(record)
        recorder.on_done(record)
    state = recorder_state(recorder)
    assert state["ok"] == 5 and state["sent"] == 5


def test_a_failing_listener_cannot_have_requests_counted_twice():
    recorder = Recorder(ORIGIN, bucket_seconds=1.0)
    heard: list[int] = []

    def full_disk_once(record: RequestRecord) -> None:
        heard.append(record.index)
        if len(heard) == 1:
            raise OSError("No space left on device")

    recorder.listeners.append(full_disk_once)
    for i in range(3):
        record = finished(i, ORIGIN + i * 0.01, 0.1)
        recorder.on_sent(record)
        recorder.on_done(record)
    with pytest.raises(OSError):
        recorder.settle()
    recorder.settle()
    assert recorder.ok == 3 and recorder.latency.count == 3 and recorder.timeline.rows()[0].ok == 3


def test_mean_in_flight_ends_at_the_last_send_not_after_the_drain():
    """A closed loop of 4 keeps 4 in flight until its last send; its last requests then
    end one by one over 10 s (a slow tail): the load ending, not the client falling short
    of its target."""
    recorder = Recorder(ORIGIN, bucket_seconds=1.0)
    first = [finished(i, ORIGIN, seconds=1.0 + 3 * i) for i in range(4)]
    last = finished(4, ORIGIN + 1.0, seconds=2.0)  # sent as the first one ended
    for record in first:
        recorder.on_sent(record)
    recorder.on_done(first[0])
    recorder.on_sent(last)
    for record in sorted([*first[1:], last], key=lambda record: record.end):
        recorder.on_done(record)
    assert recorder.mean_in_flight() == pytest.approx(4.0)
