"""An inconclusive verdict in the cluster: from the runners' summaries to the run's and
the LoadTest's status, and what Argo CD's health check (docs/argocd-health.md, run with
Lua) makes of that very status."""

from __future__ import annotations

from datetime import timedelta

import pytest

from herd.api.crd import loadtest_crd, loadtestrun_crd
from herd_operator.objects import rfc3339
from herd_operator.run_status import reconcile_run
from herd_operator.scheduling import next_action
from tests.operator.fixtures import (
    CREATED,
    RUNNING,
    exited,
    finished,
    job_condition,
    job_for,
    loadtest,
    pod,
    run_body,
)
from tests.operator.schema_tools import validate_against
from tests.operator.test_argocd_health import LUA, health_and_message

AFTER_RELEASE = CREATED + timedelta(seconds=90)
UPLOADS_WAITED = (
    "client-limited: calls waited for their own S3 uploads (inline staging, 2 at a time): "
    "p95 3.10s between a call's planned start and its sending"
)


def reconciled(pods: list[dict], conditions: list[dict] | None = None) -> dict:
    run = run_body()
    job = job_for(run, conditions)
    status = reconcile_run(run, job, pods, AFTER_RELEASE).status
    validate_against(loadtestrun_crd(), {**run, "status": status})
    return status


def client_limited_run() -> dict:
    """Three runners that finished; runner 1's uploads held its calls back."""
    limited = finished(1, limited_by=["inline_uploads"], diagnostics=[UPLOADS_WAITED])
    return reconciled([finished(0), limited, finished(2)], [job_condition("Complete")])


def test_a_client_limited_runner_makes_the_run_inconclusive_with_its_diagnostic():
    status = client_limited_run()
    assert status["phase"] == "Succeeded"  # the lifecycle ended; the verdict is apart
    assert status["verdict"] == "inconclusive"
    results = status["results"]
    assert all(t["passed"] for t in results["thresholds"])  # they held, and prove nothing
    assert results["selfCheck"] == {"limitedBy": ["inline_uploads"], "ignored": []}
    assert results["verdictReason"] == f"runner 1: {UPLOADS_WAITED}"
    assert status["message"].startswith(f"verdict inconclusive (runner 1: {UPLOADS_WAITED})")
    assert status["summary"]["verdict"] == "inconclusive"
    assert status["summary"]["verdictReason"] == f"runner 1: {UPLOADS_WAITED}"
    threshold = next(c for c in status["conditions"] if c["type"] == "ThresholdsPassed")
    assert (threshold["status"], threshold["reason"]) == ("Unknown", "Inconclusive")
    assert threshold["message"] == f"runner 1: {UPLOADS_WAITED}"


def test_a_run_that_lost_a_runner_is_inconclusive_not_failed():
    pods = [finished(0), pod(1, RUNNING), exited(2, 137, "OOMKilled")]
    assert reconciled(pods)["phase"] == "Running"  # the others go on
    ended = [job_condition("Failed", "FailedIndexes", "Job has failed indexes")]
    status = reconciled([finished(0), finished(1), exited(2, 137, "OOMKilled")], ended)
    assert status["phase"] == "Failed"
    assert status["verdict"] == "inconclusive"
    assert status["results"]["verdict"] == "inconclusive"  # runner 2's share is missing
    assert status["results"]["verdictReason"] == "results missing: runner 2 of 3 did not report"
    assert "runner 2 was killed" in status["summary"]["verdictReason"]


def test_an_invalid_spec_is_still_a_failure():
    run = run_body({"target": {"url": "ftp://nowhere"}, "load": {"pattern": "burst"}})
    status = reconcile_run(run, None, [], AFTER_RELEASE).status
    assert (status["phase"], status["verdict"]) == ("Invalid", "failed")


@pytest.mark.skipif(LUA is None, reason="no Lua interpreter installed")
def test_argo_cd_shows_the_inconclusive_run_and_its_loadtest_degraded_with_the_diagnostic():
    status = client_limited_run()
    health, message = health_and_message("LoadTestRun", {"status": status})
    assert health == "Degraded"
    assert message.startswith(f"verdict inconclusive (runner 1: {UPLOADS_WAITED})")

    # The LoadTest mirrors its latest finished run: the status the operator writes for it.
    run = run_body(status={**status, "completionTime": rfc3339(CREATED + timedelta(minutes=2))})
    body = loadtest()
    body["status"] = {"lastAppliedGeneration": 1}
    decision = next_action(body, [run], CREATED + timedelta(minutes=3))
    validate_against(loadtest_crd(), {**body, "status": decision.status})
    assert decision.status["summary"]["verdict"] == "inconclusive"
    health, message = health_and_message("LoadTest", {"status": decision.status})
    assert health == "Degraded"
    assert message == f"inconclusive: runner 1: {UPLOADS_WAITED}"
