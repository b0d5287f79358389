"""The operator-wide policy end to end: a LoadTest the policy refuses gets an Invalid status
and a Warning Event naming the field and the policy, and no Job is ever created; a target
that only DNS reveals as denied is refused by the runner itself (real ``herd run``
processes), and the run's status says why."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from herd_operator.kube import CONFIGMAPS, JOBS, LOADTESTS, RUNS, Resource
from herd_operator.policy import DEFAULT_POLICY, api_server_rules
from herd_operator.settings import DEFAULT_RUNNER_IMAGE, RunnerSettings
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, STARTUP_ALLOWANCE, Cluster, operator_options
from tests.operator_e2e.loadtests import burst_spec, loadtest
from tests.operator_e2e.operators import running_operator, start_operator_process

EVENTS = Resource("", "v1", "events")


def with_runner(url: str, **runner) -> dict:
    return burst_spec(url) | {"runner": runner}


def with_target(url: str) -> dict:
    return burst_spec(url) | {"target": {"url": url, "body": "{}"}}


@pytest.fixture
async def strict_operator(cluster: Cluster):
    """The operator with the chart's default policy, as `herd operator` enforces it."""
    policy = DEFAULT_POLICY.effective(DEFAULT_RUNNER_IMAGE, api_server_rules(cluster.url, {}))
    runner = RunnerSettings(startup_allowance_seconds=STARTUP_ALLOWANCE, policy=policy)
    async with running_operator(operator_options(runner=runner)) as running:
        yield running


async def invalid_status(cluster: Cluster, name: str) -> dict:
    async def check() -> dict:
        status = ((await cluster.api.get(LOADTESTS, NAMESPACE, name)) or {}).get("status") or {}
        return status if status.get("phase") == "Invalid" else {}

    return await eventually(check, 15, f"{name} Invalid")


@pytest.mark.parametrize(
    ("make_spec", "field", "policy_value"),
    [
        (
            lambda url: with_runner(url, serviceAccountName="cluster-admin"),
            "spec.runner.serviceAccountName",
            "policy.runnerFields.serviceAccountName: false",
        ),
        (
            lambda url: with_runner(url, image="attacker.example/miner:1"),
            "spec.runner.image",
            f"policy.runnerImages: {DEFAULT_RUNNER_IMAGE}",
        ),
        (
            lambda url: with_runner(url, tolerations=[{"operator": "Exists"}]),
            "spec.runner.tolerations",
            "policy.runnerFields.tolerations: false",
        ),
        (
            lambda _: with_target("http://169.254.169.254/latest/meta-data/"),
            "spec.target.url",
            "policy.targets.deny",
        ),
    ],
)
async def test_a_loadtest_the_policy_refuses_is_invalid_with_an_event_and_no_job(
    cluster: Cluster, strict_operator, target, make_spec, field: str, policy_value: str
) -> None:
    await cluster.api.create(LOADTESTS, loadtest("refused", make_spec(target.url)))
    status = await invalid_status(cluster, "refused")
    assert status["message"].startswith(f"{field}:") and policy_value in status["message"]

    async def warning() -> list:
        events = await cluster.api.list(EVENTS, NAMESPACE)
        return [event for event in events if event["reason"] == "InvalidSpec"]

    (event,) = await eventually(warning, 10, "an InvalidSpec Event")
    assert event["type"] == "Warning" and event["involvedObject"]["name"] == "refused"
    assert field in event["message"] and policy_value in event["message"]
    await asyncio.sleep(1.0)  # a few more reconciles: still nothing is started
    for resource in (RUNS, JOBS, CONFIGMAPS):
        assert await cluster.api.list(resource, NAMESPACE) == []
    assert cluster.requests_to("POST", "/jobs") == []  # never even tried


async def test_a_run_created_by_hand_is_held_to_the_policy(
    cluster: Cluster, strict_operator, target
) -> None:
    run = {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTestRun",
        "metadata": {"name": "by-hand", "namespace": NAMESPACE},
        "spec": {"loadTest": with_runner(target.url, serviceAccountName="cluster-admin")},
    }
    await cluster.api.create(RUNS, run)

    async def invalid() -> dict:
        status = ((await cluster.api.get(RUNS, NAMESPACE, "by-hand")) or {}).get("status") or {}
        return status if status.get("phase") == "Invalid" else {}

    status = await eventually(invalid, 15, "the run Invalid")
    assert status["message"].startswith("spec.loadTest.runner.serviceAccountName:")
    await asyncio.sleep(1.0)
    assert cluster.requests_to("POST", "/jobs") == []


async def test_runners_refuse_a_target_that_resolves_to_a_denied_address(
    cluster: Cluster, fresh_target, tmp_path: Path
) -> None:
    # As the chart runs it: the policy comes from HERD_POLICY. `localhost` passes admission
    # (a name the deny list does not name); only the runners, resolving it, can tell.
    port = fresh_target.url.rsplit(":", 1)[1]
    denied = [*DEFAULT_POLICY.targets.deny, "127.0.0.0/8", "::1/128"]
    env = {"HERD_POLICY": json.dumps({"targets": {"deny": denied}})}
    operator = start_operator_process(
        cluster.kubeconfig, STARTUP_ALLOWANCE, tmp_path / "operator.log", env
    )
    try:
        await operator.wait_ready()
        spec = burst_spec(f"http://localhost:{port}", requests=6, parallelism=2)
        await cluster.api.create(LOADTESTS, loadtest("rebinding", spec))

        async def failed() -> dict:
            run = await cluster.api.get(RUNS, NAMESPACE, "rebinding-g1")
            status = (run or {}).get("status") or {}
            return status if status.get("phase") == "Failed" else {}

        status = await eventually(failed, 45, "the run Failed")
    finally:
        operator.stop()
    message = status["message"]
    assert "exited with code 2 (invalid spec)" in message, message
    assert "spec.target.url: host localhost is refused by the runner's target policy" in message
    assert "127.0.0.1 is in 127.0.0.0/8, which is denied" in message
    assert fresh_target.record() == []  # not one request reached the endpoint
    log = (tmp_path / "operator.log").read_text()
    assert "policy: runner images" in log and "127.0.0.0/8" in log  # said at startup


def test_a_bad_policy_stops_the_operator_before_it_starts(monkeypatch) -> None:
    from click.testing import CliRunner

    from herd.cli.main import cli

    monkeypatch.setenv("HERD_POLICY", '{"runnerFields": {"serviceAccount": true}}')
    result = CliRunner().invoke(cli, ["operator", "--all-namespaces"])
    assert result.exit_code == 2
    assert "HERD_POLICY is not a valid policy: runnerFields.serviceAccount" in result.output
