"""A valid LoadTest with ``parallelism: 3`` becomes an owned, hardened, indexed Job of 3
runners, and the run's status follows its pods while they start."""

from __future__ import annotations

import kubernetes_validate

from herd_operator.kube import CONFIGMAPS, JOBS, LOADTESTS, RUNS, Resource
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest

KUBERNETES = "1.30"
EVENTS = Resource("", "v1", "events")


def owner_of(obj: dict) -> dict:
    (owner,) = obj["metadata"]["ownerReferences"]
    return owner


async def status_of(cluster: Cluster, resource: Resource, name: str) -> dict:
    obj = await cluster.api.get(resource, NAMESPACE, name)
    return (obj or {}).get("status") or {}


async def test_a_loadtest_becomes_an_owned_hardened_indexed_job_of_three(
    cluster: Cluster, operator, target
) -> None:
    cluster.kubelet.paused = True  # pods stay Pending until the test lets them start
    created = await cluster.api.create(LOADTESTS, loadtest("sdxl", burst_spec(target.url)))

    job = await eventually(lambda: cluster.api.get(JOBS, NAMESPACE, "sdxl-g1"), 15, "the Job")
    run = await cluster.api.get(RUNS, NAMESPACE, "sdxl-g1")
    config_map = await cluster.api.get(CONFIGMAPS, NAMESPACE, "sdxl-g1")
    # Ownership: LoadTest → LoadTestRun → Job and ConfigMap, by the uids the server gave.
    assert owner_of(run)["uid"] == created["metadata"]["uid"]
    assert owner_of(job)["uid"] == owner_of(config_map)["uid"] == run["metadata"]["uid"]
    assert owner_of(job)["controller"] is True
    # One Indexed Job of 3, each runner its own share; a failed runner is not retried.
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["parallelism"] == spec["completions"] == 3
    assert spec["backoffLimitPerIndex"] == 0 and "backoffLimit" not in spec
    assert spec["activeDeadlineSeconds"] > 60
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"]["memory"]
    assert container["args"][container["args"].index("--runners") + 1] == "3"
    assert config_map["immutable"] is True
    # Kubernetes itself would accept what the operator created (the stand-in does not check).
    for manifest in (job, config_map):
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)

    # A live status while the runners are not running yet ...
    async def job_seen() -> dict:
        status = await status_of(cluster, RUNS, "sdxl-g1")
        return status if status.get("jobName") else {}

    pending = await eventually(job_seen, 10, "the run's status naming its Job")
    assert pending["phase"] == "Pending"
    assert pending["jobName"] == "sdxl-g1"
    assert pending["runners"]["total"] == 3
    assert {c["type"]: c["status"] for c in pending["conditions"]} == {
        "Ready": "True",
        "Running": "False",
        "Succeeded": "Unknown",
        "Failed": "Unknown",
        "ThresholdsPassed": "Unknown",
        "Inconclusive": "Unknown",
        "Reconciling": "True",
        "Stalled": "False",
    }
    parent = await status_of(cluster, LOADTESTS, "sdxl")
    assert parent["active"] == ["sdxl-g1"] and parent["lastRun"] == "sdxl-g1"
    assert parent["observedGeneration"] == 1

    # ... that follows them as they start and finish.
    cluster.kubelet.paused = False

    async def runners_seen() -> dict:
        status = await status_of(cluster, RUNS, "sdxl-g1")
        counts = status.get("runners") or {}
        return status if counts.get("running", 0) + counts.get("succeeded", 0) == 3 else {}

    live = await eventually(runners_seen, 20, "all 3 runners running or done")
    assert live["phase"] in ("Staging", "Running", "Succeeded")
    events = await cluster.api.list(EVENTS, NAMESPACE)
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in events}
    assert ("LoadTest", "RunStarted") in reasons
