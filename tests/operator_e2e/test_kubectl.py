"""``kubectl get lt`` and ``kubectl get ltr`` against the stand-in show the CRDs' printer
columns filled in by the operator: phase, p95, error rate, workers, verdict."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from herd_operator.kube import LOADTESTS, RUNS
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")


async def kubectl(cluster: Cluster, *args: str) -> list[list[str]]:
    """kubectl's table output, split into rows of cells."""
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        *args,
        env={"KUBECONFIG": str(cluster.kubeconfig), "HOME": str(cluster.kubeconfig.parent)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert not err, err.decode()  # no warnings either (e.g. ambiguous short names)
    return [line.split() for line in out.decode().splitlines()]


async def test_kubectl_get_shows_the_printer_columns(cluster: Cluster, operator, target) -> None:
    spec = burst_spec(target.url, requests=4, parallelism=2)
    await cluster.api.create(LOADTESTS, loadtest("sdxl", spec))

    async def summarized() -> bool:
        obj = await cluster.api.get(LOADTESTS, NAMESPACE, "sdxl")
        return bool(((obj or {}).get("status") or {}).get("summary", {}).get("verdict"))

    await eventually(summarized, 30, "the LoadTest's summary")
    run = (await cluster.api.get(RUNS, NAMESPACE, "sdxl-g1"))["status"]["summary"]

    header, row = await kubectl(cluster, "get", "lt")
    assert header == ["NAME", "PHASE", "P95", "ERRORS", "WORKERS", "VERDICT", "AGE"]
    assert row[:6] == ["sdxl", "Succeeded", run["p95"], "0.00%", str(run["workers"]), "passed"]

    header, row = await kubectl(cluster, "get", "ltr", "-o", "wide")
    assert header[-3:] == ["LOADTEST", "TRIGGER", "AGE"]
    assert row[:8] == ["sdxl-g1", "Succeeded", run["p95"], "0.00%", str(run["workers"]),
                       "passed", "sdxl", "apply"]  # fmt: skip
