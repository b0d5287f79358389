"""A client-limited run in the cluster, as the demo's incident replay: each call uploads
its own object through a pool of 2 slow uploads (moto behind a proxy that slows PUTs),
so the calls trickle out of real runner processes. The run ends inconclusive, the
LoadTest mirrors it, and Argo CD's health check (docs/argocd-health.md, run with Lua on
those very statuses) shows both Degraded with the diagnostic as message."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from herd.demo.services import FAKE_AWS_ENV
from herd_operator.kube import LOADTESTS, RUNS
from tests.conftest import s3_client
from tests.operator.test_argocd_health import LUA, health_and_message
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.loadtests import loadtest
from tests.support.s3_fault_proxy import S3FaultProxy, s3_fault_proxy
from tests.support.staging import BODY, uploads_to

pytestmark = pytest.mark.skipif(LUA is None, reason="no Lua interpreter installed")

REQUESTS = 12


@pytest.fixture
def slow_s3(s3_server) -> Iterator[tuple[S3FaultProxy, str]]:
    bucket = f"herd-e2e-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server.url).create_bucket(Bucket=bucket)
    with s3_fault_proxy(s3_server.url) as proxy:
        proxy.configure(put_delay=0.1)
        yield proxy, bucket


async def test_a_client_limited_run_is_inconclusive_and_argo_cd_shows_it_degraded(
    cluster: Cluster, operator, fresh_target, slow_s3
) -> None:
    proxy, bucket = slow_s3
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": BODY},
        "uploads": uploads_to(proxy.url, bucket, perRequest=1, concurrency=2, mode="inline"),
        "load": {"pattern": "burst", "requests": REQUESTS, "maxDuration": "60s"},
        "thresholds": ["error_rate < 1%"],
        # The stand-in's kubelet passes plain values only; moto's fake keys are no secret.
        "runner": {"env": [{"name": k, "value": v} for k, v in FAKE_AWS_ENV.items()]},
    }
    await cluster.api.create(LOADTESTS, loadtest("replay", spec))

    async def run_finished() -> dict:
        status = ((await cluster.api.get(RUNS, NAMESPACE, "replay-g1")) or {}).get("status") or {}
        return status if status.get("phase") in ("Succeeded", "Failed") else {}

    status = await eventually(run_finished, 45, "replay-g1 finished")
    assert status["phase"] == "Succeeded", status["message"]
    assert len(fresh_target.record()) == REQUESTS == status["results"]["requests"]["ok"]
    assert status["results"]["thresholds"][0]["passed"]  # it held, on a trickle
    assert status["verdict"] == "inconclusive"
    assert "inline_uploads" in status["results"]["selfCheck"]["limitedBy"]
    reason = status["results"]["verdictReason"]
    assert reason.startswith("runner 0: client-limited: calls waited for their own S3 uploads")
    health, message = health_and_message("LoadTestRun", {"status": status})
    assert health == "Degraded" and message.startswith(f"verdict inconclusive ({reason}")

    async def mirrored() -> dict:
        lt = (await cluster.api.get(LOADTESTS, NAMESPACE, "replay")) or {}
        summary = (lt.get("status") or {}).get("summary") or {}
        return lt["status"] if summary.get("verdict") else {}

    parent = await eventually(mirrored, 15, "the LoadTest mirrors its run")
    assert parent["summary"]["verdict"] == "inconclusive"
    health, message = health_and_message("LoadTest", {"status": parent})
    assert health == "Degraded"
    assert message == f"inconclusive: {parent['summary']['verdictReason']}"
    assert parent["summary"]["verdictReason"] == reason
