"""The run report: what ``herd run --report`` writes and what runners hand to the operator.

Keys are snake_case and stable; a field is only ever added. Latency is measured
from each request's intended start (so a client that falls behind shows up as
latency, not as silence); ``histograms`` carry the HdrHistograms so several
runners' reports merge exactly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from herd.api.verdicts import Verdict

REPORT_VERSION = 1


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Requests(_Section):
    """Every planned request in exactly one bucket: planned = ok + failed + never_sent +
    unknown, and sent = ok + failed. The endpoint can have received no more than
    ``sent + unknown`` of them."""

    planned: int
    """Requests the run set out to send. When only time bounds the load (a closed loop
    with a duration), the requests it launched; a lost process adds its last known count."""
    sent: int
    """Requests herd saw leave the client and end, as ok or failed. A lost process's
    requests are not in it, whatever it had sent: they are ``unknown``."""
    ok: int
    failed: int
    never_sent: int
    """Planned requests that provably never left the client (reasons in
    ``never_sent_reasons``)."""
    unknown: int = 0
    """Planned requests whose fate herd cannot know: a process that sent them died with
    its records (reasons in ``unknown_reasons``, e.g. ``process_lost``). Each may or may
    not have reached the endpoint; none counts as a success."""


class Responses(_Section):
    body_bytes: int
    """Response body bytes received, after Content-Encoding is undone. Every body is
    read to its last byte, so this is all the endpoint sent."""
    bodies_cut: int
    """Bodies longer than ``spec.target.keepResponseBytes``: read and counted, never
    held, so no worker id, ``delayTime`` or ``executionTime`` was read from them."""


class Percentiles(_Section):
    p50: float
    p90: float
    p95: float
    p99: float
    p999: float
    min: float
    max: float
    mean: float


class Concurrency(_Section):
    target: int | None
    """In flight the pattern aimed for (burst: its size; concurrency: N; rate: none)."""
    peak_in_flight: int
    burst_spread_seconds: float | None
    """Burst only: first to last request leaving the client (headers written)."""


class Workers(_Section):
    distinct: int
    requests: dict[str, int]
    first_seen_seconds: dict[str, float]
    """Seconds from the run's start to each worker's first response (the scale-out timeline)."""
    time_to_workers_seconds: dict[str, float]
    """Seconds from the run's start until N distinct workers had answered, for N = 1, 2, …"""


class Uploads(_Section):
    objects: int
    bytes: int
    failed: int
    retries: int
    throttled: int
    peak_in_flight: int
    concurrency: int
    errors: dict[str, int]
    latency_seconds: Percentiles | None
    duration_seconds: float
    cleanup_deleted: int
    cleanup_failed: int


class ProbeSample(_Section):
    t: float
    """Seconds since the run started."""
    workers_running: float | None
    workers_idle: float | None
    workers_initializing: float | None
    jobs_in_queue: float | None
    jobs_in_progress: float | None


class ScalingProbe(_Section):
    samples: int
    failures: int
    errors: dict[str, int]
    interval_seconds: float
    max_workers_running: float | None
    max_in_queue: float | None
    series: list[ProbeSample]


class ThresholdResult(_Section):
    expr: str
    value: float | None
    passed: bool
    implicit: bool = False
    """Not written in the spec: herd's own rule that a run in which no request
    succeeded fails (``ok > 0``), listed only when it does."""


class Client(_Section):
    """How the load generator itself fared: the evidence behind ``client_limited``."""

    scheduling_lag_seconds: Percentiles | None
    """Intended start to sending, less any pool wait: how late the client itself was."""
    pool_wait_seconds: Percentiles | None
    """Waits for a free pooled connection of the requests that waited and were sent (pattern
    rate: at ``load.maxInFlight``, from the due time); part of their latency."""
    pool_waits: int
    """Requests sent after waiting for a pooled connection."""
    event_loop_lag_seconds: Percentiles | None
    cpu_utilization: float
    """Process CPU time over wall time (1.0 = one core busy throughout); for a runner of
    several processes (``--processes``), the busiest one's."""
    pool_size: int


class SelfCheck(_Section):
    """The self-check by rule (names as ``spec.selfCheck.ignore`` writes them, see
    ``herd.api.verdicts.SelfCheckRule``); each rule that fired also has a diagnostic."""

    limited_by: list[str] = Field(default_factory=list)
    """Rules that found the client limited the run, and ``process_lost`` when a process
    left no results: any makes ``client_limited`` true and the verdict inconclusive."""
    ignored: list[str] = Field(default_factory=list)
    """Rules that found the client limited the run but ``spec.selfCheck.ignore`` names:
    they do not count toward the verdict."""


class TimelineBucket(_Section):
    t: float
    """Start of the bucket, seconds since the run started."""
    sent: int
    ok: int
    failed: int
    errors: dict[str, int]
    peak_in_flight: int
    new_workers: int
    active_workers: int
    """Distinct workers that answered within the bucket."""
    uploads: int
    """Objects staged within the bucket."""
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    """Latency percentiles of requests ending in the bucket, within 5% (for plots;
    the exact figures are ``latency_seconds``)."""


class Timeline(_Section):
    bucket_seconds: float
    buckets: list[TimelineBucket]


class Report(_Section):
    report_version: int = REPORT_VERSION
    herd_version: str
    loadtest: str
    namespace: str | None
    run_id: str
    runner: int
    runners: int
    started_at: str
    """Wall-clock start (UTC, ISO 8601)."""
    load_started_at: str | None = None
    """Wall-clock time the load was released, after staging (UTC, ISO 8601); None when
    the run stopped before. Runners' values give the start skew of a parallel run."""
    pattern: Literal["burst", "concurrency", "rate"]
    target: str
    """The target URL as written in the spec (``${VAR}`` not expanded)."""
    duration_seconds: float
    throughput_rps: float
    """Completed requests (ok + failed) per second of load."""
    requests: Requests
    errors: dict[str, int]
    """Failed requests by class: ``http_<code>``, ``timeout``, ``connect``, ``aborted``, …"""
    never_sent_reasons: dict[str, int]
    """Planned requests never sent, by reason: ``load_ended`` (the load's time was up while
    they waited for their turn: a connection at ``maxInFlight``, or a closed loop),
    ``pool_timeout`` (no free connection within ``poolTimeout``), ``behind_schedule`` (rate:
    the client itself was too busy to send them before the load's end), ``SIGTERM``,
    ``max_duration``, ``template_error``, ``s3_<Code>``, …"""
    unknown_reasons: dict[str, int] = Field(default_factory=dict)
    """Requests of unknown fate (``requests.unknown``) by reason: ``process_lost``."""
    status_codes: dict[str, int]
    latency_seconds: Percentiles | None
    service_time_seconds: Percentiles | None
    """From sending to the last byte (latency minus the client's own delays)."""
    ttfb_seconds: Percentiles | None
    queue_delay_seconds: Percentiles | None
    """Endpoint-reported queue time (``delayTime``), when responses carry it."""
    execution_seconds: Percentiles | None
    """Endpoint-reported execution time (``executionTime``), when responses carry it."""
    responses: Responses | None = None
    """What the response bodies weighed (None in reports of herd versions before it)."""
    concurrency: Concurrency
    workers: Workers
    uploads: Uploads | None
    scaling_probe: ScalingProbe | None
    client: Client
    thresholds: list[ThresholdResult]
    verdict: Verdict
    """``passed``, ``failed`` or ``inconclusive`` (the client limited the run, or results
    are incomplete): decided by ``herd.api.verdicts.decide``, explained in docs/verdicts.md."""
    verdict_reason: str = ""
    """Why the verdict is not passed, in one line: the thresholds that failed, or what
    made the run inconclusive. Empty when it passed."""
    client_limited: bool
    """A self-check rule the spec does not ignore found that the client, not the
    endpoint, limited the run (``self_check.limited_by`` names them)."""
    self_check: SelfCheck = Field(default_factory=SelfCheck)
    diagnostics: list[str]
    """The self-check's findings in plain words: first those that limited the run
    (``client-limited: …``), then those the spec ignores, then notes."""
    stopped: str | None
    """Why the run ended early: ``SIGTERM``, ``SIGINT``, ``max_duration``, or ``max_requests``
    (a time-bound closed loop reached the operator's request cap); None if it ran out."""
    timeline: Timeline
    histograms: dict[str, str] = Field(default_factory=dict)
    """Base64 HdrHistograms (microseconds) for exact merging across runners."""
