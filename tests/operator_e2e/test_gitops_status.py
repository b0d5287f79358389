"""What GitOps tools and pipelines read from a LoadTest, on statuses the real operator
wrote for real runs: `kubectl wait --for=condition=…` (kubectl against the stand-in) and
kstatus's rules, which Flux's health checks apply to any custom resource.

kstatus (sigs.k8s.io/cli-utils/pkg/kstatus) is Go; ``kstatus`` below is its documented
generic rule for custom resources, in order: a ``status.observedGeneration`` behind
``metadata.generation`` is InProgress; ``Reconciling`` True is InProgress; ``Stalled`` True
is Failed; otherwise Current."""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

import pytest

from herd_operator.kube import LOADTESTS, RUNS
from tests.operator.test_argocd_health import LUA, health
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
needs_kubectl = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")


def kstatus(obj: dict[str, Any]) -> str:
    status = obj.get("status") or {}
    generation = obj["metadata"].get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return "InProgress"
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    if conditions.get("Reconciling") == "True":
        return "InProgress"
    if conditions.get("Stalled") == "True":
        return "Failed"
    return "Current"


async def kubectl_wait(cluster: Cluster, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "wait",
        *args,
        env={"KUBECONFIG": str(cluster.kubeconfig), "HOME": str(cluster.kubeconfig.parent)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def finished(cluster: Cluster, name: str) -> dict[str, Any]:
    async def done() -> bool:
        obj = await cluster.api.get(LOADTESTS, NAMESPACE, name)
        return bool(((obj or {}).get("status") or {}).get("summary", {}).get("verdict"))

    await eventually(done, 40, f"LoadTest {name}'s verdict")
    return await cluster.api.get(LOADTESTS, NAMESPACE, name)


@needs_kubectl
async def test_kubectl_wait_and_kstatus_follow_the_verdict(
    cluster: Cluster, operator, target
) -> None:
    passing = burst_spec(target.url, requests=4, parallelism=2)
    failing = {**passing, "thresholds": ["workers >= 50"]}  # 4 requests reach 4 at most
    await cluster.api.create(LOADTESTS, loadtest("fast", passing))
    await cluster.api.create(LOADTESTS, loadtest("slow", failing))
    # Waited on before either finished: kubectl waits for the verdict, not for a phase.
    code, out = await kubectl_wait(
        cluster, "lt/fast", "--for=condition=ThresholdsPassed", "--timeout=45s"
    )
    assert code == 0, out
    assert "condition met" in out
    passed = await finished(cluster, "fast")
    assert kstatus(passed) == "Current"

    failed = await finished(cluster, "slow")
    assert failed["status"]["phase"] == "Succeeded"  # the lifecycle ended; the verdict did not pass
    code, out = await kubectl_wait(
        cluster, "lt/slow", "--for=condition=ThresholdsPassed", "--timeout=3s"
    )
    assert code != 0 and "timed out" in out, (out, failed["status"]["conditions"])
    code, out = await kubectl_wait(
        cluster, "lt/slow", "--for=condition=ThresholdsPassed=False", "--timeout=10s"
    )
    assert code == 0, out
    assert kstatus(failed) == "Failed"  # a Flux health check fails
    stalled = next(c for c in failed["status"]["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "ThresholdsFailed" and "workers >= 50" in stalled["message"]
    run = await cluster.api.get(RUNS, NAMESPACE, failed["status"]["summary"]["run"])
    run_conditions = {c["type"]: c["status"] for c in run["status"]["conditions"]}
    assert run_conditions["ThresholdsPassed"] == "False" and run_conditions["Stalled"] == "True"
    if LUA is not None:  # Argo CD's health check on these very statuses
        assert health("LoadTest", {"status": failed["status"]}) == "Degraded"
        assert health("LoadTestRun", {"status": run["status"]}) == "Degraded"
        assert health("LoadTest", {"status": passed["status"]}) == "Healthy"
