"""A cluster run with a results store (moto): real runners write their full reports, the
merge Job (run by the tests' kubelet like any pod) merges them exactly, and the run's
status carries the merged numbers and points at merged.json and report.html."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

from herd.demo.services import FAKE_AWS_ENV
from herd_operator.kube import JOBS, LOADTESTS, PODS, RUNS
from tests.conftest import s3_client
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.controllers import INDEX_KEY
from tests.operator_e2e.loadtests import burst_spec, loadtest

REQUESTS = 40  # one burst, each call held long enough that all 40 overlap: 40 workers


def stored_spec(url: str, s3_url: str, bucket: str, sleep: float = 1.0) -> dict:
    spec = burst_spec(url, requests=REQUESTS, path=f"/sleep/{sleep}")
    spec["thresholds"] = ["p95 < 10s", "workers >= 2"]
    spec["selfCheck"] = {"ignore": ["burst_spread", "peak_in_flight"]}
    spec["results"] = {"s3": {"bucket": bucket, "prefix": "runs/", "endpoint": s3_url}}
    spec["runner"] = {"env": [{"name": k, "value": v} for k, v in FAKE_AWS_ENV.items()]}
    return spec


async def test_a_runner_killed_mid_run_is_named_in_the_merge_and_its_share_unknown(
    cluster: Cluster, operator, fresh_target, s3_server
) -> None:
    bucket = f"herd-e2e-{uuid.uuid4().hex[:12]}"
    s3 = s3_client(s3_server.url)
    s3.create_bucket(Bucket=bucket)
    spec = stored_spec(fresh_target.url, s3_server.url, bucket, sleep=2.0)
    await cluster.api.create(LOADTESTS, loadtest("lossy", spec))
    runner_1 = range(14, 27)  # 40 over 3 runners: 14, 13, 13

    def runner_1_sent() -> bool:
        sent = {json.loads(a["body"])["n"] for a in fresh_target.record()}
        return set(runner_1) <= sent

    await eventually(runner_1_sent, 30, "runner 1's requests reaching the target")
    pods = await cluster.api.list(PODS, NAMESPACE, "herd.dev/run=lossy-g1")
    (pod,) = [
        p
        for p in pods
        if p["metadata"].get("annotations", {}).get(INDEX_KEY) == "1"
        and p["metadata"]["labels"].get("app.kubernetes.io/component") == "runner"
    ]
    cluster.kubelet.kill(pod["metadata"]["name"])

    async def ended() -> dict:
        status = ((await cluster.api.get(RUNS, NAMESPACE, "lossy-g1")) or {}).get("status") or {}
        return status if status.get("phase") in ("Succeeded", "Failed") else {}

    status = await eventually(ended, 60, "lossy-g1 ended")
    results = status["results"]
    assert results["source"] == "store", results.get("diagnostics")
    assert results["missingRunners"] == [1] and results["runnersReported"] == 2
    assert results["requests"]["unknown"] == 13 and results["requests"]["ok"] == 27
    assert results["verdictReason"] == "results missing: runner 1 of 3 did not report"
    assert status["verdict"] == "inconclusive"
    prefix = f"runs/{NAMESPACE}/lossy/lossy-g1/"
    merged = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "merged.json")["Body"].read())
    assert merged["requests"]["unknown"] == 13 and merged["unknown_reasons"] == {"runner_lost": 13}
    assert merged["verdict"] == "inconclusive"


async def test_a_stored_run_is_merged_exactly_and_status_points_at_it(
    cluster: Cluster, operator, fresh_target, s3_server, tmp_path
) -> None:
    bucket = f"herd-e2e-{uuid.uuid4().hex[:12]}"
    s3 = s3_client(s3_server.url)
    s3.create_bucket(Bucket=bucket)
    spec = burst_spec(fresh_target.url, requests=REQUESTS, path="/sleep/1")
    spec["thresholds"] = ["p95 < 10s", "workers >= 2"]
    # A loaded test machine may spread the burst; that finding is not what this tests.
    spec["selfCheck"] = {"ignore": ["burst_spread", "peak_in_flight"]}
    spec["results"] = {"s3": {"bucket": bucket, "prefix": "runs/", "endpoint": s3_server.url}}
    # The stand-in's kubelet passes plain values only; moto's fake keys are no secret.
    spec["runner"] = {"env": [{"name": k, "value": v} for k, v in FAKE_AWS_ENV.items()]}
    await cluster.api.create(LOADTESTS, loadtest("stored", spec))

    async def ended() -> dict:
        status = ((await cluster.api.get(RUNS, NAMESPACE, "stored-g1")) or {}).get("status") or {}
        return status if status.get("phase") in ("Succeeded", "Failed") else {}

    status = await eventually(ended, 60, "stored-g1 ended")
    assert await cluster.api.get(JOBS, NAMESPACE, "stored-g1-merge") is not None
    results = status["results"]
    assert results["source"] == "store", results.get("diagnostics")
    base = f"s3://{bucket}/runs/{NAMESPACE}/stored/stored-g1/"
    assert (results["report"], results["html"]) == (base + "merged.json", base + "report.html")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    prefix = f"runs/{NAMESPACE}/stored/stored-g1/"
    expected = {prefix + f"runner-{i}.json" for i in range(3)}
    assert expected | {prefix + "merged.json", prefix + "report.html"} <= keys
    merged = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "merged.json")["Body"].read())
    arrivals = fresh_target.record()
    assert len(arrivals) == REQUESTS == merged["requests"]["ok"] == results["requests"]["ok"]
    served: dict[str, int] = {}
    for arrival in arrivals:
        served[arrival["worker"]] = served.get(arrival["worker"], 0) + 1
    assert merged["workers"]["requests"] == served and len(served) == 40
    assert results["workers"]["distinct"] == 40
    assert status["phase"] == "Succeeded" and status["verdict"] == "passed", status["message"]

    # herd report ltr/RUN: the location from status (current kubeconfig), then the report.
    html = tmp_path / "stored.html"
    env = {**os.environ, **FAKE_AWS_ENV, "AWS_ENDPOINT_URL_S3": s3_server.url}
    env["KUBECONFIG"] = str(cluster.kubeconfig)
    command = [sys.executable, "-m", "herd.cli", "report", "ltr/stored-g1", "--html", str(html)]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert "passed" in out.decode() and str(REQUESTS) in out.decode()
    assert html.read_text().lstrip().lower().startswith("<!doctype html")
