"""``next_action``: which run a LoadTest starts (apply, manual, schedule), concurrency
policies, missed schedules, history limits — each status checked against the CRD."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from herd.api.crd import loadtest_crd, loadtestrun_crd
from herd_operator.objects import read_run, rfc3339
from herd_operator.scheduling import next_action
from tests.operator.fixtures import CREATED, MINIMAL_SPEC, loadtest, run_body
from tests.operator.schema_tools import validate_against

LATER = CREATED + timedelta(minutes=7)


def decide(body, runs=(), now=LATER):
    decision = next_action(body, list(runs), now)
    validate_against(loadtest_crd(), {**body, "status": decision.status})
    if decision.create is not None:
        validate_against(loadtestrun_crd(), decision.create)
    return decision


def scheduled(cron="*/5 * * * *", **schedule):
    return {**MINIMAL_SPEC, "schedule": {"cron": cron, **schedule}}


def a_run(name, phase, minutes=1, summary=None):
    status = {"phase": phase}
    if phase in ("Succeeded", "Failed", "Invalid"):
        status["completionTime"] = rfc3339(CREATED + timedelta(minutes=minutes, seconds=30))
    if summary:
        status["summary"] = summary
    return run_body(name=name, status=status, created=CREATED + timedelta(minutes=minutes))


def test_a_new_loadtest_starts_one_run():
    body = loadtest()
    decision = decide(body)
    run = decision.create
    assert run["metadata"]["name"] == "sdxl-burst-g1"
    assert run["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "herd.dev/v1alpha1",
            "kind": "LoadTest",
            "name": "sdxl-burst",
            "uid": "lt-uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert run["metadata"]["labels"]["herd.dev/trigger"] == "apply"
    assert run["spec"]["trigger"] == "apply" and run["spec"]["loadTestName"] == "sdxl-burst"
    # The snapshot is a runnable run once the API server has given it uid and timestamps.
    created = {
        **run,
        "metadata": {**run["metadata"], "uid": "u", "creationTimestamp": "2030-01-01T00:00:00Z"},
    }
    assert read_run(created).spec.parallelism == 3
    status = decision.status
    assert status["phase"] == "Pending" and status["lastRun"] == "sdxl-burst-g1"
    assert status["active"] == ["sdxl-burst-g1"] and status["lastAppliedGeneration"] == 1
    assert status["observedGeneration"] == 1
    assert [e.reason for e in decision.events] == ["RunStarted"]


def test_restart_after_creating_the_run_creates_no_second_one():
    decision = decide(loadtest(), [a_run("sdxl-burst-g1", "Running")])
    assert decision.create is None
    assert decision.status["lastAppliedGeneration"] == 1
    assert decision.status["phase"] == "Running"


def test_nothing_to_do_once_recorded():
    body = loadtest()
    body["status"] = {"lastAppliedGeneration": 1}
    summary = {"run": "sdxl-burst-g1", "p95": "1.2s", "errorRate": "0.00%", "workers": 2,
               "verdict": "passed"}  # fmt: skip
    decision = decide(body, [a_run("sdxl-burst-g1", "Succeeded", summary=summary)])
    assert decision.create is None and decision.delete == () and decision.events == ()
    assert decision.status["phase"] == "Succeeded" and decision.status["summary"] == summary
    assert decision.status["lastSuccessfulTime"] == "2030-05-04T12:01:30Z"
    assert decision.requeue_after is None


def test_a_spec_change_waits_for_the_active_run_under_forbid():
    body = loadtest(generation=2)
    body["status"] = {"lastAppliedGeneration": 1}
    decision = decide(body, [a_run("sdxl-burst-g1", "Running")])
    assert decision.create is None
    assert "waiting for sdxl-burst-g1 to finish" in decision.status["message"]
    assert decision.requeue_after == 10
    finished = decide(body, [a_run("sdxl-burst-g1", "Succeeded")])
    assert finished.create["metadata"]["name"] == "sdxl-burst-g2"


def test_manual_trigger_runs_once_per_value():
    body = loadtest(annotations={"herd.dev/trigger": "1714824000"})
    body["status"] = {"lastAppliedGeneration": 1}
    decision = decide(body, [a_run("sdxl-burst-g1", "Succeeded")])
    assert decision.create["spec"]["trigger"] == "manual"
    assert decision.create["metadata"]["name"].startswith("sdxl-burst-m")
    assert decision.status["lastTrigger"] == "1714824000"
    body["status"] = decision.status
    assert decide(body, [a_run("sdxl-burst-g1", "Succeeded")]).create is None


def test_schedule_starts_the_due_run():
    decision = decide(loadtest(scheduled()))
    run = decision.create
    due = CREATED + timedelta(minutes=5)
    assert run["spec"]["trigger"] == "schedule"
    assert run["spec"]["scheduledTime"] == rfc3339(due)
    assert run["metadata"]["name"] == f"sdxl-burst-{int(due.timestamp() // 60)}"
    assert decision.status["lastScheduleTime"] == rfc3339(due)
    assert decision.status["nextScheduleTime"] == rfc3339(CREATED + timedelta(minutes=10))
    assert decision.requeue_after == 180
    assert "lastAppliedGeneration" not in decision.status  # no apply runs with a schedule


def test_before_the_first_time_it_waits():
    decision = decide(loadtest(scheduled()), now=CREATED + timedelta(minutes=2))
    assert decision.create is None and decision.status["phase"] == "Scheduled"
    assert decision.requeue_after == 180


def test_missed_schedules_start_only_the_latest():
    body = loadtest(scheduled())
    body["status"] = {"lastScheduleTime": rfc3339(CREATED + timedelta(minutes=5))}
    decision = decide(body, now=CREATED + timedelta(minutes=33))
    assert decision.create["spec"]["scheduledTime"] == rfc3339(CREATED + timedelta(minutes=30))
    missed = [e for e in decision.events if e.reason == "MissedSchedules"]
    assert missed and missed[0].message.startswith("5 scheduled times")


def test_too_late_for_the_starting_deadline_is_skipped():
    body = loadtest(scheduled(startingDeadlineSeconds=60))
    body["status"] = {"lastScheduleTime": rfc3339(CREATED + timedelta(minutes=25))}
    decision = decide(body, now=CREATED + timedelta(minutes=33))
    assert decision.create is None
    assert decision.status["lastScheduleTime"] == rfc3339(CREATED + timedelta(minutes=30))
    assert [e.reason for e in decision.events] == ["MissedSchedule"]


def test_suspended_schedules_start_nothing():
    decision = decide(loadtest(scheduled(suspend=True)))
    assert decision.create is None and decision.status["phase"] == "Scheduled"
    assert "nextScheduleTime" in decision.status


def test_time_zone():
    spec = scheduled("0 3 * * *", timeZone="Europe/Bucharest")
    decision = decide(loadtest(spec), now=datetime(2030, 5, 5, 1, 0, tzinfo=UTC))
    # 03:00 in Bucharest in May (UTC+3) is midnight UTC.
    assert decision.create["spec"]["scheduledTime"] == "2030-05-05T00:00:00Z"


@pytest.mark.parametrize(
    ("policy", "created", "deleted", "reasons"),
    [
        ("Forbid", False, (), ["ScheduleSkipped"]),
        ("Replace", True, ("sdxl-burst-g1",), ["Replaced", "RunStarted"]),
        ("Allow", True, (), ["RunStarted"]),
    ],
)
def test_concurrency_policies(policy, created, deleted, reasons):
    body = loadtest(scheduled(concurrencyPolicy=policy))
    decision = decide(body, [a_run("sdxl-burst-g1", "Running")])
    assert (decision.create is not None) == created
    assert decision.delete == deleted
    assert [e.reason for e in decision.events] == reasons
    assert decision.status["lastScheduleTime"] == rfc3339(CREATED + timedelta(minutes=5))
    if policy == "Allow":
        assert decision.status["active"] == ["sdxl-burst-g1", decision.create["metadata"]["name"]]


def test_history_limits_delete_the_oldest_finished_runs():
    body = loadtest(scheduled(successfulRunsHistoryLimit=2, failedRunsHistoryLimit=1))
    body["status"] = {"lastScheduleTime": rfc3339(LATER)}
    runs = [a_run(f"ok-{i}", "Succeeded", minutes=i) for i in range(4)]
    runs += [a_run(f"bad-{i}", "Failed", minutes=i) for i in range(2)]
    runs += [a_run("invalid-0", "Invalid", minutes=9), a_run("busy", "Running", minutes=0)]
    decision = decide(body, runs, now=LATER + timedelta(seconds=1))
    assert decision.delete == ("bad-0", "bad-1", "ok-0", "ok-1")
    assert decision.status["active"] == ["busy"]


def test_default_history_without_a_schedule():
    body = loadtest()
    body["status"] = {"lastAppliedGeneration": 1}
    runs = [a_run(f"ok-{i}", "Succeeded", minutes=i) for i in range(5)]
    assert decide(body, runs).delete == ("ok-0", "ok-1")  # keeps 3 succeeded


def test_invalid_loadtest_names_the_field_and_starts_nothing():
    body = loadtest({**MINIMAL_SPEC, "parallelism": 31})
    decision = decide(body)
    assert decision.create is None and decision.status["phase"] == "Invalid"
    assert decision.status["message"].startswith("spec.parallelism: 31 runners")
    assert [e.reason for e in decision.events] == ["InvalidSpec"]
    body["status"] = decision.status
    assert decide(body).events == ()  # said once, not on every reconcile


def test_idle_when_there_is_nothing_to_run():
    body = loadtest()
    body["status"] = {"lastAppliedGeneration": 1}
    decision = decide(body)
    assert decision.status["phase"] == "Idle" and decision.create is None


def test_more_than_a_hundred_missed_times_still_start_only_the_latest():
    body = loadtest(scheduled("* * * * *"))
    body["status"] = {"lastScheduleTime": rfc3339(CREATED)}
    now = CREATED + timedelta(hours=3, seconds=20)
    decision = decide(body, now=now)
    assert decision.create["spec"]["scheduledTime"] == rfc3339(CREATED + timedelta(hours=3))
    missed = next(e for e in decision.events if e.reason == "MissedSchedules")
    assert missed.message.startswith("101 scheduled times")
