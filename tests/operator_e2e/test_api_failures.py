"""What the operator does when the API server says no: a refused Job (422) ends the run
with a status saying why; failures that may pass (503) are retried and the run goes on."""

from __future__ import annotations

import kmock

from herd_operator.kube import JOBS, LOADTESTS, RUNS
from tests.operator_e2e.api import eventually
from tests.operator_e2e.apiserver import Fault
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest

REFUSAL = (
    'Job.batch "sdxl-g1" is invalid: spec.template.spec.affinity.nodeAffinity: '
    "Invalid value: a node selector term needs at least one requirement"
)


async def finished_status(cluster: Cluster, name: str) -> dict:
    async def check() -> dict:
        status = ((await cluster.api.get(RUNS, NAMESPACE, name)) or {}).get("status") or {}
        return status if status.get("phase") in ("Succeeded", "Failed") else {}

    return await eventually(check, 30, f"{name} finished")


async def test_a_refused_job_fails_the_run_with_the_api_servers_reason(
    cluster: Cluster, operator, target
) -> None:
    cluster.server.faults.append(Fault(kmock.action.CREATE, "batch/v1/jobs", 422, REFUSAL))
    await cluster.api.create(LOADTESTS, loadtest("sdxl", burst_spec(target.url)))

    status = await finished_status(cluster, "sdxl-g1")
    assert status["phase"] == "Failed" and status["verdict"] == "inconclusive"
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True" and failed["reason"] == "JobRejected"
    assert "spec.template.spec.affinity.nodeAffinity" in failed["message"]
    assert await cluster.api.list(JOBS, NAMESPACE) == []
    assert len(cluster.requests_to("POST", "/jobs")) == 1  # refused for good: not retried

    async def parent_failed() -> bool:
        obj = await cluster.api.get(LOADTESTS, NAMESPACE, "sdxl")
        return ((obj or {}).get("status") or {}).get("phase") == "Failed"

    await eventually(parent_failed, 10, "the LoadTest's phase Failed")


async def test_passing_api_failures_are_retried_and_the_run_completes(
    cluster: Cluster, operator, target
) -> None:
    cluster.server.faults += [
        Fault(kmock.action.CREATE, "batch/v1/jobs", 503, "etcdserver: leader changed"),
        Fault(kmock.action.UPDATE, "herd.dev/v1alpha1/loadtestruns", 503, "timeout", "status", 2),
    ]
    await cluster.api.create(LOADTESTS, loadtest("sdxl", burst_spec(target.url)))

    status = await finished_status(cluster, "sdxl-g1")
    assert status["phase"] == "Succeeded" and status["verdict"] == "passed", status["message"]
    assert all(fault.times == 0 for fault in cluster.server.faults)
    assert len(await cluster.api.list(JOBS, NAMESPACE)) == 1
    errors = operator.registry.get_sample_value(
        "herd_operator_reconcile_errors_total", {"kind": "LoadTestRun"}
    )
    assert errors == 3
