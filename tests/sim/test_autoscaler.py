"""The scaling decision as a pure function: snapshot + time in, workers to start/stop out."""

from __future__ import annotations

import pytest

from herd.sim.autoscaler import PoolSnapshot, ScalingDecision, decide, workers_to_start
from herd.sim.config import SimConfig

CONFIG = SimConfig(scale_up_after=1.0, max_workers=3, min_workers=0, idle_timeout=30.0)


@pytest.mark.parametrize(
    ("pool", "expected_start"),
    [
        pytest.param(PoolSnapshot(now=10.0), 0, id="empty queue, no workers: nothing"),
        pytest.param(
            PoolSnapshot(now=10.0, queued_arrivals=[10.0]), 1, id="no workers at all: one now"
        ),
        pytest.param(
            PoolSnapshot(now=10.0, queued_arrivals=[9.5], running=1),
            0,
            id="waited 0.5s < scale_up_after: wait",
        ),
        pytest.param(
            PoolSnapshot(now=10.0, queued_arrivals=[9.0], running=1),
            0,
            id="waited exactly scale_up_after: not longer yet",
        ),
        pytest.param(
            PoolSnapshot(now=10.0, queued_arrivals=[8.5], running=1),
            1,
            id="waited 1.5s behind a busy worker: one more",
        ),
        pytest.param(
            PoolSnapshot(now=10.0, queued_arrivals=[8.5], initializing=1),
            0,
            id="the initializing worker will take it: the trickle stays on one worker",
        ),
        pytest.param(
            PoolSnapshot(now=10.0, queued_arrivals=[8.0, 8.5, 9.9], initializing=1),
            1,
            id="two overdue, one covered by the cold start: one more",
        ),
        pytest.param(
            PoolSnapshot(now=10.0, queued_arrivals=[1.0] * 10, running=1),
            2,
            id="ten overdue: capped by max_workers",
        ),
        pytest.param(
            PoolSnapshot(now=10.0, queued_arrivals=[1.0] * 10, running=2, initializing=1),
            0,
            id="at max_workers: none",
        ),
    ],
)
def test_scale_up(pool: PoolSnapshot, expected_start: int) -> None:
    assert decide(CONFIG, pool).start == expected_start


def test_scale_up_counts_worker_concurrency() -> None:
    config = SimConfig(scale_up_after=1.0, max_workers=10, worker_concurrency=4)
    overdue_nine = PoolSnapshot(now=10.0, queued_arrivals=[1.0] * 9, running=1)
    assert decide(config, overdue_nine).start == 3  # ceil(9 / 4)
    one_cold = PoolSnapshot(now=10.0, queued_arrivals=[1.0] * 9, running=1, initializing=1)
    assert decide(config, one_cold).start == 2  # ceil((9 - 4) / 4)


def test_idle_workers_stop_longest_idle_first() -> None:
    pool = PoolSnapshot(now=100.0, idle_since={"young": 90.0, "old": 50.0, "older": 40.0})
    assert decide(CONFIG, pool) == ScalingDecision(start=0, stop=("older", "old"))


def test_idle_timeout_is_inclusive_and_running_workers_stay() -> None:
    pool = PoolSnapshot(now=100.0, running=2, idle_since={"a": 70.0, "b": 70.001})
    assert decide(CONFIG, pool).stop == ("a",)


def test_scale_down_keeps_min_workers() -> None:
    config = SimConfig(min_workers=2, idle_timeout=30.0)
    pool = PoolSnapshot(now=100.0, idle_since={"a": 0.0, "b": 1.0, "c": 2.0})
    assert decide(config, pool).stop == ("a",)
    at_minimum = PoolSnapshot(now=100.0, idle_since={"b": 1.0, "c": 2.0})
    assert decide(config, at_minimum).stop == ()


REQUEST_COUNT = SimConfig(scaler="request-count", requests_per_worker=4, max_workers=10)


def test_request_count_keeps_one_worker_for_a_trickle_however_long_its_queue():
    # Ten requests wait, but only 3 arrived within the window: one worker is "enough".
    pool = PoolSnapshot(
        now=30.0,
        queued_arrivals=tuple(float(i) for i in range(20, 30)),
        recent_arrivals=3,
        running=1,
    )
    assert workers_to_start(REQUEST_COUNT, pool) == 0


def test_request_count_adds_a_worker_per_four_received():
    pool = PoolSnapshot(now=10.0, queued_arrivals=(9.0,), recent_arrivals=9, running=1)
    assert workers_to_start(REQUEST_COUNT, pool) == 2  # 9 received -> 3 workers, 1 live


def test_request_count_answers_a_burst_at_once_up_to_max_workers():
    burst = PoolSnapshot(now=0.0, queued_arrivals=(0.0,) * 30, recent_arrivals=30)
    assert workers_to_start(REQUEST_COUNT, burst) == 8
    bigger = PoolSnapshot(now=0.0, queued_arrivals=(0.0,) * 100, recent_arrivals=100)
    assert workers_to_start(REQUEST_COUNT, bigger) == 10


def test_request_count_starts_a_worker_for_a_lone_request():
    pool = PoolSnapshot(now=0.0, queued_arrivals=(0.0,), recent_arrivals=1)
    assert workers_to_start(REQUEST_COUNT, pool) == 1


def test_request_count_starts_nothing_without_a_queue():
    pool = PoolSnapshot(now=0.0, recent_arrivals=40, running=1)
    assert workers_to_start(REQUEST_COUNT, pool) == 0
