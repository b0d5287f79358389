"""limits.maxActiveRunsPerNamespace end to end: with one slot, a second LoadTest's run waits
(Pending, WaitingForCapacity, an Event) with no Job until the first run ends, then runs
with a synchronized start of its own."""

from __future__ import annotations

from datetime import timedelta

from herd_operator.caps import Caps
from herd_operator.kube import JOBS, LOADTESTS, RUNS, Resource
from herd_operator.objects import parse_time
from herd_operator.settings import RunnerSettings
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, STARTUP_ALLOWANCE, Cluster, operator_options
from tests.operator_e2e.loadtests import burst_spec, loadtest
from tests.operator_e2e.operators import running_operator

EVENTS = Resource("", "v1", "events")


async def test_a_run_beyond_the_namespaces_cap_waits_for_a_slot(
    cluster: Cluster, fresh_target
) -> None:
    runner = RunnerSettings(
        startup_allowance_seconds=STARTUP_ALLOWANCE, caps=Caps(max_active_runs_per_namespace=1)
    )
    slow = burst_spec(fresh_target.url, requests=4, parallelism=1, path="/sleep/2")
    quick = burst_spec(fresh_target.url, requests=4, parallelism=1)
    async with running_operator(operator_options(runner=runner)):
        await cluster.api.create(LOADTESTS, loadtest("first", slow))
        await eventually(
            lambda: cluster.api.get(JOBS, NAMESPACE, "first-g1"), 15, "the first run's Job"
        )
        await cluster.api.create(LOADTESTS, loadtest("second", quick))

        async def waiting() -> dict:
            run = await cluster.api.get(RUNS, NAMESPACE, "second-g1")
            status = (run or {}).get("status") or {}
            reasons = {condition["reason"] for condition in status.get("conditions", [])}
            return status if "WaitingForCapacity" in reasons else {}

        status = await eventually(waiting, 15, "the second run waiting for a slot")
        assert status["phase"] == "Pending"
        assert status["message"].endswith(
            "the operator allows 1 at once (limits.maxActiveRunsPerNamespace)"
        )
        first = (await cluster.api.get(RUNS, NAMESPACE, "first-g1"))["status"]
        assert first["phase"] not in ("Succeeded", "Failed")  # it really waits for the first
        assert await cluster.api.get(JOBS, NAMESPACE, "second-g1") is None
        events = await cluster.api.list(EVENTS, NAMESPACE)
        (event,) = [e for e in events if e["reason"] == "WaitingForCapacity"]
        assert event["type"] == "Normal" and event["involvedObject"]["name"] == "second-g1"

        async def finished(name: str) -> dict:
            async def check() -> dict:
                status = ((await cluster.api.get(RUNS, NAMESPACE, name)) or {}).get("status")
                return status if (status or {}).get("phase") in ("Succeeded", "Failed") else {}

            return await eventually(check, 30, f"{name} finished")

        first, second = await finished("first-g1"), await finished("second-g1")
        second_job = await cluster.api.get(JOBS, NAMESPACE, "second-g1")
    assert first["phase"] == second["phase"] == "Succeeded", (first, second)
    assert second["results"]["requests"]["ok"] == 4
    assert len(fresh_target.record()) == 8
    # The second run's runners were created only once the first had finished, and got the
    # whole startup allowance from then: a release time counted from its creation would
    # have passed while it waited.
    created = parse_time(second_job["metadata"]["creationTimestamp"])
    assert created >= parse_time(first["completionTime"])
    release = parse_time(second["releaseTime"])
    assert (release - created).total_seconds() >= STARTUP_ALLOWANCE - 1  # whole seconds
    run = await cluster.api.get(RUNS, NAMESPACE, "second-g1")
    waited_from = parse_time(run["metadata"]["creationTimestamp"])
    assert release >= waited_from + timedelta(seconds=STARTUP_ALLOWANCE + 1)
