"""Runs that cannot complete end with a status saying why, not stuck: a runner image that
cannot be pulled (the Job is suspended once the synchronized start has passed), and a
runner Job deleted by hand."""

from __future__ import annotations

from herd_operator.kube import JOBS, LOADTESTS, PODS, RUNS
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest


async def failure_of(cluster: Cluster, name: str) -> dict:
    async def failed() -> dict:
        status = ((await cluster.api.get(RUNS, NAMESPACE, name)) or {}).get("status") or {}
        return status if status.get("phase") == "Failed" else {}

    status = await eventually(failed, 20, f"{name} failed")
    return next(c for c in status["conditions"] if c["type"] == "Failed")


async def job_seen(cluster: Cluster, name: str) -> bool:
    run = await cluster.api.get(RUNS, NAMESPACE, name)
    return bool(((run or {}).get("status") or {}).get("jobName"))


async def test_an_image_that_cannot_be_pulled_fails_the_run_and_suspends_the_job(
    cluster: Cluster, operator, target
) -> None:
    cluster.kubelet.paused = True  # the test is the kubelet: it cannot pull the image
    spec = burst_spec(target.url, runner={"image": "registry.example/herd:missing"})
    await cluster.api.create(LOADTESTS, loadtest("sdxl", spec))

    pods = await eventually(
        lambda: cluster.api.list(PODS, NAMESPACE, "herd.dev/run=sdxl-g1"), 10, "runner pods"
    )
    waiting = {
        "reason": "ImagePullBackOff",
        "message": 'Back-off pulling image "registry.example/herd:missing"',
    }
    for pod in pods:
        status = {
            "phase": "Pending",
            "containerStatuses": [
                {"name": "runner", "ready": False, "restartCount": 0, "state": {"waiting": waiting}}
            ],
        }
        meta = pod["metadata"]
        await cluster.api.patch(PODS, NAMESPACE, meta["name"], {"status": status}, "status")

    # Nothing changes at the synchronized start but the clock: the run's requeue finds it.
    failed = await failure_of(cluster, "sdxl-g1")
    assert failed["reason"] == "ImagePullFailed"
    assert "registry.example/herd:missing" in failed["message"]
    assert "synchronized start has passed" in failed["message"]
    job = await cluster.api.get(JOBS, NAMESPACE, "sdxl-g1")
    assert job["spec"]["suspend"] is True  # its pods stop; the Job and what they said stay


async def test_a_job_deleted_by_hand_fails_the_run(cluster: Cluster, operator, target) -> None:
    cluster.kubelet.paused = True
    await cluster.api.create(LOADTESTS, loadtest("sdxl", burst_spec(target.url)))
    await eventually(lambda: job_seen(cluster, "sdxl-g1"), 10, "the run seeing its Job")

    await cluster.api.delete(JOBS, NAMESPACE, "sdxl-g1")

    failed = await failure_of(cluster, "sdxl-g1")
    assert failed["reason"] == "JobDeleted"
    assert "sdxl-g1" in failed["message"]
    assert await cluster.api.list(PODS, NAMESPACE) == []  # gone with their Job
    assert len(cluster.requests_to("POST", "/jobs")) == 1  # not recreated behind the user
