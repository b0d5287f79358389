"""Fixtures of the metrics tests: the echo target, a LoadRun with metrics attached."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.registry import CollectorRegistry

from herd.api.report import Report
from herd.engine.run import LoadRun, RunOptions
from herd.metrics import RunMetrics, attach_metrics
from tests.conftest import loadtest
from tests.metrics.servers import echo_target

# One run mixing outcomes, decided per request index by the body template:
# every 10th (7, 17, ...) outlasts the 300 ms timeout, every 4th (1, 5, ...) is a 503,
# and 12 workers (w0..w11) answer in turn.
MIXED_BODY = (
    '{"status": {{ 503 if request.index % 4 == 1 else 200 }}, '
    '"sleep": {{ 1.0 if request.index % 10 == 7 else 0.01 }}, '
    '"worker": "w{{ request.index % 12 }}"}'
)
MIXED_WORKERS = 12


def expected_code(index: int) -> str:
    if index % 10 == 7:
        return "timeout"
    return "503" if index % 4 == 1 else "200"


@pytest.fixture(scope="module")
def echo():
    with echo_target() as server:
        yield server


def mixed_spec(echo_url: str, requests: int = 40, **extra: Any) -> dict[str, Any]:
    return {
        "target": {"url": f"{echo_url}/answer", "body": MIXED_BODY, "timeout": "300ms"},
        "load": {"pattern": "concurrency", "concurrency": 8, "requests": requests},
        **extra,
    }


async def run_with_metrics(
    spec: dict[str, Any], worker_labels: int = 100, name: str = "metrics-test", **options: Any
) -> tuple[Report, RunMetrics, LoadRun]:
    """Run ``spec`` with metrics in a fresh registry; the verdict is added at the end."""
    options.setdefault("handle_signals", False)
    load_run = LoadRun(loadtest(spec, name=name), RunOptions(**options))
    metrics = attach_metrics(load_run, CollectorRegistry(), worker_labels)
    report = await load_run.execute()
    metrics.finish(report)
    return report, metrics, load_run
