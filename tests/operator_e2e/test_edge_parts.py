"""The edge's small pure parts: status merge patches, requeue times, operator metrics."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from herd_operator.operator_metrics import OperatorMetrics
from herd_operator.requeue import Requeue
from herd_operator.status_patch import merge_patch
from tests.operator_e2e.apiserver import matches_selector


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ({"phase": "Running"}, {"phase": "Running"}, {}),
        ({"phase": "Running", "message": "x"}, {"phase": "Failed"},
         {"phase": "Failed", "message": None}),
        ({"runners": {"running": 3, "pending": 0}}, {"runners": {"running": 2, "pending": 0}},
         {"runners": {"running": 2}}),
        ({"results": {"latency": {"p95": 1}}}, {"results": {}}, {"results": {"latency": None}}),
        ({"conditions": [{"type": "A"}]}, {"conditions": []}, {"conditions": []}),
        ({}, {"summary": {"p95": "1s"}}, {"summary": {"p95": "1s"}}),
        (None, {"phase": "Pending"}, {"phase": "Pending"}),
    ],
)  # fmt: skip
def test_merge_patch_turns_the_old_status_into_the_new(old, new, patch) -> None:
    assert merge_patch(old, new) == patch


def test_requeue_is_due_when_asked_for_and_at_the_latest_after_a_resync() -> None:
    now = [100.0]
    requeue = Requeue(resync_seconds=60, clock=lambda: now[0])
    assert not requeue.is_due("run")  # never reconciled: its handler goes first
    requeue.after("run", 5)
    assert not requeue.is_due("run")
    now[0] += 5
    assert requeue.is_due("run")
    requeue.after("run", None)
    now[0] += 59
    assert not requeue.is_due("run")
    now[0] += 1
    assert requeue.is_due("run")
    requeue.after("run", 3600)  # far away: still resynced
    now[0] += 60
    assert requeue.is_due("run")
    requeue.soon("run")
    assert requeue.is_due("run")
    requeue.forget("run")
    assert not requeue.is_due("run")


def _run(name: str, loadtest: str = "sdxl") -> dict:
    return {
        "metadata": {"name": name, "creationTimestamp": "2030-05-04T12:00:00Z"},
        "spec": {"loadTestName": loadtest},
    }


def _finished(completed: str, verdict: str, ok: int) -> dict:
    return {
        "phase": "Succeeded",
        "verdict": verdict,
        "completionTime": completed,
        "results": {
            "requests": {"planned": ok, "sent": ok, "ok": ok, "failed": 0, "neverSent": 0},
            "workers": {"distinct": 2},
            "errorRate": 0.0,
            "latency": {"p95": 0.5},
        },
    }


def test_metrics_count_runs_by_phase_and_keep_the_latest_results() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    value = registry.get_sample_value
    labels = {"namespace": "perf", "loadtest": "sdxl"}
    metrics.observe_run("perf", _run("a"), {}, {"phase": "Running"})
    assert value("herd_operator_runs", {"phase": "Running"}) == 1

    newer = _finished("2030-05-04T12:02:00Z", "passed", 30)
    metrics.observe_run("perf", _run("a"), {"phase": "Running"}, newer)
    assert value("herd_operator_runs", {"phase": "Running"}) == 0
    assert value("herd_operator_runs", {"phase": "Succeeded"}) == 1
    assert value("herd_operator_run_duration_seconds_sum", {"phase": "Succeeded"}) == 120
    # An older run seen later (after a restart: finished before) does not replace the latest
    # results, and its duration is not observed again.
    older = _finished("2030-05-04T11:00:00Z", "failed", 7)
    metrics.observe_run("perf", _run("b"), older, older)
    assert value("herd_operator_last_run_passed", labels) == 1
    assert value("herd_operator_last_run_requests", {**labels, "outcome": "ok"}) == 30
    # A status from before requests.unknown existed reads as none unknown.
    assert value("herd_operator_last_run_requests", {**labels, "outcome": "unknown"}) == 0
    assert value("herd_operator_last_run_latency_p95_seconds", labels) == 0.5
    # A finished run seen again is not counted twice.
    metrics.observe_run("perf", _run("a"), newer, newer)
    assert value("herd_operator_run_duration_seconds_count", {"phase": "Succeeded"}) == 1
    metrics.forget_run("perf", "a")
    metrics.forget_run("perf", "b")
    assert value("herd_operator_runs", {"phase": "Succeeded"}) == 0
    assert not math.isnan(value("herd_operator_last_run_error_ratio", labels))


@pytest.mark.parametrize(
    ("selector", "expected"),
    [("", True), ("a=1", True), ("a=2", False), ("a!=2", True), ("a", True), ("!a", False),
     ("b", False), ("!b", True), ("a=1,c=3", True), ("a=1,c=4", False)],
)  # fmt: skip
def test_the_stand_in_filters_by_label_selector(selector: str, expected: bool) -> None:
    assert matches_selector({"a": "1", "c": "3"}, selector) is expected
