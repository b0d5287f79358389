"""limits.maxActiveRunsPerNamespace: a run beyond it waits (Pending, WaitingForCapacity, one
Event), starts in creation order when a slot frees up, and its runners then get a full
startup allowance from that moment, not from the run's creation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from herd_operator.caps import Caps
from herd_operator.job import build_runner_job, job_release_time
from herd_operator.namespace_slots import Slots, holds_slot, namespace_slots
from herd_operator.objects import parse_time, read_run
from herd_operator.run_status import WAITING_RECHECK_SECONDS, Action, reconcile_run
from herd_operator.settings import RunnerSettings
from tests.operator.fixtures import CREATED, MINIMAL_SPEC, run_body

SETTINGS = RunnerSettings(caps=Caps(max_active_runs_per_namespace=2))
FULL = Slots(cap=2, active=2, ahead=0)


def job_of(name: str, **status: Any) -> dict[str, Any]:
    job = build_runner_job(read_run(run_body(name=name)))
    job["status"] = status
    return job


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_a_run_beyond_the_cap_waits_with_a_reason_and_one_event():
    run = run_body()
    waiting = reconcile_run(run, None, [], CREATED, SETTINGS, FULL)
    status = waiting.status
    assert waiting.actions == ()  # no ConfigMap, no Job
    assert status["phase"] == "Pending" and "releaseTime" not in status
    assert status["message"] == (
        "waiting for a slot: 2 runs of namespace perf have runners up; the operator allows "
        "2 at once (limits.maxActiveRunsPerNamespace)"
    )
    succeeded = condition(status, "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("Unknown", "WaitingForCapacity")
    assert [(e.type, e.reason) for e in waiting.events] == [("Normal", "WaitingForCapacity")]
    assert waiting.requeue_after == WAITING_RECHECK_SECONDS
    later = CREATED + timedelta(seconds=30)
    again = reconcile_run({**run, "status": status}, None, [], later, SETTINGS, FULL)
    assert again.events == () and again.status["phase"] == "Pending"  # said once


def test_a_run_that_waited_gets_its_startup_allowance_from_when_its_runners_are_created():
    run = run_body()
    waited = reconcile_run(run, None, [], CREATED, SETTINGS, FULL).status
    freed = CREATED + timedelta(minutes=5)
    started = reconcile_run({**run, "status": waited}, None, [], freed, SETTINGS, Slots(2, 1, 0))
    assert started.actions == (Action.CREATE_RUNNERS,)
    release = parse_time(started.status["releaseTime"])
    assert release == freed + timedelta(seconds=SETTINGS.startup_allowance_seconds)
    assert [e.reason for e in started.events] == ["Pending"]  # "creating 3 runners"
    assert condition(started.status, "Succeeded")["reason"] == "InProgress"
    # the Job holds that release time; once it exists the run reads it from there
    job = build_runner_job(read_run(run), SETTINGS, release)
    assert job_release_time(job) == release
    later = reconcile_run(
        {**run, "status": {**started.status, "jobName": "sdxl-burst-g1"}},
        job,
        [],
        freed + timedelta(seconds=1),
        SETTINGS,
    )
    assert later.status["releaseTime"] == started.status["releaseTime"]


def test_a_run_that_never_waited_keeps_its_release_time_from_its_creation():
    result = reconcile_run(run_body(), None, [], CREATED, SETTINGS, Slots(2, 0, 0))
    assert result.status["releaseTime"] == "2030-05-04T12:01:00Z"
    assert result.actions == (Action.CREATE_RUNNERS,)


def test_only_up_runner_jobs_hold_a_slot():
    assert holds_slot(job_of("a"))
    assert not holds_slot(job_of("b", conditions=[{"type": "Complete", "status": "True"}]))
    assert not holds_slot(job_of("c", conditions=[{"type": "Failed", "status": "True"}]))
    suspended = job_of("d")
    suspended["spec"]["suspend"] = True  # its runners were stopped
    assert not holds_slot(suspended)


def test_waiting_runs_start_in_the_order_they_were_created():
    def waiting_run(name: str, minutes: int) -> dict[str, Any]:
        body = run_body(name=name, created=CREATED + timedelta(minutes=minutes))
        body["status"] = reconcile_run(body, None, [], CREATED, SETTINGS, FULL).status
        return body

    older, newer = waiting_run("older", 0), waiting_run("newer", 1)
    jobs = [job_of("busy")]  # one of two slots taken
    runs = [older, newer]
    assert namespace_slots(newer, jobs, runs, cap=2) == Slots(cap=2, active=1, ahead=1)
    assert not namespace_slots(newer, jobs, runs, cap=2).free
    assert namespace_slots(older, jobs, runs, cap=2).free
    # its own Job (created a moment ago, not yet seen) is its slot, not another run's
    mine = namespace_slots(newer, [*jobs, job_of("newer")], runs, cap=2)
    assert mine.active == 1 and mine.free


def test_without_the_cap_a_run_never_waits():
    result = reconcile_run(run_body(MINIMAL_SPEC), None, [], CREATED, RunnerSettings())
    assert result.actions == (Action.CREATE_RUNNERS,)
