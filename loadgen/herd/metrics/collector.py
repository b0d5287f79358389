"""The run's metrics, read from the engine when Prometheus scrapes or herd pushes.

Nothing here runs per request (see ``outcomes`` for the one thing that does):
counters, gauges and HDR histograms are read from the recorder, the upload
statistics, the loop-lag monitor and the scaling probe at collect time, on the
event loop's thread, so every scrape is one consistent snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import islice

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from herd import __version__
from herd.api.report import Report
from herd.api.verdicts import VERDICTS
from herd.engine.live import LiveRun
from herd.engine.multicore.merge import LOST_REASON
from herd.engine.recorder import OTHER_WORKERS, Recorder
from herd.metrics.buckets import DURATION_BUCKETS, WAIT_BUCKETS, as_buckets, hdr_buckets
from herd.metrics.families import LabelledFamilies
from herd.metrics.outcomes import OutcomeSnapshots

# Workers named in labels; later ones are folded into "other" so an endpoint that
# answers with a fresh id per response cannot flood Prometheus with series.
DEFAULT_WORKER_LABELS = 100
_MAX_WORKER_LABEL_CHARS = 100
# A LoadTest without metadata.namespace lands in "default", as with kubectl apply.
DEFAULT_NAMESPACE = "default"

_PROBE_WORKERS = {
    "running": "workers_running",
    "idle": "workers_idle",
    "initializing": "workers_initializing",
}
_PROBE_JOBS = {"in_queue": "jobs_in_queue", "in_progress": "jobs_in_progress"}


def run_identity(load_run: LiveRun) -> dict[str, str]:
    """The labels every series of this run carries."""
    metadata = load_run.loadtest.metadata
    return {
        "loadtest": metadata.name,
        "namespace": metadata.namespace or DEFAULT_NAMESPACE,
        "run": load_run.run_id,
        "runner": str(load_run.options.share.index),
    }


class RunCollector(Collector):
    def __init__(
        self,
        load_run: LiveRun,
        outcomes: OutcomeSnapshots,
        worker_labels: int = DEFAULT_WORKER_LABELS,
    ):
        self._run = load_run
        self._outcomes = outcomes
        self._worker_labels = worker_labels
        self._families = LabelledFamilies(run_identity(load_run))
        self.report: Report | None = None
        """Set when the run has ended: adds the verdict and threshold results."""

    def describe(self) -> list[Metric]:
        return []  # the families depend on the run's stage; no up-front name check

    def collect(self) -> Iterator[Metric]:
        if self._run.recorder is not None:
            self._run.recorder.settle()  # its listener's outcomes too
        families = (
            *self._run_facts(),
            *self._requests(),
            *self._workers(),
            *self._uploads(),
            *self._client(),
            *self._endpoint(),
            *self._result(),
        )
        return (family for family in families if family is not None)

    # -- sections --------------------------------------------------------------

    def _run_facts(self) -> list[Metric | None]:
        f, run = self._families, self._run
        target = run.plan.target_concurrency
        return [
            f.info(
                "herd_run",
                "The run: load pattern, herd version and how many runners share the load.",
                {
                    "pattern": run.plan.pattern,
                    "herd_version": __version__,
                    "runners": str(run.options.share.count),
                },
            ),
            f.gauge(
                "herd_target_concurrency",
                "Requests in flight the pattern aims for (burst: its size; concurrency: N). "
                "Absent for an open-loop rate.",
                [((), target)] if target is not None else [],
            ),
        ]

    def _requests(self) -> list[Metric | None]:
        f, recorder = self._families, self._run.recorder
        if recorder is None:
            return []
        outcomes = self._outcomes.snapshot()
        bounds = self._outcomes.bounds
        return [
            f.counter(
                "herd_requests",
                "Completed requests by code: the HTTP status, or the error class "
                "(timeout, connect, aborted, ...) when there is no status.",
                [((code,), cumulative[-1]) for code, (cumulative, _) in outcomes.items()],
                ["code"],
            ),
            f.histogram(
                "herd_request_duration_seconds",
                "Completed requests' latency from their intended start to the last byte "
                "(the report's latency: an open loop that falls behind shows up here).",
                [
                    ((code,), as_buckets(bounds, cumulative[:-1], cumulative[-1]), total)
                    for code, (cumulative, total) in outcomes.items()
                ],
                ["code"],
            ),
            f.gauge(
                "herd_requests_in_flight",
                "Requests sent and not yet finished.",
                [((), recorder.in_flight)],
            ),
            f.counter(
                "herd_requests_never_sent",
                "Planned requests that never left herd, by reason "
                "(s3_<Code> staging failure, SIGTERM, max_duration, template_error, ...).",
                [((reason,), n) for reason, n in recorder.never_sent.items()],
                ["reason"],
            ),
            f.counter(
                "herd_requests_unknown",
                "Planned requests whose fate is unknown, by reason (process_lost: a process "
                "of the runner died with its records; they may or may not have been sent).",
                # Zero until a process is lost: a series that appears at its first
                # increment hides that increment from rate() and increase().
                [((reason,), n) for reason, n in {LOST_REASON: 0, **recorder.unknown}.items()],
                ["reason"],
            ),
        ]

    def _workers(self) -> list[Metric | None]:
        f, recorder = self._families, self._run.recorder
        if recorder is None:
            return []
        requests, first_seen = self._capped_workers(recorder)
        return [
            f.gauge(
                "herd_workers_observed",
                "Distinct endpoint workers that answered so far (from the worker-id header "
                "or JSON path).",
                [((), len(recorder.worker_requests))],
            ),
            f.counter(
                "herd_worker_requests",
                f"Requests each worker answered; workers past the first "
                f'{self._worker_labels} are summed under worker="other".',
                [((worker,), n) for worker, n in requests.items()],
                ["worker"],
            ),
            f.gauge(
                "herd_worker_first_seen_seconds",
                "Seconds from the run's start to each worker's first answer "
                '("other": the earliest of the workers folded into it).',
                [((worker,), seen) for worker, seen in first_seen.items()],
                ["worker"],
            ),
        ]

    def _capped_workers(self, recorder: Recorder) -> tuple[dict[str, int], dict[str, float]]:
        # worker_first_seen only ever appends, in the order workers appeared, so a
        # worker named in one scrape stays named in every later one. The rest is
        # summed with C-level builtins: the table may hold 10,000 workers.
        table = recorder.worker_first_seen
        requests: dict[str, int] = {}
        first_seen: dict[str, float] = {}
        rest_seen = min(islice(table.values(), self._worker_labels, None), default=math.inf)
        for worker, seen in islice(table.items(), self._worker_labels):
            if worker == OTHER_WORKERS:  # the recorder's own overflow joins ours
                rest_seen = min(rest_seen, seen)
                continue
            name = worker[:_MAX_WORKER_LABEL_CHARS]
            requests[name] = requests.get(name, 0) + recorder.worker_requests[worker]
            first_seen[name] = min(first_seen.get(name, math.inf), seen)
        rest = sum(recorder.worker_requests.values()) - sum(requests.values())
        if rest:
            requests[OTHER_WORKERS] = rest
            first_seen[OTHER_WORKERS] = rest_seen
        return requests, first_seen

    def _uploads(self) -> list[Metric | None]:
        f, stats = self._families, self._run.upload_stats
        if stats is None:
            return []
        buckets, total = hdr_buckets(stats.latency, DURATION_BUCKETS)
        return [
            f.counter(
                "herd_uploads",
                "Objects staged to S3, by final result (ok, or failed after its attempts).",
                [(("ok",), stats.objects), (("failed",), stats.failed)],
                ["result"],
            ),
            f.counter(
                "herd_upload_retries", "Upload attempts that were retried.", [((), stats.retries)]
            ),
            f.counter(
                "herd_upload_errors",
                "Failed upload attempts by S3 error class (s3_<Code>).",
                [((reason,), n) for reason, n in stats.errors.items()],
                ["reason"],
            ),
            f.counter("herd_upload_bytes", "Bytes of objects staged to S3.", [((), stats.bytes)]),
            f.histogram(
                "herd_upload_duration_seconds",
                "Duration of successful upload attempts (PUT to response).",
                [((), buckets, total)],
            ),
            f.gauge("herd_uploads_in_flight", "Uploads in progress.", [((), stats.in_flight)]),
        ]

    def _client(self) -> list[Metric | None]:
        f, recorder, loop_lag = self._families, self._run.recorder, self._run.loop_lag
        families: list[Metric | None] = []
        if recorder is not None:
            pools = [(("http",), *hdr_buckets(recorder.pool_wait, WAIT_BUCKETS))]
            if self._run.upload_stats is not None:
                pools.append(
                    (("s3",), *hdr_buckets(self._run.upload_stats.slot_wait, WAIT_BUCKETS))
                )
            families.append(
                f.histogram(
                    "herd_pool_wait_seconds",
                    "Waits for a pooled connection, per pool (only waits are observed). http: "
                    "the calls — any wait means herd, not the endpoint, held requests back; "
                    "s3: uploads waiting for one of uploads.concurrency slots.",
                    pools,
                    ["pool"],
                )
            )
            buckets, total = hdr_buckets(recorder.scheduling_lag, WAIT_BUCKETS)
            families.append(
                f.histogram(
                    "herd_scheduling_lag_seconds",
                    "From each request's intended start to handing it to the HTTP client: "
                    "an open loop falling behind its schedule.",
                    [((), buckets, total)],
                )
            )
        if loop_lag is not None:
            buckets, total = hdr_buckets(loop_lag, WAIT_BUCKETS)
            families.append(
                f.histogram(
                    "herd_event_loop_lag_seconds",
                    "How late herd's event loop woke a 50 ms timer: a busy loop delays "
                    "every request.",
                    [((), buckets, total)],
                )
            )
        return families

    def _endpoint(self) -> list[Metric | None]:
        f, probe = self._families, self._run.probe
        if probe is None:
            return []
        latest = probe.series[-1] if probe.series else {}

        def states(fields: dict[str, str]) -> list[tuple[tuple[str], float]]:
            return [
                ((s,), value) for s, k in fields.items() if (value := latest.get(k)) is not None
            ]

        return [
            f.gauge(
                "herd_endpoint_workers",
                "Endpoint workers by state, as the provider's health API last reported them.",
                states(_PROBE_WORKERS),
                ["state"],
            ),
            f.gauge(
                "herd_endpoint_jobs",
                "Endpoint jobs by state, as the provider's health API last reported them.",
                states(_PROBE_JOBS),
                ["state"],
            ),
            f.counter(
                "herd_endpoint_probe_failures",
                "Health API polls that failed (the endpoint gauges then keep the last sample).",
                [((), probe.failures)],
            ),
        ]

    def _result(self) -> list[Metric | None]:
        f, report = self._families, self.report
        if report is None:
            return []
        # One series per distinct expression: a threshold written twice is one series.
        thresholds = {t.expr: t for t in reversed(report.thresholds)}
        return [
            f.gauge(
                "herd_run_verdict",
                "The run's verdict once it ended (passed, failed or inconclusive): 1 on the "
                "verdict it got, 0 on the others.",
                [((v,), float(report.verdict == v)) for v in VERDICTS],
                ["verdict"],
            ),
            f.gauge(
                "herd_run_client_limited",
                "1 when herd's self-check found that the client distorted the traffic.",
                [((), float(report.client_limited))],
            ),
            f.gauge(
                "herd_threshold_passed",
                "1 when the threshold held at the end of the run, 0 when it failed.",
                [((expr,), float(t.passed)) for expr, t in thresholds.items()],
                ["threshold"],
            ),
            f.gauge(
                "herd_threshold_value",
                "The value each threshold was checked against (absent when the run has none).",
                [((expr,), t.value) for expr, t in thresholds.items() if t.value is not None],
                ["threshold"],
            ),
        ]
