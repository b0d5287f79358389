"""A lost process's share: only what is provable is never sent, the rest is unknown."""

from __future__ import annotations

import pytest

from herd.engine.multicore.lost import EARLY_MARGIN, Progress, arrivals_due_by, lost_share
from herd.engine.schedule import Share, arrival_offsets, rate_segments
from tests.multicore.test_shares import plan

PROCESS_1_OF_2 = Share(0, 1, 1, 2)
RATE = {"pattern": "rate", "rate": 10, "duration": "30s"}
RAMP = {
    "pattern": "rate",
    "stages": [
        {"duration": "5s", "target": 40},
        {"duration": "10s", "target": 40},
        {"duration": "5s", "target": 0},
    ],
}


def due_by(load: dict, seconds: float) -> int:
    """Arrivals of the whole curve due at or before ``seconds``, one by one."""
    spec = plan(load, Share()).load
    return sum(1 for offset in arrival_offsets(rate_segments(spec)) if offset <= seconds)


@pytest.mark.parametrize("load", [RATE, RAMP])
@pytest.mark.parametrize("seconds", [0.0, 0.05, 1.0, 4.99, 5.0, 7.3, 14.9, 19.5, 60.0])
def test_arrivals_due_by_a_time_never_undercount_the_schedule(load, seconds):
    counted = arrivals_due_by(plan(load, Share()).load, seconds)
    exact = due_by(load, seconds)
    assert exact <= counted <= exact + 2


@pytest.mark.parametrize(
    "load",
    [
        {"pattern": "burst", "requests": 40},
        {"pattern": "concurrency", "concurrency": 2, "duration": "10s"},
        RATE,
    ],
)
def test_a_process_that_ended_before_its_release_sent_nothing(load):
    own = plan(load, PROCESS_1_OF_2)
    planned = own.planned or 0
    for released in (None, 10.0):
        share = lost_share(own, released, ended=10.0 - EARLY_MARGIN - 0.01, progress=None)
        assert (share.planned, share.never_sent, share.unknown) == (planned, planned, 0)
        assert not share.released


def test_a_process_that_ended_just_before_its_release_may_have_sent():
    own = plan({"pattern": "burst", "requests": 40}, PROCESS_1_OF_2)
    share = lost_share(own, released=10.0, ended=9.5, progress=None)  # a timer can fire early
    assert (share.never_sent, share.unknown) == (0, 20)


def test_a_released_burst_is_unknown_but_what_it_counted_never_sent():
    own = plan({"pattern": "burst", "requests": 40}, PROCESS_1_OF_2)
    share = lost_share(own, released=1.0, ended=1.5, progress=None)
    assert (share.planned, share.never_sent, share.unknown) == (20, 0, 20)
    share = lost_share(own, released=1.0, ended=1.5, progress=Progress(sent=17, never_sent=3))
    assert (share.planned, share.never_sent, share.unknown) == (20, 3, 17)


def test_an_open_loop_never_sent_what_was_due_after_it_ended():
    own = plan(RATE, PROCESS_1_OF_2)  # arrivals 1, 3, 5, …: 150 of them, 5 a second
    share = lost_share(own, released=100.0, ended=102.0, progress=None)
    # Arrivals due by 2 s + the margin may have left: those of the first 3 s, 15 of its own.
    window = 2.0 + EARLY_MARGIN
    may_have_left = sum(1 for k in own.indices if k / 10 <= window)
    assert may_have_left <= share.unknown <= may_have_left + 1
    assert share.never_sent == 150 - share.unknown
    # Its own count proves more when it had stopped and counted the rest never sent.
    share = lost_share(own, 100.0, 102.0, Progress(sent=10, never_sent=140))
    assert (share.never_sent, share.unknown) == (140, 10)


def test_a_time_bound_closed_loop_counts_to_its_last_progress():
    own = plan({"pattern": "concurrency", "concurrency": 4, "duration": "30s"}, PROCESS_1_OF_2)
    assert own.planned is None
    share = lost_share(own, 1.0, 5.0, Progress(sent=120, never_sent=2))
    assert (share.planned, share.never_sent, share.unknown) == (122, 2, 120)
    assert share.counted_to_last_progress
    share = lost_share(own, 1.0, 5.0, None)  # it never said: nothing to count
    assert (share.planned, share.never_sent, share.unknown) == (0, 0, 0)
