"""``herd operator`` as the chart runs it: the caps and the runners' default Pushgateway come
from its environment (``HERD_MAX_*``, ``HERD_RUNNER_PUSHGATEWAY``), a LoadTest over a cap is
refused with a status naming the field, and one within the caps runs. The caps hold whatever
the pattern: an open loop's derived in-flight bound, and a closed loop only time bounds."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from click.testing import CliRunner

from herd.cli.main import cli
from herd_operator.caps import Caps
from herd_operator.kube import JOBS, LOADTESTS, RUNS, Resource
from herd_operator.settings import RunnerSettings
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, STARTUP_ALLOWANCE, Cluster, operator_options
from tests.operator_e2e.loadtests import burst_spec, loadtest
from tests.operator_e2e.operators import running_operator, start_operator_process

EVENTS = Resource("", "v1", "events")

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
        # only the run within the caps (its status may change between two reads)
        runs = await cluster.api.list(RUNS, NAMESPACE)
        assert [run["metadata"]["name"] for run in runs] == ["fits-g1"]
    finally:
        operator.stop()
    assert "HERD_MAX_CONCURRENCY=20" in log.read_text()  # says at startup what it enforces


def test_a_bad_cap_stops_the_operator_before_it_starts(monkeypatch) -> None:
    monkeypatch.setenv("HERD_MAX_RATE", "fast")
    result = CliRunner().invoke(cli, ["operator", "--all-namespaces"])
    assert result.exit_code == 2
    assert "HERD_MAX_RATE='fast' is not a valid number or duration" in result.output


async def test_an_open_loop_over_the_in_flight_cap_it_derives_is_refused_before_any_job(
    cluster: Cluster, target
) -> None:
    runner = RunnerSettings(
        startup_allowance_seconds=STARTUP_ALLOWANCE, caps=Caps(max_concurrency=1000)
    )
    # The case: rate 500 and no maxInFlight, 10,000 in flight per runner.
    spec = burst_spec(target.url, parallelism=1) | {
        "load": {"pattern": "rate", "rate": 500, "duration": "10s"}
    }
    async with running_operator(operator_options(runner=runner)):
        await cluster.api.create(LOADTESTS, loadtest("open", spec))

        async def refused() -> dict:
            status = ((await cluster.api.get(LOADTESTS, NAMESPACE, "open")) or {}).get("status")
            return status if (status or {}).get("phase") == "Invalid" else {}

        status = await eventually(refused, 15, "the open loop Invalid")
        events = await eventually(
            lambda: cluster.api.list(EVENTS, NAMESPACE), 10, "the InvalidSpec Event"
        )
        await asyncio.sleep(1.0)
    assert status["message"].startswith("spec.load.maxInFlight (unset")
    assert "10000 in flight is over the operator's cap of 1000" in status["message"]
    (event,) = [e for e in events if e["reason"] == "InvalidSpec"]
    assert "limits.maxConcurrency" in event["message"]
    assert cluster.requests_to("POST", "/jobs") == []


async def test_a_time_bound_closed_loop_stops_at_the_request_cap(
    cluster: Cluster, fresh_target
) -> None:
    runner = RunnerSettings(startup_allowance_seconds=STARTUP_ALLOWANCE, caps=Caps(max_requests=13))
    spec = burst_spec(fresh_target.url, parallelism=2) | {
        "load": {"pattern": "concurrency", "concurrency": 4, "duration": "30s"},
        "thresholds": ["error_rate < 1%"],
    }
    started = time.monotonic()
    async with running_operator(operator_options(runner=runner)):
        await cluster.api.create(LOADTESTS, loadtest("loop", spec))

        async def finished() -> dict:
            status = ((await cluster.api.get(RUNS, NAMESPACE, "loop-g1")) or {}).get("status")
            return status if (status or {}).get("phase") in ("Succeeded", "Failed") else {}

        status = await eventually(finished, 45, "the closed loop finished")
    elapsed = time.monotonic() - started
    assert status["phase"] == "Succeeded", status["message"]
    results = status["results"]
    assert results["requests"]["sent"] == 13 and results["requests"]["neverSent"] == 0
    assert results["stopped"] == "max_requests"
    assert len(fresh_target.record()) == 13  # what the endpoint saw: the cap, all runners
    assert elapsed < 30  # ended at the cap, not after the loop's 30 s
