"""A full run, twice: triggered runs → real runner processes → merged results and a
verdict in status → the Job cleaned up after its TTL → history limits → metrics."""

from __future__ import annotations

import json

from herd_operator.kube import CONFIGMAPS, JOBS, LOADTESTS, PODS, RUNS
from herd_operator.naming import TRIGGER_ANNOTATION
from herd_operator.new_run import RunRequest
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest

# Runs start only by trigger (a suspended schedule), and one succeeded run is kept.
SCHEDULE = {"cron": "0 0 1 1 *", "suspend": True, "successfulRunsHistoryLimit": 1}


def run_name(token: str) -> str:
    return RunRequest("sdxl", "manual", token=token).name


async def finished(cluster: Cluster, name: str) -> dict:
    async def check() -> dict:
        run = await cluster.api.get(RUNS, NAMESPACE, name)
        status = (run or {}).get("status") or {}
        return status if status.get("phase") in ("Succeeded", "Failed") else {}

    return await eventually(check, 30, f"{name} finished")


async def gone(cluster: Cluster, name: str) -> bool:
    for resource in (JOBS, CONFIGMAPS, RUNS):
        if await cluster.api.get(resource, NAMESPACE, name) is not None:
            return False
    return True


async def test_full_run_results_verdict_history_and_cleanup(
    cluster: Cluster, operator, fresh_target
) -> None:
    spec = burst_spec(fresh_target.url, schedule=SCHEDULE, ttlSecondsAfterFinished=1)
    body = loadtest("sdxl", spec, annotations={TRIGGER_ANNOTATION: "first"})
    await cluster.api.create(LOADTESTS, body)

    first = await finished(cluster, run_name("first"))
    assert first["phase"] == "Succeeded" and first["verdict"] == "passed", first["message"]
    results = first["results"]
    assert results["runnersReported"] == 3
    assert results["requests"] == {
        "planned": 30, "sent": 30, "ok": 30, "failed": 0, "neverSent": 0, "unknown": 0
    }  # fmt: skip
    # The merged numbers agree with what the endpoint itself saw.
    arrivals = fresh_target.record()
    assert len(arrivals) == 30
    assert results["workers"]["distinct"] == len({a["worker"] for a in arrivals})
    assert sorted(json.loads(a["body"])["n"] for a in arrivals) == list(range(30))
    assert [t["passed"] for t in results["thresholds"]] == [True, True, True]
    assert first["summary"]["verdict"] == "passed" and first["summary"]["p95"].endswith("ms")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in first["conditions"]}
    assert conditions["Succeeded"] == ("True", "Completed")
    assert conditions["ThresholdsPassed"] == ("True", "ThresholdsMet")

    # Cleanup: ttlSecondsAfterFinished removes the Job, its pods and the runners' input;
    # the run and its results stay.
    async def runners_removed() -> bool:
        jobs = await cluster.api.get(JOBS, NAMESPACE, run_name("first"))
        pods = await cluster.api.list(PODS, NAMESPACE, f"herd.dev/run={run_name('first')}")
        config_map = await cluster.api.get(CONFIGMAPS, NAMESPACE, run_name("first"))
        return jobs is None and config_map is None and pods == []

    await eventually(runners_removed, 15, "the first run's Job, pods and ConfigMap deleted")
    kept = await cluster.api.get(RUNS, NAMESPACE, run_name("first"))
    assert kept["status"]["results"] == results

    # A second run of a changed spec: its own snapshot, a failed verdict.
    fresh_target.reset()
    change = {
        "metadata": {"annotations": {TRIGGER_ANNOTATION: "second"}},
        "spec": {"thresholds": ["p95 < 1ms"]},
    }
    await cluster.api.patch(LOADTESTS, NAMESPACE, "sdxl", change)
    second = await finished(cluster, run_name("second"))
    assert second["phase"] == "Succeeded" and second["verdict"] == "failed"
    conditions = {c["type"]: c for c in second["conditions"]}
    assert conditions["ThresholdsPassed"]["status"] == "False"
    assert "p95 < 1ms" in conditions["ThresholdsPassed"]["message"]

    # History: one succeeded run is kept, so the first one goes (with all it owned).
    await eventually(lambda: gone(cluster, run_name("first")), 15, "the first run deleted")

    async def parent_shows_second() -> dict:
        status = (await cluster.api.get(LOADTESTS, NAMESPACE, "sdxl"))["status"]
        return status if status.get("summary", {}).get("run") == run_name("second") else {}

    parent = await eventually(parent_shows_second, 15, "the LoadTest's summary of run 2")
    assert parent["lastRun"] == run_name("second") and parent["active"] == []
    assert parent["summary"]["verdict"] == "failed"
    assert parent["lastTrigger"] == "second"

    # The operator's metrics keep the latest results after the Jobs are gone.
    metrics = operator.registry
    labels = {"namespace": NAMESPACE, "loadtest": "sdxl"}
    value = metrics.get_sample_value
    assert value("herd_operator_last_run_passed", labels) == 0
    assert value("herd_operator_last_run_requests", {**labels, "outcome": "ok"}) == 30
    workers = second["results"]["workers"]["distinct"]
    assert value("herd_operator_last_run_workers", labels) == workers
    assert value("herd_operator_last_run_latency_p95_seconds", labels) > 0.001
    assert value("herd_operator_run_duration_seconds_count", {"phase": "Succeeded"}) == 2
    succeeded_runs = {"phase": "Succeeded"}
    await eventually(lambda: value("herd_operator_runs", succeeded_runs) == 1, 10, "1 run kept")
    assert value("herd_operator_reconcile_errors_total", {"kind": "LoadTestRun"}) is None
