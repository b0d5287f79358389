"""``herd run --remote-write``: a real Prometheus (Debian's, with its remote-write receiver
on) takes a run's metrics from the runner, and every dashboard panel returns data for it."""

from __future__ import annotations

import json
import uuid

import pytest
from prometheus_client import CollectorRegistry, Gauge

from herd.demo.services import FAKE_AWS_ENV
from herd.engine.errors import ConfigError
from herd.metrics.remote_write import RemoteWriter, RemoteWriteSettings
from tests.conftest import s3_client
from tests.engine.test_accounting import run_herd_cli
from tests.metrics.panels import DASHBOARDS, fill, panel_queries
from tests.metrics.servers import echo_target, prometheus, query, query_until
from tests.metrics.test_prometheus import _scenario

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(120)]

RUN = "remote-write-test-run"
THIS_RUN = {"namespace": "default", "loadtest": "cli", "run": RUN}
RECEIVER = ["--web.enable-remote-write-receiver"]


def test_a_run_writes_its_metrics_and_final_numbers_to_prometheus(tmp_path, s3_server):
    bucket = f"herd-rw-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server.url).create_bucket(Bucket=bucket)
    with echo_target() as echo, prometheus(tmp_path, [], flags=RECEIVER) as server:
        process = run_herd_cli(
            _scenario(echo.url, s3_server.url, bucket),
            tmp_path,
            "--run-id",
            RUN,
            "--remote-write",
            f"{server.url}/api/v1/write",
            "-q",
            env=FAKE_AWS_ENV,
        )
        try:
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
        assert process.returncode == 4, stderr  # client-limited by design: inconclusive
        assert "remote-write" not in stderr, stderr  # no write failed
        report = json.loads((tmp_path / "report.json").read_text())
        sent = f'sum(herd_requests_total{{job="herd", run="{RUN}"}})'
        assert query_until(server.url, f"{sent} == {report['requests']['sent']}"), query(
            server.url, sent
        )
        verdict = query(server.url, f'herd_run_verdict{{run="{RUN}"}} == 1')
        assert [item["metric"]["verdict"] for item in verdict] == ["inconclusive"]
        for path in DASHBOARDS:
            empty = [
                where
                for where, expr in panel_queries(path)
                if not query(server.url, fill(expr, THIS_RUN, "1m"))
            ]
            assert not empty, f"{path.name}: panels without data: {empty}"


async def test_a_body_larger_than_one_snappy_literal_is_taken_whole(tmp_path):
    registry = CollectorRegistry()
    gauge = Gauge("herd_test_series", "many series", ["n"], registry=registry)
    for n in range(3000):  # well over the 64 KiB of one literal
        gauge.labels(str(n)).set(n)
    with prometheus(tmp_path, [], flags=RECEIVER) as server:
        settings = RemoteWriteSettings(f"{server.url}/api/v1/write", interval=60)
        async with RemoteWriter(settings, registry) as writer:
            assert await writer.write()
        (total,) = query(server.url, 'sum(herd_test_series{job="herd"})')
        assert float(total["value"][1]) == sum(range(3000))


@pytest.mark.parametrize("url", ["prometheus:9090/api/v1/write", "ftp://host/write"])
def test_a_bad_url_is_refused_naming_it(url):
    with pytest.raises(ConfigError, match="remote-write"):
        RemoteWriteSettings(url)
