"""The operator exports each LoadTest's latest run verdict and thresholds under the names a
runner uses, with runner="merged": where the dashboard finds a cluster run's verdict."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from herd_operator.operator_metrics import MERGED_RUNNER, OperatorMetrics


def finished(verdict: str, ended: str, thresholds: list[dict]) -> dict:
    return {
        "phase": "Succeeded",
        "verdict": verdict,
        "completionTime": ended,
        "results": {"requests": {"planned": 3}, "clientLimited": False, "thresholds": thresholds},
    }


def test_the_latest_run_of_a_loadtest_carries_its_merged_verdict_and_thresholds():
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    body = {"metadata": {"name": "lt-g1"}, "spec": {"loadTestName": "lt"}}
    holds = {"expr": "p95 < 2s", "value": 0.25, "passed": True}
    fails = {"expr": "error_rate < 1%", "value": 0.5, "passed": False}
    implicit = {"expr": "ok > 0", "value": 1.0, "passed": True, "implicit": True}
    status = finished("failed", "2030-01-01T00:01:00Z", [holds, fails, implicit])
    metrics.observe_run("perf", body, {"phase": "Running"}, status)

    labels = {"namespace": "perf", "loadtest": "lt", "run": "lt-g1", "runner": MERGED_RUNNER}
    value = registry.get_sample_value
    assert [value("herd_run_verdict", {**labels, "verdict": v}) for v in ("passed", "failed")] == [
        0,
        1,
    ]
    assert value("herd_run_client_limited", labels) == 0
    assert value("herd_threshold_passed", {**labels, "threshold": "p95 < 2s"}) == 1
    assert value("herd_threshold_passed", {**labels, "threshold": "error_rate < 1%"}) == 0
    assert value("herd_threshold_value", {**labels, "threshold": "error_rate < 1%"}) == 0.5
    assert value("herd_threshold_passed", {**labels, "threshold": "ok > 0"}) is None

    # A later run replaces it: one run per LoadTest, so the series stay few.
    later = {"metadata": {"name": "lt-g2"}, "spec": {"loadTestName": "lt"}}
    metrics.observe_run(
        "perf", later, {"phase": "Running"}, finished("passed", "2030-01-01T00:05:00Z", [holds])
    )
    assert value("herd_run_verdict", {**labels, "verdict": "failed"}) is None
    assert value("herd_run_verdict", {**labels, "run": "lt-g2", "verdict": "passed"}) == 1
    # An older run that reports late does not.
    metrics.observe_run(
        "perf", body, {"phase": "Running"}, finished("failed", "2030-01-01T00:02:00Z", [])
    )
    assert value("herd_run_verdict", {**labels, "run": "lt-g2", "verdict": "passed"}) == 1
