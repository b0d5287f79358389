"""A runner's processes divide exactly its share, whatever the other runners do."""

from __future__ import annotations

import itertools

import pytest

from herd.engine.planning import Plan
from herd.engine.schedule import Share
from tests.conftest import loadtest

# Runners with different process counts: a flat split (index * N + k of runners * N)
# would give overlapping or missing indices here.
PROCESSES_PER_RUNNER = (3, 1, 2)


def plan(load: dict, share: Share) -> Plan:
    spec = loadtest({"target": {"url": "http://127.0.0.1:9/"}, "load": load}).spec
    return Plan(spec.load, spec.target, share)


def process_plans(load: dict, runner: Share, processes: int) -> list[Plan]:
    return [plan(load, runner.process(part, processes)) for part in range(processes)]


@pytest.mark.parametrize(
    "load",
    [
        {"pattern": "burst", "requests": 41},
        {"pattern": "burst", "requests": 5},
        {"pattern": "concurrency", "concurrency": 7, "requests": 100},
        {"pattern": "rate", "rate": 13, "duration": "3s"},
        {"pattern": "rate", "stages": [{"duration": "2s", "target": 20}]},
    ],
)
def test_the_processes_of_each_runner_take_exactly_its_indices(load):
    runners = len(PROCESSES_PER_RUNNER)
    everything: list[int] = []
    for index, processes in enumerate(PROCESSES_PER_RUNNER):
        runner = Share(index, runners)
        own = list(plan(load, runner).indices)
        parts = [list(p.indices) for p in process_plans(load, runner, processes)]
        assert sorted(itertools.chain(*parts)) == sorted(own)
        everything += own
    assert sorted(everything) == list(range(len(everything)))  # unique and complete


def test_the_processes_share_their_runners_concurrency():
    load = {"pattern": "concurrency", "concurrency": 10, "duration": "1s"}
    runner = Share(1, 3)
    parts = process_plans(load, runner, 2)
    assert sum(p.concurrency for p in parts) == plan(load, runner).concurrency == 3


def test_open_ended_counts_interleave_without_overlap():
    """Time-bound closed loops count indices open-endedly from offset by stride."""
    owned: list[int] = []
    for index, processes in enumerate(PROCESSES_PER_RUNNER):
        for part in range(processes):
            share = Share(index, len(PROCESSES_PER_RUNNER)).process(part, processes)
            owned += [k for k in range(120) if share.owns(k)]
            assert (
                list(itertools.islice(itertools.count(share.offset, share.stride), 3))
                == [k for k in range(120) if share.owns(k)][:3]
            )
    assert sorted(owned) == list(range(120))


def test_one_process_is_the_runner_itself():
    runner = Share(2, 5)
    assert runner.process(0, 1).split(97) == runner.split(97)
    assert (runner.offset, runner.stride) == (2, 5)
