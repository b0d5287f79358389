"""How many processes a runner uses for its load, and why."""

from __future__ import annotations

import pytest

from herd.engine.multicore.choice import choose_processes, parse_processes
from herd.engine.multicore.cpus import CpuBudget
from herd.engine.schedule import Share
from tests.conftest import loadtest

EIGHT = CpuBudget(affinity=8)


def spec(load: dict, **extra) -> object:
    return loadtest({"target": {"url": "http://127.0.0.1:9/"}, "load": load, **extra}).spec


@pytest.mark.parametrize(
    ("load", "count", "why"),
    [
        ({"pattern": "burst", "requests": 30}, 1, "a burst of 30 needs no more"),
        ({"pattern": "concurrency", "concurrency": 4, "requests": 100}, 1, "4 in flight"),
        ({"pattern": "concurrency", "concurrency": 64, "duration": "10s"}, 2, "64 in flight"),
        ({"pattern": "burst", "requests": 100_000}, 8, None),
        ({"pattern": "rate", "rate": 1200, "duration": "1m"}, 3, "a peak of 1200"),
        (
            {"pattern": "rate", "stages": [{"duration": "1m", "target": 2000}]},
            4,
            "a peak of 2000",
        ),
    ],
)
def test_auto_uses_no_more_processes_than_the_load_keeps_busy(load, count, why):
    choice = choose_processes("auto", spec(load), Share(), EIGHT)
    assert choice.count == count
    assert "auto: 8 usable CPUs (affinity 8, no CPU quota)" in choice.reason
    if why is not None:
        assert why in choice.reason


def test_auto_never_exceeds_the_usable_cpus():
    load = {"pattern": "burst", "requests": 100_000}
    assert choose_processes("auto", spec(load), Share(), CpuBudget(affinity=1)).count == 1
    assert choose_processes("auto", spec(load), Share(), CpuBudget(8, quota=2.5)).count == 3


def test_auto_looks_at_this_runners_share():
    load = {"pattern": "rate", "rate": 2000, "duration": "1m"}
    assert choose_processes("auto", spec(load), Share(0, 4), EIGHT).count == 1


def test_an_explicit_count_is_used_as_asked():
    choice = choose_processes(2, spec({"pattern": "burst", "requests": 30}), Share(), EIGHT)
    assert (choice.count, choice.reason) == (2, "as asked (--processes)")


@pytest.mark.parametrize(
    ("load", "extra", "message"),
    [
        ({"pattern": "burst", "requests": 3}, {}, "this runner has 3 requests"),
        ({"pattern": "concurrency", "concurrency": 2, "duration": "1s"}, {}, "keeps 2 in flight"),
        (
            {"pattern": "rate", "rate": 100, "duration": "1s", "maxInFlight": 3},
            {},
            "load.maxInFlight is 3",
        ),
        (
            {"pattern": "burst", "requests": 30},
            {
                "uploads": {
                    "bucket": "bucket",
                    "source": {"synthetic": {"sizeBytes": 1}},
                    "concurrency": 2,
                }
            },
            "uploads.concurrency is 2",
        ),
    ],
)
def test_an_explicit_count_that_leaves_a_process_idle_is_refused(load, extra, message):
    with pytest.raises(ValueError, match="--processes 5") as refused:
        choose_processes(5, spec(load, **extra), Share(), EIGHT)
    assert message in str(refused.value)


def test_processes_option_text():
    assert parse_processes("auto") == "auto"
    assert parse_processes("3") == 3
    for bad in ("0", "-1", "two", "1.5", ""):
        with pytest.raises(ValueError, match="expected 'auto' or a whole number"):
            parse_processes(bad)
