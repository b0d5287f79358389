"""A runner that dies never takes the others' results: the run goes on without it, keeps
every summary that reached it (also those that came after the loss), names the runner
that left none and counts its planned share as unknown, and is never passed."""

from __future__ import annotations

from datetime import timedelta

from herd.api.crd import loadtestrun_crd
from herd_operator.objects import rfc3339
from herd_operator.run_status import STOP_MARGIN_SECONDS, reconcile_run
from tests.operator.fixtures import (
    CREATED,
    RUNNING,
    exited,
    finished,
    job_condition,
    job_for,
    pod,
    run_body,
)
from tests.operator.schema_tools import validate_against

AFTER_RELEASE = CREATED + timedelta(seconds=90)
SIGKILLED = exited(1, 137, message="Traceback ... (the log's tail)")
FAILED_INDEXES = job_condition("Failed", "FailedIndexes", "Job has failed indexes")


def reconcile(run, job, pods, now=AFTER_RELEASE):
    result = reconcile_run(run, job, pods, now)
    validate_against(loadtestrun_crd(), {**run, "status": result.status})
    return result


def conditions(status):
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_a_runner_lost_mid_run_does_not_end_the_run():
    run = run_body(status={"phase": "Running", "jobName": "sdxl-burst-g1"})
    result = reconcile(run, job_for(run), [finished(0), SIGKILLED, pod(2, RUNNING)])
    status = result.status
    assert status["phase"] == "Running" and "verdict" not in status
    assert status["message"].startswith("1 of 3 runners sending load; runner 1 exited with code")
    assert "killed (SIGKILL)" in status["message"]
    assert status["runners"]["failed"] == 1 and status["runners"]["running"] == 1
    assert result.actions == ()  # nothing is stopped
    # Said once, as it happens: the phase does not change, so an Event does.
    assert [(e.type, e.reason) for e in result.events] == [("Warning", "RunnerFailed")]
    again = reconcile(
        run_body(status=status), job_for(run), [finished(0), SIGKILLED, pod(2, RUNNING)]
    )
    assert again.events == ()


def test_the_run_keeps_every_runner_that_reported_and_names_the_one_that_did_not():
    run = run_body()
    result = reconcile(run, job_for(run, [FAILED_INDEXES]), [finished(0), SIGKILLED, finished(2)])
    status = result.status
    assert status["phase"] == "Failed" and status["verdict"] == "inconclusive"
    results = status["results"]
    assert results["runnersReported"] == 2 and results["missingRunners"] == [1]
    requests = results["requests"]
    # Runner 1's share of the 30 (the engine's own plan: 10) is neither ok nor failed.
    assert requests == {
        "planned": 30, "sent": 20, "ok": 20, "failed": 0, "neverSent": 0, "unknown": 10
    }  # fmt: skip
    assert requests["planned"] == (
        requests["ok"] + requests["failed"] + requests["neverSent"] + requests["unknown"]
    )
    assert results["unknownReasons"] == {"runner_lost": 10}
    assert set(results["workers"]["requests"]) == {"worker-0", "worker-2"}
    assert results["verdict"] == "inconclusive"
    assert results["verdictReason"] == "results missing: runner 1 of 3 did not report"
    assert conditions(status)["Failed"] == ("True", "RunnerFailed")
    assert conditions(status)["ThresholdsPassed"] == ("Unknown", "Inconclusive")
    assert "runner 1 exited with code 137 (killed (SIGKILL))" in status["message"]
    assert "runner 1 did not (its share is unknown)" in status["message"]
    assert status["summary"]["verdict"] == "inconclusive"


def test_a_runner_that_finishes_after_another_failed_lands_in_the_status():
    run = run_body()
    pods = [finished(0), SIGKILLED, pod(2, RUNNING)]
    during = reconcile(run, job_for(run), pods).status
    assert during["phase"] == "Running"
    later = run_body(status=during)
    ended = reconcile(later, job_for(run, [FAILED_INDEXES]), [finished(0), SIGKILLED, finished(2)])
    assert ended.status["results"]["runnersReported"] == 2
    assert ended.status["results"]["requests"]["ok"] == 20


def _failed_at(seconds: int) -> dict:
    condition = job_condition("Failed", "DeadlineExceeded", "Job was active longer")
    return {**condition, "lastTransitionTime": rfc3339(AFTER_RELEASE + timedelta(seconds=seconds))}


def test_runners_stopping_when_the_job_failed_are_waited_for_within_their_grace_period():
    run = run_body()
    job = job_for(run, [_failed_at(0)])
    grace = job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    stopping = [finished(0), pod(1, RUNNING), finished(2)]
    waiting = reconcile(run, job, stopping, AFTER_RELEASE + timedelta(seconds=5))
    assert waiting.status["phase"] == "Running"
    assert "waiting up to" in waiting.status["message"] and "runner 1" in waiting.status["message"]
    assert waiting.requeue_after == grace + STOP_MARGIN_SECONDS - 5
    # It reports during the wait (SIGTERM: it drains and writes its summary): it counts.
    reported = reconcile(run, job, [finished(i) for i in range(3)], AFTER_RELEASE)
    assert reported.status["phase"] == "Failed"
    assert reported.status["results"]["runnersReported"] == 3
    # A pod that never stops (its node is gone) does not keep the run open.
    past = AFTER_RELEASE + timedelta(seconds=grace + STOP_MARGIN_SECONDS + 1)
    given_up = reconcile(run, job, stopping, past).status
    assert given_up["phase"] == "Failed" and given_up["results"]["missingRunners"] == [1]
    assert conditions(given_up)["Failed"] == ("True", "DeadlineExceeded")
