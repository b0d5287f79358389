"""``herd operator --all-namespaces`` in its own process, killed mid-run and started again:
no second Job, and the run still completes with every runner's results."""

from __future__ import annotations

import json
from pathlib import Path

from herd_operator.kube import CONFIGMAPS, JOBS, LOADTESTS, PODS, RUNS
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, STARTUP_ALLOWANCE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest
from tests.operator_e2e.operators import http_status, http_text, start_operator_process


async def runners_running(cluster: Cluster) -> bool:
    pods = await cluster.api.list(PODS, NAMESPACE, "herd.dev/run=sdxl-g1")
    phases = [(pod.get("status") or {}).get("phase") for pod in pods]
    return phases == ["Running"] * 3


async def test_operator_restart_mid_run_creates_no_second_job(
    cluster: Cluster, fresh_target, tmp_path: Path
) -> None:
    log = tmp_path / "operator.log"
    first = start_operator_process(cluster.kubeconfig, STARTUP_ALLOWANCE, log)
    try:
        await first.wait_ready()
        assert await http_status(first.liveness_url) == 200
        # Each request takes 1.5 s at the endpoint: runners are busy when the operator dies.
        spec = burst_spec(fresh_target.url, requests=9, path="/sleep/1.5")
        await cluster.api.create(LOADTESTS, loadtest("sdxl", spec))
        await eventually(lambda: runners_running(cluster), 20, "3 runners running")
    finally:
        first.crash()
    run = await cluster.api.get(RUNS, NAMESPACE, "sdxl-g1")
    assert run["status"]["phase"] not in ("Succeeded", "Failed")

    second = start_operator_process(cluster.kubeconfig, STARTUP_ALLOWANCE, log)
    try:
        await second.wait_ready()

        async def finished() -> dict:
            status = ((await cluster.api.get(RUNS, NAMESPACE, "sdxl-g1")) or {}).get("status")
            return status if (status or {}).get("phase") in ("Succeeded", "Failed") else {}

        status = await eventually(finished, 30, "the run finished")
        assert status["phase"] == "Succeeded", status["message"]
        assert status["verdict"] == "passed", status["message"]
        assert status["results"]["runnersReported"] == 3
        assert status["results"]["requests"]["ok"] == 9
        assert len(fresh_target.record()) == 9  # each request was sent once

        # Exactly one of everything, however often the operators reconciled.
        assert len(cluster.requests_to("POST", "/jobs")) == 1
        assert len(cluster.requests_to("POST", "/configmaps")) == 1
        assert len(cluster.requests_to("POST", "/loadtestruns")) == 1
        assert len(await cluster.api.list(JOBS, NAMESPACE)) == 1
        assert len(await cluster.api.list(CONFIGMAPS, NAMESPACE)) == 1
        assert len(await cluster.api.list(PODS, NAMESPACE)) == 3

        # The restarted operator's own metrics carry the results.
        async def metrics_show_results() -> bool:
            text = await http_text(second.metrics_url + "/metrics")
            return 'herd_operator_last_run_passed{loadtest="sdxl",namespace="perf"} 1.0' in text

        await eventually(metrics_show_results, 10, "the verdict in /metrics")
        probes = json.loads(await http_text(second.liveness_url))  # kopf's liveness probe
        assert probes["runsByPhase"]["Succeeded"] == 1
    finally:
        second.stop()
