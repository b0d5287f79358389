"""Pushing to a real Pushgateway (Debian's ``prometheus-pushgateway``) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prometheus_client.registry import CollectorRegistry

from herd.demo.services import free_port
from herd.engine.run import LoadRun, RunOptions
from herd.engine.schedule import Share
from herd.metrics import MetricsSettings, PushSettings, delete_group, exporting
from tests.conftest import loadtest
from tests.metrics.conftest import MIXED_BODY
from tests.metrics.servers import pushgateway, scrape

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(60)]

# Issue 4's metrics, as sample names (histograms by their _count).
CONTRACT = (
    "herd_requests_total",
    "herd_request_duration_seconds_count",
    "herd_requests_in_flight",
    "herd_target_concurrency",
    "herd_requests_never_sent_total",
    "herd_workers_observed",
    "herd_worker_requests_total",
    "herd_worker_first_seen_seconds",
    "herd_uploads_total",
    "herd_upload_bytes_total",
    "herd_upload_duration_seconds_count",
    "herd_uploads_in_flight",
    "herd_pool_wait_seconds_count",
    "herd_event_loop_lag_seconds_count",
    "herd_scheduling_lag_seconds_count",
    "herd_endpoint_workers",
    "herd_endpoint_jobs",
    "herd_run_info",
    "herd_run_verdict",
    "herd_threshold_passed",
)

# Request 5's body refers to an undefined variable: one never-sent request.
BODY_WITH_ONE_TEMPLATE_ERROR = (
    MIXED_BODY[:-1] + '{% if request.index == 5 %}, "x": {{ undefined }}{% endif %}}'
)


@pytest.fixture
def gateway(tmp_path):
    with pushgateway(tmp_path) as server:
        yield server


def full_spec(echo_url: str, s3_url: str, bucket: str) -> dict:
    """Everything that has a metric: mixed outcomes, uploads, the probe, thresholds."""
    return {
        "target": {
            "url": f"{echo_url}/answer",
            "body": BODY_WITH_ONE_TEMPLATE_ERROR,
            "timeout": "300ms",
        },
        "uploads": {
            "endpoint": s3_url,
            "region": "us-east-1",
            "bucket": bucket,
            "perRequest": 1,
            "source": {"synthetic": {"sizeBytes": 2048}},
            "concurrency": 4,
            "cleanup": False,
        },
        "load": {"pattern": "concurrency", "concurrency": 6, "requests": 30},
        "scalingProbe": {"url": f"{echo_url}/health", "interval": "100ms"},
        "thresholds": ["p95 < 2s", "error_rate < 1%"],
    }


async def execute_pushing(load_run: LoadRun, push: PushSettings, registry=None):
    registry = registry if registry is not None else CollectorRegistry()
    async with exporting(load_run, MetricsSettings(push=push), registry) as metrics:
        report = await load_run.execute()
        metrics.finish(report)
    return report, registry


def group_samples(gateway_url: str, run: str) -> list:
    return [
        sample
        for samples in scrape(f"{gateway_url}/metrics").values()
        for sample in samples
        if sample.labels.get("run") == run
    ]


async def test_the_final_push_leaves_every_metric_in_the_pushgateway(
    gateway, echo, s3_server, bucket
):
    run_id = "push-test-run"
    load_run = LoadRun(
        loadtest(full_spec(echo.url, s3_server.url, bucket), name="pushed"),
        RunOptions(run_id=run_id, handle_signals=False),
    )
    report, _ = await execute_pushing(load_run, PushSettings(gateway.url, interval=0.2))

    samples = [s for s in group_samples(gateway.url, run_id) if s.name.startswith("herd_")]
    names = {sample.name for sample in samples}
    assert set(CONTRACT) <= names, set(CONTRACT) - names
    for sample in samples:  # the grouping key and the run's identity on every series
        assert sample.labels["job"] == "herd"
        assert sample.labels["runner"] == "0"
        assert sample.labels["loadtest"] == "pushed"
        assert sample.labels["namespace"] == "default"
    sent = sum(s.value for s in samples if s.name == "herd_requests_total")
    assert sent == report.requests.sent == 29
    never_sent = {
        s.labels["reason"]: s.value for s in samples if s.name == "herd_requests_never_sent_total"
    }
    assert never_sent == {"template_error": 1}
    verdict = {s.labels["verdict"]: s.value for s in samples if s.name == "herd_run_verdict"}
    assert verdict == {"passed": 0.0, "failed": 1.0, "inconclusive": 0.0}
    assert report.verdict == "failed", report.diagnostics
    # Pushed during the run too, not only at the end.
    pushes = {s.labels["result"]: s.value for s in samples if s.name == "herd_metrics_pushes_total"}
    assert pushes["ok"] >= 2 and pushes["failed"] == 0


async def test_each_runner_has_its_own_group_and_delete_removes_one(gateway, echo):
    spec = {
        "target": {"url": f"{echo.url}/answer", "body": '{"sleep": 0.02}'},
        "load": {"pattern": "burst", "requests": 21},
    }
    runs = [
        LoadRun(
            loadtest(spec, name="split"),
            RunOptions(run_id="team a/run 1", share=Share(index, 2), handle_signals=False),
        )
        for index in range(2)
    ]
    reports = await asyncio.gather(
        *(execute_pushing(run, PushSettings(gateway.url, interval=5)) for run in runs)
    )

    samples = group_samples(gateway.url, "team a/run 1")  # a run id needing base64 in the URL
    by_runner: dict[str, float] = {}
    for sample in samples:
        if sample.name == "herd_requests_total":
            by_runner[sample.labels["runner"]] = by_runner.get(sample.labels["runner"], 0) + (
                sample.value
            )
    assert by_runner == {"0": 11, "1": 10}
    assert sum(by_runner.values()) == sum(report.requests.sent for report, _ in reports) == 21

    assert await delete_group(gateway.url, {"run": "team a/run 1", "runner": "0"})
    left = {s.labels["runner"] for s in group_samples(gateway.url, "team a/run 1")}
    assert left == {"1"}


async def test_an_unreachable_pushgateway_is_counted_and_logged_never_fatal(echo, caplog):
    closed = free_port()
    load_run = LoadRun(
        loadtest(
            {
                "target": {"url": f"{echo.url}/answer", "body": "{}"},
                "load": {"pattern": "burst", "requests": 5},
            }
        ),
        RunOptions(handle_signals=False),
    )
    settings = PushSettings(f"http://127.0.0.1:{closed}", interval=0.1, timeout=0.5)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="herd.metrics.pushing"):
        report, registry = await execute_pushing(load_run, settings)
    elapsed = time.monotonic() - started

    assert report.requests.ok == 5
    failed = registry.get_sample_value(
        "herd_metrics_pushes_total",
        {
            "loadtest": "test",
            "namespace": "default",
            "run": load_run.run_id,
            "runner": "0",
            "result": "failed",
        },
    )
    assert failed >= 3  # at least the start and the final push's three attempts, minus one
    # Bounded: three final attempts with 0.5 s and 1 s between them, each refused at once.
    assert elapsed < 5
    messages = [record.getMessage() for record in caplog.records]
    assert any("final push" in message for message in messages), messages
    # Once per outage during the run, then the final push's own warnings: not one per push.
    assert len(messages) <= 5, messages


def test_herd_run_pushes_to_the_pushgateway_named_in_the_spec(gateway, echo, tmp_path):
    from tests.engine.test_accounting import run_herd_cli

    spec = {
        "target": {"url": f"{echo.url}/answer", "body": "{}"},
        "load": {"pattern": "burst", "requests": 3},
        "metrics": {"pushgateway": gateway.url},
    }
    process = run_herd_cli(spec, tmp_path, "--run-id", "spec-push", "-q")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    samples = group_samples(gateway.url, "spec-push")
    assert sum(s.value for s in samples if s.name == "herd_requests_total") == 3
