"""A cluster run on the shipped dashboard, with real parts: Debian's Prometheus and
Pushgateway on 127.0.0.1, the chart's monitors (values-kube-prometheus-stack.yaml, rendered
by Helm) as scrape configurations, the operator in this process, and real ``herd run``
runner processes started by the tests' kubelet, each serving its pod's ``metrics`` port.

Prometheus finds the runners as the chart's PodMonitor asks (tests/operator_e2e/monitors.py),
scrapes them while they run, scrapes the Pushgateway the runners push their final numbers to
(as the chart wires it) and the operator's merged verdict; then every panel of the dashboard
returns data for the run, selected by its namespace, loadtest and run variables.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid
from pathlib import Path

import pytest
import yaml

from herd.demo.services import FAKE_AWS_ENV, free_port
from herd_operator.kube import LOADTESTS, PODS, RUNS
from herd_operator.settings import RunnerSettings
from tests.conftest import s3_client
from tests.metrics.panels import DASHBOARDS, fill, panel_queries, variable_queries
from tests.metrics.servers import echo_target, prometheus, pushgateway, query, targets
from tests.metrics.test_pushgateway import BODY_WITH_ONE_TEMPLATE_ERROR
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, STARTUP_ALLOWANCE, Cluster, operator_options
from tests.operator_e2e.loadtests import loadtest
from tests.operator_e2e.monitors import PodTargets, pod_monitor_job, service_monitor_job
from tests.operator_e2e.operators import running_operator

rendering = pytest.importorskip("tests.chart.rendering")

pytestmark = [pytest.mark.prometheus, pytest.mark.slow, pytest.mark.timeout(150)]

NAME, RUNNERS = "live", 2
RUN = f"{NAME}-g1"
THIS_RUN = {"namespace": NAMESPACE, "loadtest": NAME, "run": RUN}
RATE_INTERVAL = "2m"  # covers the whole run when queried right after it
LOAD_SECONDS = 8
"""Long enough for file discovery (Prometheus hands new targets to its scrapers in 5 s
batches) and several scrapes of every runner while it sends."""


def chart_monitors() -> dict[str, dict]:
    """The chart's monitors, by name, as kube-prometheus-stack users install them."""
    values = yaml.safe_load((rendering.CHART / "values-kube-prometheus-stack.yaml").read_text())
    objects = rendering.render(values)
    return {
        obj["metadata"]["name"]: obj
        for obj in objects
        if obj["kind"] in ("PodMonitor", "ServiceMonitor")
    }


def spec(echo_url: str, s3_url: str, bucket: str) -> dict:
    """Built to light up every panel: mixed outcomes, a never-sent request (a template
    error), inline uploads through one slot (client-limited) and a scaling probe."""
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
            "source": {"synthetic": {"sizeBytes": 65536}},
            "concurrency": 1,
            "mode": "inline",
            "cleanup": False,
        },
        "load": {
            "pattern": "concurrency",
            "concurrency": 4,
            "duration": f"{LOAD_SECONDS}s",
            "maxDuration": "40s",
        },
        "scalingProbe": {"url": f"{echo_url}/health", "interval": "200ms"},
        "thresholds": ["p95 < 2s", "error_rate < 1%"],
        "parallelism": RUNNERS,
        # The stand-in's kubelet passes plain values only; moto's fake keys are no secret.
        "runner": {"env": [{"name": k, "value": v} for k, v in FAKE_AWS_ENV.items()]},
    }


async def query_until(url: str, promql: str, timeout: float) -> list[dict]:
    """Poll without blocking the tests' kubelet and Job controller (same event loop)."""

    async def check() -> list[dict]:
        return await asyncio.to_thread(query, url, promql)

    return await eventually(check, timeout, promql, interval=0.5)


async def test_prometheus_sees_a_cluster_run_live_and_every_panel_has_data(
    cluster: Cluster, tmp_path: Path, s3_server
) -> None:
    monitors = chart_monitors()
    bucket = f"herd-live-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server.url).create_bucket(Bucket=bucket)
    runner_targets = PodTargets(tmp_path / "runner-pods.json", cluster.kubelet.ports)
    cluster.kubelet.on_start = runner_targets.add
    operator_port = free_port()
    with echo_target() as echo, pushgateway(tmp_path) as gateway:
        # As the chart wires it: runners push to the Pushgateway it deploys.
        settings = RunnerSettings(
            startup_allowance_seconds=STARTUP_ALLOWANCE, pushgateway=gateway.url
        )
        options = operator_options(
            runner=settings, metrics_host="127.0.0.1", metrics_port=operator_port
        )
        scrape_configs = [
            pod_monitor_job(monitors["herd-runners"], runner_targets.path),
            service_monitor_job(
                monitors["herd-pushgateway"], urllib.parse.urlsplit(gateway.url).netloc
            ),
            service_monitor_job(monitors["herd"], f"127.0.0.1:{operator_port}"),
        ]
        async with running_operator(options):
            with prometheus(tmp_path, scrape_configs) as server:
                await cluster.api.create(
                    LOADTESTS, loadtest(NAME, spec(echo.url, s3_server.url, bucket))
                )
                runners_job = f"{monitors['herd-runners']['metadata']['namespace']}/herd-runners"
                # Scraped from the runner pods themselves while they send.
                live = f'herd_requests_total{{job="{runners_job}", run="{RUN}"}}'
                await query_until(server.url, live, 30)

                async def finished() -> dict:
                    run = await cluster.api.get(RUNS, NAMESPACE, RUN)
                    status = (run or {}).get("status") or {}
                    return status if status.get("phase") in ("Succeeded", "Failed") else {}

                status = await eventually(finished, 60, f"{RUN} finished")
                assert status["phase"] == "Succeeded", status.get("message")
                sent = status["results"]["requests"]["sent"]
                # The runners' final pushes and the operator's merged verdict have arrived.
                pushed = f'sum(herd_requests_total{{job="herd", run="{RUN}"}}) == {sent}'
                await query_until(server.url, pushed, 20)
                merged = f'herd_run_verdict{{run="{RUN}", runner="merged"}} == 1'
                (verdict,) = await query_until(server.url, merged, 20)
                assert verdict["metric"]["verdict"] == status["verdict"]
                assert verdict["metric"]["namespace"] == NAMESPACE  # honorLabels: the run's

                await check_runner_series(server.url, cluster, runners_job)
                check_every_panel(server.url)


async def check_runner_series(prometheus_url: str, cluster: Cluster, runners_job: str) -> None:
    """Each runner pod was scraped more than once, labelled as the PodMonitor says."""
    pods = await cluster.api.list(PODS, NAMESPACE, f"herd.dev/run={RUN}")
    assert len(pods) == RUNNERS
    seen = await asyncio.to_thread(
        query,
        prometheus_url,
        f'count_over_time(herd_requests_in_flight{{job="{runners_job}", run="{RUN}"}}[5m])',
    )
    by_pod = {item["metric"]["pod"]: item for item in seen}
    assert sorted(by_pod) == sorted(pod["metadata"]["name"] for pod in pods), targets(
        prometheus_url
    )
    for pod in pods:
        item = by_pod[pod["metadata"]["name"]]
        labels = item["metric"]
        assert float(item["value"][1]) >= 2, labels  # live: scraped while it ran
        index = pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]
        assert labels["runner"] == index
        assert labels["namespace"] == NAMESPACE and "exported_namespace" not in labels
        assert labels["container"] == "runner" and labels["endpoint"] == "metrics"


def check_every_panel(prometheus_url: str) -> None:
    for path in DASHBOARDS:
        empty = [
            where
            for where, expr in panel_queries(path)
            if not query(prometheus_url, fill(expr, THIS_RUN, RATE_INTERVAL))
        ]
        assert not empty, f"{path.name}: panels without data: {empty}"
        for name, expr in variable_queries(path):
            values = {
                item["metric"].get(name)
                for item in query(prometheus_url, fill(expr, THIS_RUN, RATE_INTERVAL))
            }
            assert THIS_RUN[name] in values, (name, values)
        # The threshold panel shows the run's thresholds, judged on the merged results.
        (thresholds_expr,) = [e for w, e in panel_queries(path) if w.startswith("Thresholds")]
        judged = query(prometheus_url, fill(thresholds_expr, THIS_RUN, RATE_INTERVAL))
        assert {item["metric"]["threshold"] for item in judged} == {"p95 < 2s", "error_rate < 1%"}
