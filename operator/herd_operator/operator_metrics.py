"""The operator's own Prometheus metrics, on a registry the caller passes in.

Besides runs by phase, reconcile errors and run durations, the final results of the
latest finished run of each LoadTest are gauges: Prometheus keeps scraping them after
the runner Jobs and pods (and eventually the LoadTestRun) are gone, so dashboards and
alerts keep a history of results without reading any Kubernetes object.

That run's verdict and thresholds, judged on the merged results, are also exported under
the names a runner uses (``herd_run_verdict``, ``herd_threshold_*``, ...) with its run's
labels and ``runner="merged"``: runners never see thresholds (their share would be judged
alone), so this is where the dashboard's verdict and threshold panels find a cluster run.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from herd.api.status import TERMINAL_PHASES
from herd_operator.objects import parse_time

PHASES = ("Pending", "Staging", "Running", "Succeeded", "Failed", "Invalid")
_RESULT_LABELS = ("namespace", "loadtest")
_REQUEST_OUTCOMES = ("planned", "sent", "ok", "failed", "neverSent", "unknown")
# Load tests run from seconds to hours.
_DURATION_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
MERGED_RUNNER = "merged"
"""The ``runner`` label of a run's merged verdict: no runner index, so never one's copy."""
_VERDICTS = ("passed", "failed", "inconclusive")
_RUN_LABELS = ("namespace", "loadtest", "run", "runner")


class MergedVerdicts(Collector):
    """The latest finished run of each LoadTest: its verdict and thresholds as runners
    name them, from the run's status (one run per LoadTest, so the series stay few)."""

    def __init__(self) -> None:
        self.latest: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        """(namespace, loadtest) → (run name, its status)."""

    def collect(self) -> Iterator[Metric]:
        verdict = GaugeMetricFamily(
            "herd_run_verdict",
            "1 for the run's verdict on its merged results, 0 for the others.",
            labels=[*_RUN_LABELS, "verdict"],
        )
        limited = GaugeMetricFamily(
            "herd_run_client_limited",
            "1 when some runner found the client distorted the traffic.",
            labels=list(_RUN_LABELS),
        )
        passed = GaugeMetricFamily(
            "herd_threshold_passed",
            "1 per threshold that holds on the merged results, 0 per one that fails.",
            labels=[*_RUN_LABELS, "threshold"],
        )
        value = GaugeMetricFamily(
            "herd_threshold_value",
            "Each threshold's value measured on the merged results.",
            labels=[*_RUN_LABELS, "threshold"],
        )
        for (namespace, loadtest), (run, status) in sorted(self.latest.items()):
            labels = [namespace, loadtest, run, MERGED_RUNNER]
            for name in _VERDICTS:
                verdict.add_metric([*labels, name], 1 if status.get("verdict") == name else 0)
            results = status.get("results") or {}
            if "clientLimited" in results:
                limited.add_metric(labels, 1 if results["clientLimited"] else 0)
            for threshold in results.get("thresholds") or []:
                if threshold.get("implicit"):
                    continue  # not written in the spec; the verdict says it
                passed.add_metric([*labels, threshold["expr"]], 1 if threshold["passed"] else 0)
                measured = threshold.get("value")
                if measured is not None:
                    value.add_metric([*labels, threshold["expr"]], measured)
        yield from (verdict, limited, passed, value)


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.runs = Gauge(
            "herd_operator_runs",
            "LoadTestRuns this operator watches, by phase.",
            ["phase"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            "herd_operator_reconcile_errors",
            "Reconciles that failed (and will be retried), by kind.",
            ["kind"],
            registry=registry,
        )
        self.run_duration = Histogram(
            "herd_operator_run_duration_seconds",
            "From a run's creation to its end, for runs this operator saw finish.",
            ["phase"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.requests = self._result_gauge(
            "requests", "Requests of the latest finished run, by outcome.", "outcome"
        )
        self.error_ratio = self._result_gauge(
            "error_ratio", "(failed + never sent + unknown) / planned of the latest finished run."
        )
        self.p95 = self._result_gauge(
            "latency_p95_seconds", "95th percentile latency of the latest finished run."
        )
        self.workers = self._result_gauge(
            "workers", "Distinct endpoint workers that answered in the latest finished run."
        )
        self.passed = self._result_gauge(
            "passed", "1 when the latest finished run's verdict is passed, else 0."
        )
        self.completed = self._result_gauge(
            "completion_timestamp_seconds", "When the latest finished run ended (Unix time)."
        )
        self.merged_verdicts = MergedVerdicts()
        registry.register(self.merged_verdicts)
        for phase in PHASES:
            self.runs.labels(phase).set(0)
        self._phases: dict[tuple[str, str], str] = {}
        self._latest: dict[tuple[str, str], float] = {}

    def _result_gauge(self, name: str, documentation: str, *extra: str) -> Gauge:
        return Gauge(
            f"herd_operator_last_run_{name}",
            documentation,
            [*_RESULT_LABELS, *extra],
            registry=self.registry,
        )

    def observe_run(
        self, namespace: str, body: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        """A run's status went from ``before`` to ``after`` (equal when nothing changed)."""
        meta = body.get("metadata") or {}
        phase = after.get("phase") or "Pending"
        self._phases[(namespace, meta.get("name", ""))] = phase
        self._count_phases()
        finished_now = phase in TERMINAL_PHASES and before.get("phase") not in TERMINAL_PHASES
        if finished_now:
            created, ended = (
                parse_time(meta.get("creationTimestamp")),
                parse_time(after.get("completionTime")),
            )
            if created and ended:
                self.run_duration.labels(phase).observe((ended - created).total_seconds())
        if phase in TERMINAL_PHASES:
            loadtest = (body.get("spec") or {}).get("loadTestName") or meta.get("name", "")
            self._record_results(namespace, loadtest, meta.get("name", ""), after)

    def forget_run(self, namespace: str, name: str) -> None:
        self._phases.pop((namespace, name), None)
        self._count_phases()

    def phase_counts(self) -> dict[str, int]:
        counts = Tally(self._phases.values())
        return {phase: counts.get(phase, 0) for phase in PHASES}

    def _count_phases(self) -> None:
        for phase, count in self.phase_counts().items():
            self.runs.labels(phase).set(count)

    def _record_results(
        self, namespace: str, loadtest: str, run: str, status: dict[str, Any]
    ) -> None:
        """Keep the results of the latest finished run per LoadTest (by completion time)."""
        ended = parse_time(status.get("completionTime"))
        key = (namespace, loadtest)
        if ended is None or ended.timestamp() < self._latest.get(key, float("-inf")):
            return
        self._latest[key] = ended.timestamp()
        self.merged_verdicts.latest[key] = (run, status)
        labels = {"namespace": namespace, "loadtest": loadtest}
        self.completed.labels(**labels).set(ended.timestamp())
        self.passed.labels(**labels).set(1 if status.get("verdict") == "passed" else 0)
        results = status.get("results") or {}
        for outcome in _REQUEST_OUTCOMES:
            value = (results.get("requests") or {}).get(outcome, 0)
            self.requests.labels(**labels, outcome=outcome).set(value)
        self.workers.labels(**labels).set((results.get("workers") or {}).get("distinct", 0))
        self.error_ratio.labels(**labels).set(
            results["errorRate"] if results.get("errorRate") is not None else float("nan")
        )
        latency = results.get("latency") or {}
        self.p95.labels(**labels).set(latency.get("p95", float("nan")))
