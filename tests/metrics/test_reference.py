"""docs/metrics.md lists exactly the metrics herd exports, with their types and labels."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from herd.metrics.pushing import PushCollector
from herd_operator.operator_metrics import OperatorMetrics
from tests.metrics.conftest import run_with_metrics

ROOT = Path(__file__).resolve().parents[2]
RUN_LABELS = {"loadtest", "namespace", "run", "runner"}
# | `herd_name` | type | `label`, `label` | meaning |
ROW = re.compile(r"^\| `(herd_[a-z0-9_]+)` \| (counter|gauge|histogram|info) \| ([^|]*) \|", re.M)
Families = dict[str, tuple[str, frozenset[str]]]


def documented(section: str) -> Families:
    """The table rows of docs/metrics.md under ``## section`` headings that start so."""
    text = (ROOT / "docs" / "metrics.md").read_text()
    chunks = [c for c in text.split("\n## ")[1:] if c.startswith(section)]
    return {
        name: (kind, frozenset(re.findall(r"`([a-z_]+)`", labels)))
        for chunk in chunks
        for name, kind, labels in ROW.findall(chunk)
    }


def exposed(families: Iterable[Metric], identity: set[str]) -> Families:
    """Families as Prometheus shows them: counters end in _total, info in _info."""
    found: Families = {}
    for family in families:
        name = family.name + {"counter": "_total", "info": "_info"}.get(family.type, "")
        labels = {key for sample in family.samples for key in sample.labels}
        found[name] = (family.type, frozenset(labels - identity - {"le"}))
    return found


async def test_every_metric_of_a_run_is_documented_with_its_type_and_labels(
    echo, s3_server, bucket
):
    uploads = {
        "endpoint": s3_server.url,
        "region": "us-east-1",
        "bucket": bucket,
        "source": {"synthetic": {"sizeBytes": 64}},
    }
    # An open loop with uploads, a scaling probe and a threshold ...
    rate = {
        "target": {"url": f"{echo.url}/answer", "body": '{"sleep": 0.05, "worker": "w1"}'},
        "uploads": uploads,
        "load": {"pattern": "rate", "rate": 40, "duration": "500ms"},
        "scalingProbe": {"url": f"{echo.url}/health", "interval": "100ms"},
        "thresholds": ["p95 < 2s"],
    }
    # ... and a closed loop whose staging fails: upload errors, requests never sent.
    failing = {
        "target": {"url": f"{echo.url}/answer"},
        "uploads": {**uploads, "bucket": "no-such-bucket-here", "maxAttempts": 1},
        "load": {"pattern": "concurrency", "concurrency": 2, "requests": 4},
    }
    exported: Families = {}
    for spec in (rate, failing):
        _, metrics, _ = await run_with_metrics(spec)
        exported |= exposed(metrics.registry.collect(), RUN_LABELS)
    assert exported == (
        documented("Requests")
        | documented("Endpoint workers")
        | documented("Uploads")
        | documented("The client")
        | documented("The run")
    )


def test_the_pushing_metric_is_documented():
    pusher = SimpleNamespace(results=Counter(ok=1))  # PushCollector reads only the tallies
    collector = PushCollector(pusher, {"run": "r"})  # type: ignore[arg-type]
    assert exposed(collector.collect(), {"run"}) == documented("Pushing")


def test_every_operator_metric_is_documented():
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    finished = {
        "phase": "Succeeded",
        "verdict": "passed",
        "completionTime": "2030-01-01T00:01:00Z",
        "results": {
            "requests": {"planned": 1},
            "latency": {"p95": 0.1},
            "errorRate": 0.0,
            "clientLimited": False,
            "thresholds": [{"expr": "p95 < 2s", "value": 0.1, "passed": True}],
        },
    }
    body = {"metadata": {"name": "r1", "creationTimestamp": "2030-01-01T00:00:00Z"}}
    metrics.observe_run("ns", body, {"phase": "Running"}, finished)
    metrics.reconcile_errors.labels("LoadTest").inc()
    assert exposed(registry.collect(), set()) == documented("Operator metrics")


def test_every_dashboard_panel_is_described():
    dashboard = json.loads((ROOT / "dashboards" / "herd.json").read_text())
    described = (ROOT / "docs" / "dashboard.md").read_text()
    titles = [panel["title"] for panel in dashboard["panels"] if panel["type"] != "row"]
    assert titles
    assert [title for title in titles if f"| {title} |" not in described] == []
