"""The metrics tests' real servers on 127.0.0.1: an echo target, Pushgateway, Prometheus.

Pushgateway and Prometheus are Debian's binaries (``apt-get install prometheus
prometheus-pushgateway``; ``scripts/test.sh`` installs them), started per test
with their storage in the test's tmp_path. Without them the tests that need them
skip, saying which package is missing.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from herd.demo.services import ServerProcess, child_server, free_port
from tests.support.servers import REPO

PUSHGATEWAY = "prometheus-pushgateway"
PROMETHEUS = "prometheus"


def binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} not installed: apt-get install {package} (scripts/test.sh installs it)"
        )
    return path


@contextlib.contextmanager
def echo_target() -> Iterator[ServerProcess]:
    port = free_port()
    command = [sys.executable, "-m", "tests.metrics.echo_target", "--port", str(port)]
    with child_server(command, port, "/ready", env={"PYTHONPATH": str(REPO)}, cwd=str(REPO)) as s:
        yield s


@contextlib.contextmanager
def pushgateway(tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    command = [
        binary(PUSHGATEWAY, "prometheus-pushgateway"),
        f"--web.listen-address=127.0.0.1:{port}",
        f"--persistence.file={tmp_path / 'pushgateway.data'}",
        "--web.enable-admin-api",
    ]
    with child_server(command, port, "/-/ready") as server:
        yield server


@contextlib.contextmanager
def prometheus(
    tmp_path: Path,
    scrape_configs: list[dict],
    rule_files: Sequence[Path] = (),
    flags: Sequence[str] = (),
) -> Iterator[ServerProcess]:
    """Prometheus scraping ``scrape_configs`` and evaluating ``rule_files`` every 200 ms,
    storing under tmp_path; ``flags`` are added to its command line."""
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {
                    "scrape_interval": "200ms",
                    "scrape_timeout": "200ms",
                    "evaluation_interval": "200ms",
                },
                "rule_files": [str(path) for path in rule_files],
                "scrape_configs": scrape_configs,
            }
        )
    )
    command = [
        binary(PROMETHEUS, "prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        *flags,
    ]
    with child_server(command, port, "/-/ready") as server:
        _wait_until_ready(f"{server.url}/-/ready")  # 503 while it replays its storage
        # Target discovery reaches the scrapers in 5 s batches: a short herd run
        # started before the first scrape would be over unseen. (Targets that other
        # discovery, e.g. file_sd, finds later are the caller's to wait for.)
        expected = sum(
            len(c["targets"]) for job in scrape_configs for c in job.get("static_configs", [])
        )
        _wait_until_scraping(server.url, expected)
        yield server


def _wait_until_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:  # HTTPError (503) and refused connections alike
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready within {timeout:.0f}s") from None
            time.sleep(0.1)


def _wait_until_scraping(prometheus_url: str, expected: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        scraped = [t for t in targets(prometheus_url) if t["health"] != "unknown"]
        if len(scraped) >= expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Prometheus did not start scraping within {timeout:.0f}s")
        time.sleep(0.1)


def scrape(url: str) -> dict[str, list]:
    """Samples by metric family name (histograms and counters under their family name)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def query(prometheus_url: str, promql: str) -> list[dict]:
    """An instant query's result vector (``[{"metric": {...}, "value": [t, "v"]}, ...]``)."""
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as response:
        document = json.load(response)
    assert document["status"] == "success", document
    return document["data"]["result"]


def query_until(prometheus_url: str, promql: str, timeout: float = 20.0) -> list[dict]:
    """Poll an instant query until it returns data; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = query(prometheus_url, promql)
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def targets(prometheus_url: str) -> list[dict]:
    """Scrape targets with their health and last error: what to show when series are missing."""
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/targets", timeout=10) as response:
        active = json.load(response)["data"]["activeTargets"]
    return [{k: t[k] for k in ("scrapeUrl", "health", "lastError")} for t in active]
