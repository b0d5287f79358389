"""A real Prometheus (Debian's ``prometheus``) watching a real ``herd run``.

One run, both routes users have: Prometheus scrapes ``herd run --metrics-port``
while it runs, and scrapes the Pushgateway that ``--pushgateway`` fed, where the
last numbers stay after the process has gone. The run is built to light up every
panel and alert: mixed outcomes, a never-sent request, inline S3 uploads through
one slot (the incident: client-limited), and an endpoint whose health API says
it does not scale. Then every dashboard query and alert rule runs against it.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

import pytest

from herd.demo.services import FAKE_AWS_ENV, free_port
from tests.conftest import s3_client
from tests.engine.test_accounting import run_herd_cli
from tests.metrics.panels import ALERT_RULES, DASHBOARDS, fill, panel_queries, variable_queries
from tests.metrics.servers import (
    echo_target,
    prometheus,
    pushgateway,
    query,
    query_until,
    targets,
)
from tests.metrics.test_pushgateway import BODY_WITH_ONE_TEMPLATE_ERROR, CONTRACT

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]

RUN = "prometheus-test-run"
LOADTEST = "cli"  # run_herd_cli's metadata.name
THIS_RUN = {"namespace": "default", "loadtest": LOADTEST, "run": RUN}
RATE_INTERVAL = "30s"  # covers the whole run when queried right after it


@dataclass
class Observed:
    prometheus_url: str
    report: dict
    live: list[dict]
    """What the first query during the run returned (scraped from herd itself)."""


def _scenario(echo_url: str, s3_url: str, bucket: str) -> dict:
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
        "load": {"pattern": "concurrency", "concurrency": 6, "duration": "3s"},
        "scalingProbe": {"url": f"{echo_url}/health", "interval": "200ms"},
        "thresholds": ["p95 < 2s", "error_rate < 1%"],
    }


@pytest.fixture(scope="module")
def observed(tmp_path_factory, s3_server) -> Observed:
    tmp_path = tmp_path_factory.mktemp("prometheus")
    bucket = f"herd-prom-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server.url).create_bucket(Bucket=bucket)
    metrics_port = free_port()
    with echo_target() as echo, pushgateway(tmp_path) as gateway:
        scrape_configs = [
            {
                "job_name": "herd-direct",
                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            },
            # honor_labels keeps the pushed job="herd" and each group's run/runner labels.
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [urllib.parse.urlsplit(gateway.url).netloc]}],
            },
        ]
        with prometheus(tmp_path, scrape_configs, rule_files=[ALERT_RULES]) as server:
            process = run_herd_cli(
                _scenario(echo.url, s3_server.url, bucket),
                tmp_path,
                "--run-id",
                RUN,
                "--metrics-host",
                "127.0.0.1",
                "--metrics-port",
                str(metrics_port),
                "--pushgateway",
                gateway.url,
                "-q",
                env=FAKE_AWS_ENV,
            )
            try:
                live = query_until(
                    server.url, f'herd_requests_total{{job="herd-direct",run="{RUN}"}}'
                )
                _, stderr = process.communicate(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate(timeout=10)
            # The run is client-limited, as planned: inconclusive, whatever its thresholds.
            assert process.returncode == 4, stderr
            report = json.loads((tmp_path / "report.json").read_text())
            # The final push has reached Prometheus once the pushed total is the run's.
            pushed = f'sum(herd_requests_total{{job="herd",run="{RUN}"}})'
            assert query_until(server.url, f"{pushed} == {report['requests']['sent']}"), query(
                server.url, pushed
            )
            yield Observed(server.url, report, live)


def test_prometheus_scraped_herd_itself_while_it_ran(observed):
    assert observed.live, f"the running herd was never scraped: {targets(observed.prometheus_url)}"
    direct = f'herd_requests_total{{job="herd-direct",run="{RUN}",code="200"}}'
    # More than one snapshot: the count grew from scrape to scrape.
    assert float(query(observed.prometheus_url, f"changes({direct}[1m])")[0]["value"][1]) >= 2


def test_the_final_numbers_stay_in_the_pushgateway(observed):
    report = observed.report
    names = {
        item["metric"]["__name__"]
        for item in query(observed.prometheus_url, f'{{job="herd",run="{RUN}"}}')
    }
    assert set(CONTRACT) <= names, set(CONTRACT) - names
    sent = query(observed.prometheus_url, f'sum(herd_requests_total{{job="herd",run="{RUN}"}})')
    assert float(sent[0]["value"][1]) == report["requests"]["sent"] > 0
    never_sent = query(
        observed.prometheus_url, f'herd_requests_never_sent_total{{job="herd",run="{RUN}"}}'
    )
    assert {i["metric"]["reason"]: float(i["value"][1]) for i in never_sent} == (
        report["never_sent_reasons"]
    )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_every_dashboard_panel_returns_data_for_the_run(observed, path):
    empty = []
    for where, expr in panel_queries(path):
        if not query(observed.prometheus_url, fill(expr, THIS_RUN, RATE_INTERVAL)):
            empty.append(where)
    assert not empty, f"panels without data: {empty}"
    for name, expr in variable_queries(path):
        values = {
            item["metric"].get(name)
            for item in query(observed.prometheus_url, fill(expr, THIS_RUN, RATE_INTERVAL))
        }
        assert THIS_RUN[name] in values, (name, values)


def test_the_inconclusive_verdict_reaches_prometheus_from_the_pushgateway(observed):
    verdicts = query(
        observed.prometheus_url, f'herd_run_verdict{{job="herd",run="{RUN}",runner="0"}}'
    )
    assert {i["metric"]["verdict"]: float(i["value"][1]) for i in verdicts} == {
        "passed": 0.0,
        "failed": 0.0,
        "inconclusive": 1.0,
    }


def test_every_alert_rule_evaluates_on_the_run_and_the_right_ones_fire(observed):
    url = observed.prometheus_url
    with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=10) as response:
        groups = json.load(response)["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["name"] for rule in rules} == {
        "HerdClientLimited",
        "HerdRunInconclusive",
        "HerdErrorRateHigh",
        "HerdEndpointNotScaling",
    }
    for rule in rules:
        assert rule["health"] == "ok" and not rule.get("lastError"), rule

    assert observed.report["client_limited"], observed.report["diagnostics"]
    assert observed.report["verdict"] == "inconclusive"
    # Every alert's expression returns data for this run: firing, or pending its `for:`.
    expected = {
        "HerdClientLimited": {"firing"},
        "HerdRunInconclusive": {"firing"},
        "HerdErrorRateHigh": {"pending", "firing"},
        "HerdEndpointNotScaling": {"pending", "firing"},
    }
    # Rules are evaluated every 200 ms after the scrapes: wait (bounded) for all of them.
    deadline = time.monotonic() + 10
    while True:
        states: dict[str, set[str]] = {}
        for result in query(url, f'ALERTS{{run="{RUN}"}}'):
            metric = result["metric"]
            states.setdefault(metric["alertname"], set()).add(metric["alertstate"])
        if all(states.get(a, set()) & ok for a, ok in expected.items()):
            break
        assert time.monotonic() < deadline, (states, expected)
        time.sleep(0.2)
