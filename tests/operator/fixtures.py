"""Objects as the API server would hand them to the operator, and runner reports."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from herd.api.report import (
    Client,
    Concurrency,
    Percentiles,
    Report,
    Requests,
    SelfCheck,
    Timeline,
    Workers,
)
from herd.engine.histogram import Histogram
from herd.results.summary import termination_message
from herd_operator.job import build_runner_job
from herd_operator.objects import read_run, rfc3339

CREATED = datetime(2030, 5, 4, 12, 0, 0, tzinfo=UTC)
NAMESPACE = "perf"

MINIMAL_SPEC: dict[str, Any] = {
    "target": {"url": "https://endpoint.example/generate", "body": "{}"},
    "load": {"pattern": "burst", "requests": 30},
    "thresholds": ["p95 < 2s", "error_rate < 1%", "workers >= 2"],
    "parallelism": 3,
}

FULL_SPEC: dict[str, Any] = {
    "target": {
        "url": "https://ENDPOINT.api.runpod.ai/generate",
        "headers": {"Authorization": "Bearer ${RUNPOD_API_KEY}"},
        "body": '{"input": {"request": {{ request.index }}}}',
        "timeout": "150s",
    },
    "uploads": {
        "endpoint": "https://s3api-eu-ro-1.runpod.io",
        "region": "eu-ro-1",
        "bucket": "my-bucket",
        "perRequest": 3,
        "source": {"synthetic": {"sizeBytes": 524288}},
        "concurrency": 16,
    },
    "load": {"pattern": "burst", "requests": 30, "maxDuration": "10m"},
    "thresholds": ["p95 < 2s", "error_rate < 1%", "workers >= 2"],
    "parallelism": 3,
    "schedule": {
        "cron": "0 3 * * *",
        "timeZone": "Europe/Bucharest",
        "concurrencyPolicy": "Replace",
        "successfulRunsHistoryLimit": 5,
        "failedRunsHistoryLimit": 2,
        "startingDeadlineSeconds": 600,
    },
    "runner": {
        "image": "registry.example/herd:1.2.3",
        "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "nodeSelector": {"pool": "load"},
        "tolerations": [{"key": "load", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "herd"}},
                        },
                    }
                ]
            }
        },
        "serviceAccountName": "herd-runner",
        "env": [
            {
                "name": "RUNPOD_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": "runpod", "key": "api-key"}},
            },
            {"name": "AWS_REGION", "value": "eu-ro-1"},
        ],
        "envFrom": [{"secretRef": {"name": "s3-credentials"}}],
    },
    "ttlSecondsAfterFinished": 3600,
    "metrics": {"pushgateway": "http://pushgateway.monitoring:9091"},
}


def loadtest(spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    metadata = {
        "name": "sdxl-burst",
        "namespace": NAMESPACE,
        "uid": "lt-uid-1",
        "generation": 1,
        "creationTimestamp": rfc3339(CREATED),
        **meta,
    }
    return {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": metadata,
        "spec": copy.deepcopy(spec if spec is not None else MINIMAL_SPEC),
    }


def run_body(
    spec: dict[str, Any] | None = None,
    name: str = "sdxl-burst-g1",
    status: dict[str, Any] | None = None,
    created: datetime = CREATED,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTestRun",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"{name}-uid",
            "generation": 1,
            "creationTimestamp": rfc3339(created),
            "labels": {"herd.dev/loadtest": "sdxl-burst"},
        },
        "spec": {
            "loadTestName": "sdxl-burst",
            "trigger": "apply",
            "loadTest": copy.deepcopy(spec if spec is not None else MINIMAL_SPEC),
        },
    }
    if status is not None:
        body["status"] = status
    return body


def report(
    runner: int = 0,
    runners: int = 3,
    latencies: list[float] | None = None,
    failed: int = 0,
    never_sent: int = 0,
    unknown: int = 0,
    workers: dict[str, int] | None = None,
    errors: dict[str, int] | None = None,
    started_at: datetime = CREATED + timedelta(seconds=1),
    duration: float = 10.0,
    burst_spread: float | None = 0.01,
    diagnostics: list[str] | None = None,
    limited_by: list[str] | None = None,
    ignored: list[str] | None = None,
) -> Report:
    """A runner's report with a real latency histogram of ``latencies``; ``diagnostics``
    make it client-limited (by ``limited_by``), ``ignored`` names rules the spec ignores."""
    values = latencies if latencies is not None else [0.5 + 0.01 * i for i in range(10)]
    histogram = Histogram()
    for value in values:
        histogram.record(value)
    summary = histogram.summary()
    ok = len(values) - failed
    workers = workers if workers is not None else {f"worker-{runner}": ok}
    return Report(
        herd_version="test",
        loadtest="sdxl-burst",
        namespace=NAMESPACE,
        run_id="sdxl-burst-g1",
        runner=runner,
        runners=runners,
        started_at=started_at.isoformat(),
        pattern="burst",
        target="https://endpoint.example/generate",
        duration_seconds=duration,
        throughput_rps=len(values) / duration,
        requests=Requests(
            planned=len(values) + never_sent + unknown,
            sent=len(values),
            ok=ok,
            failed=failed,
            never_sent=never_sent,
            unknown=unknown,
        ),
        errors=errors if errors is not None else ({"http_503": failed} if failed else {}),
        never_sent_reasons={"SIGTERM": never_sent} if never_sent else {},
        unknown_reasons={"process_lost": unknown} if unknown else {},
        status_codes={},
        latency_seconds=Percentiles(**summary) if summary else None,
        service_time_seconds=None,
        ttfb_seconds=None,
        queue_delay_seconds=None,
        execution_seconds=None,
        concurrency=Concurrency(
            target=len(values), peak_in_flight=len(values), burst_spread_seconds=burst_spread
        ),
        workers=Workers(
            distinct=len(workers),
            requests=workers,
            first_seen_seconds={},
            time_to_workers_seconds={},
        ),
        uploads=None,
        scaling_probe=None,
        client=Client(
            scheduling_lag_seconds=None,
            pool_wait_seconds=None,
            pool_waits=0,
            event_loop_lag_seconds=None,
            cpu_utilization=0.1,
            pool_size=10,
        ),
        thresholds=[],
        verdict="passed",
        client_limited=bool(diagnostics),
        self_check=SelfCheck(limited_by=limited_by or [], ignored=ignored or []),
        diagnostics=diagnostics or [],
        stopped=None,
        timeline=Timeline(bucket_seconds=1.0, buckets=[]),
        histograms={"latency": histogram.encode()},
    )


def spread_latencies(count: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(0.3, 0.6) for _ in range(count)]


# -- what the Job controller and kubelet would show ------------------------------


def job_for(run: dict[str, Any], conditions: list[dict[str, Any]] | None = None) -> dict:
    job = build_runner_job(read_run(run))
    job["metadata"]["uid"] = "job-uid"
    job["status"] = {"startTime": rfc3339(CREATED + timedelta(seconds=2))}
    if conditions:
        job["status"]["conditions"] = conditions
        job["status"]["completionTime"] = rfc3339(CREATED + timedelta(minutes=2))
    return job


def job_condition(kind: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": kind, "status": "True", "reason": reason, "message": message}


def pod(
    index: int,
    state: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    run_name: str = "sdxl-burst-g1",
) -> dict[str, Any]:
    """A runner pod; ``state`` is the runner container's state (waiting/running/terminated)."""
    status: dict[str, Any] = {"phase": "Pending", "conditions": conditions or []}
    if state is not None:
        status["containerStatuses"] = [{"name": "runner", "state": state}]
        if "running" in state:
            status["phase"] = "Running"
        if "terminated" in state:
            code = state["terminated"].get("exitCode")
            status["phase"] = "Succeeded" if code == 0 else "Failed"
    return {
        "metadata": {
            "name": f"{run_name}-{index}-abcde",
            "creationTimestamp": rfc3339(CREATED + timedelta(seconds=3)),
            "annotations": {"batch.kubernetes.io/job-completion-index": str(index)},
        },
        "status": status,
    }


RUNNING = {"running": {"startedAt": rfc3339(CREATED + timedelta(seconds=5))}}


def finished(index: int, runners: int = 3, **report_args: Any) -> dict[str, Any]:
    """A runner pod that exited 0 with its summary as termination message."""
    message = termination_message(report(index, runners, **report_args))
    return pod(index, {"terminated": {"exitCode": 0, "reason": "Completed", "message": message}})


def exited(index: int, code: int, reason: str = "Error", message: str = "") -> dict[str, Any]:
    return pod(index, {"terminated": {"exitCode": code, "reason": reason, "message": message}})


def waiting(index: int, reason: str, message: str = "") -> dict[str, Any]:
    return pod(index, {"waiting": {"reason": reason, "message": message}})


def unschedulable(index: int) -> dict[str, Any]:
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu.",
    }
    return pod(index, conditions=[condition])
