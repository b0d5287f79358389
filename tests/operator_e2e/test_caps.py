"""``herd operator`` as the chart runs it: the caps and the runners' default Pushgateway come
from its environment (``HERD_MAX_*``, ``HERD_RUNNER_PUSHGATEWAY``), a LoadTest over a cap is
refused with a status naming the field, and one within the caps runs."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from herd.cli.main import cli
from herd_operator.kube import JOBS, LOADTESTS, RUNS
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, STARTUP_ALLOWANCE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest
from tests.operator_e2e.operators import start_operator_process

PUSHGATEWAY = "http://pushgateway.monitoring.svc:9091"


async def test_the_operator_enforces_the_caps_in_its_environment(
    cluster: Cluster, target, tmp_path: Path
) -> None:
    cluster.kubelet.paused = True  # the runs need not finish here
    env = {"HERD_MAX_CONCURRENCY": "20", "HERD_RUNNER_PUSHGATEWAY": PUSHGATEWAY}
    log = tmp_path / "operator.log"
    operator = start_operator_process(cluster.kubeconfig, STARTUP_ALLOWANCE, log, env)
    try:
        await operator.wait_ready()
        await cluster.api.create(LOADTESTS, loadtest("typo", burst_spec(target.url, 3000)))
        await cluster.api.create(LOADTESTS, loadtest("fits", burst_spec(target.url, 20)))

        async def phase_of(name: str) -> dict:
            obj = await cluster.api.get(LOADTESTS, NAMESPACE, name)
            return (obj or {}).get("status") or {}

        async def refused() -> dict:
            status = await phase_of("typo")
            return status if status.get("phase") == "Invalid" else {}

        status = await eventually(refused, 15, "the LoadTest over the cap Invalid")
        assert status["message"] == (
            "spec.load.requests (a burst sends them all at once): 3000 in flight is over "
            "the operator's cap of 20 (limits.maxConcurrency)"
        )
        job = await eventually(
            lambda: cluster.api.get(JOBS, NAMESPACE, "fits-g1"), 15, "the runner Job within caps"
        )
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--pushgateway") + 1] == PUSHGATEWAY
        assert await cluster.api.list(RUNS, NAMESPACE) == [
            await cluster.api.get(RUNS, NAMESPACE, "fits-g1")
        ]
    finally:
        operator.stop()
    assert "HERD_MAX_CONCURRENCY=20" in log.read_text()  # says at startup what it enforces


def test_a_bad_cap_stops_the_operator_before_it_starts(monkeypatch) -> None:
    monkeypatch.setenv("HERD_MAX_RATE", "fast")
    result = CliRunner().invoke(cli, ["operator", "--all-namespaces"])
    assert result.exit_code == 2
    assert "HERD_MAX_RATE='fast' is not a valid number or duration" in result.output
