"""A runner SIGKILLed mid-run (the OOM killer, a node gone) in a cluster of real runner
processes: the other runners go on and finish after it, and the run's status keeps their
results, names the lost runner, counts its share as unknown and is not passed."""

from __future__ import annotations

import json

from herd_operator.kube import JOBS, LOADTESTS, PODS, RUNS
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.controllers import INDEX_KEY
from tests.operator_e2e.loadtests import burst_spec, loadtest

SERVICE_SECONDS = 2.0
"""How long the target holds each call: runner 1 is killed while its calls are open."""
RUNNER_1 = range(10, 20)  # the global request indices of runner 1's share of 30


async def test_a_runner_killed_mid_run_leaves_the_others_results_and_an_unknown_share(
    cluster: Cluster, operator, fresh_target
) -> None:
    spec = burst_spec(fresh_target.url, path=f"/sleep/{SERVICE_SECONDS}")
    spec["thresholds"] = ["p95 < 10s", "workers >= 2"]
    await cluster.api.create(LOADTESTS, loadtest("sdxl", spec))

    def runner_1_sent() -> bool:
        sent = {json.loads(a["body"])["n"] for a in fresh_target.record()}
        return set(RUNNER_1) <= sent

    await eventually(runner_1_sent, 30, "runner 1's requests reaching the target")
    pods = await cluster.api.list(PODS, NAMESPACE, "herd.dev/run=sdxl-g1")
    (runner_1,) = [pod for pod in pods if pod["metadata"]["annotations"][INDEX_KEY] == "1"]
    cluster.kubelet.kill(runner_1["metadata"]["name"])
    # The other runners are still waiting for their answers: they end after the loss.
    assert not any(name.startswith("sdxl-g1-") for name in cluster.kubelet.exit_codes)

    async def ended() -> dict:
        status = ((await cluster.api.get(RUNS, NAMESPACE, "sdxl-g1")) or {}).get("status") or {}
        return status if status.get("phase") in ("Succeeded", "Failed") else {}

    status = await eventually(ended, 30, "sdxl-g1 ended")
    codes = sorted(cluster.kubelet.exit_codes.items())
    assert [code for _, code in codes] == [0, 137, 0]  # runners 0 and 2 finished
    assert status["phase"] == "Failed" and status["verdict"] == "inconclusive"
    results = status["results"]
    assert results["runnersReported"] == 2 and results["missingRunners"] == [1]
    requests = results["requests"]
    assert requests == {
        "planned": 30, "sent": 20, "ok": 20, "failed": 0, "neverSent": 0, "unknown": 10
    }  # fmt: skip
    assert results["unknownReasons"] == {"runner_lost": 10}
    # Every call reached the endpoint; herd only knows the fate of runners 0 and 2's.
    assert len(fresh_target.record()) == 30
    assert results["verdict"] == "inconclusive"
    assert results["verdictReason"] == "results missing: runner 1 of 3 did not report"
    assert "runner 1 exited with code 137 (killed (SIGKILL))" in status["message"]
    assert status["runners"] == {
        "total": 3, "pending": 0, "running": 0, "succeeded": 2, "failed": 1
    }  # fmt: skip
    job = await cluster.api.get(JOBS, NAMESPACE, "sdxl-g1")
    assert job["status"]["failedIndexes"] == "1"
    assert job["status"]["conditions"][0]["reason"] == "FailedIndexes"
