"""The status the operator writes on LoadTests and LoadTestRuns.

Phases, conditions and reasons are a fixed vocabulary, documented here once: the CRD
schema, ``kubectl explain``, GitOps health checks and the operator all read it from
these models. Numbers are SI (seconds, ratios); ``summary`` repeats the headline
numbers as text for ``kubectl get``.

Conditions (``status.conditions[].type``) and what their status means:

``Succeeded``
    True: every runner finished and the merged results are in ``status.results``.
    False: the run ended without complete results (``Failed`` says why).
    Unknown: the run is still in progress.
``Failed``
    True: the run could not start or ended early; ``reason`` is one of the failure
    reasons below and ``message`` names the cause (the bad field, the runner, …).
    False: the run finished (whatever its verdict). Unknown: in progress.
``ThresholdsPassed``
    True: the merged results meet every threshold (or there are none).
    False: at least one threshold failed; ``message`` lists them.
    Unknown: there are no complete results (in progress, or the run failed).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from herd.api.model import ApiModel

Phase = Literal["Pending", "Staging", "Running", "Succeeded", "Failed", "Invalid"]
TERMINAL_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Invalid"})
ConditionStatus = Literal["True", "False", "Unknown"]
Verdict = Literal["passed", "failed"]


class ConditionType(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    THRESHOLDS_PASSED = "ThresholdsPassed"


class Reason(StrEnum):
    """Every ``reason`` a condition can carry."""

    IN_PROGRESS = "InProgress"
    """Runners are being created, staging uploads or sending load."""
    COMPLETED = "Completed"
    """Every runner finished and reported its results."""
    INVALID_SPEC = "InvalidSpec"
    """The spec fails validation; no runner was started. The message names the field."""
    UNSCHEDULABLE = "Unschedulable"
    """A runner pod could not be scheduled before the synchronized start."""
    IMAGE_PULL_FAILED = "ImagePullFailed"
    """A runner image could not be pulled before the synchronized start."""
    CONTAINER_CONFIG_ERROR = "ContainerConfigError"
    """A runner could not start, e.g. a Secret or key named in ``spec.runner`` is missing."""
    OOM_KILLED = "OOMKilled"
    """A runner exceeded its memory limit and was killed."""
    RUNNER_FAILED = "RunnerFailed"
    """A runner exited with an error (the message has its exit code and output)."""
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    """The runner Job ran past its deadline (``maxDuration`` plus a margin)."""
    JOB_DELETED = "JobDeleted"
    """The runner Job disappeared before the run finished (deleted by hand?)."""
    JOB_REJECTED = "JobRejected"
    """The API server refused the runner Job or its ConfigMap (message has its reason)."""
    RESULTS_MISSING = "ResultsMissing"
    """A runner finished without a readable summary in its termination message."""
    THRESHOLDS_MET = "ThresholdsMet"
    """Every threshold holds on the merged results."""
    THRESHOLDS_FAILED = "ThresholdsFailed"
    """At least one threshold fails on the merged results."""
    NO_RESULTS = "NoResults"
    """No complete results to judge: in progress, or the run failed."""


class Condition(ApiModel):
    """The state of one aspect of the object (Kubernetes ``metav1.Condition``)."""

    type: ConditionType
    status: ConditionStatus
    reason: Reason
    message: str = ""
    last_transition_time: str
    """When ``status`` last changed (RFC 3339)."""
    observed_generation: int | None = None


class RequestCounts(ApiModel):
    """Every planned request is accounted for: planned = ok + failed + neverSent."""

    planned: int
    sent: int
    ok: int
    failed: int
    never_sent: int


class LatencySeconds(ApiModel):
    """Latency from each request's intended start, from the merged histograms."""

    p50: float
    p90: float
    p95: float
    p99: float
    p999: float
    min: float
    max: float
    mean: float
    significant_digits: int
    """Precision of the merged histogram (3: within 0.1%); runners lower it only
    when a very wide histogram would not fit their termination message."""


class WorkerCounts(ApiModel):
    """Endpoint workers that answered, across all runners."""

    distinct: int
    """Distinct workers (a lower bound when ``exact`` is false)."""
    exact: bool
    """False when some runner saw more workers than its summary can list."""
    requests: dict[str, int] = Field(default_factory=dict)
    """Requests served per worker (the busiest ones)."""


class ThresholdOutcome(ApiModel):
    expr: str
    value: float | None
    passed: bool


class RunResults(ApiModel):
    """The runners' summaries, merged exactly (histograms, never averaged percentiles)."""

    runners_reported: int
    """Runners whose summary is included (all of them when the run succeeded)."""
    requests: RequestCounts
    errors: dict[str, int] = Field(default_factory=dict)
    """Failed requests by class (``http_503``, ``timeout``, …; rare ones under ``~other``)."""
    never_sent_reasons: dict[str, int] = Field(default_factory=dict)
    latency: LatencySeconds | None = None
    error_rate: float | None = None
    """(failed + neverSent) / planned."""
    throughput_rps: float
    """Completed requests per second over the runners' common load window."""
    duration_seconds: float
    """From the first runner starting its load to the last one finishing."""
    start_skew_seconds: float
    """Spread of the runners' load start times (ideally near 0: a synchronized start)."""
    burst_spread_seconds: float | None = None
    """Burst only: first to last request leaving, across runners (an upper bound)."""
    workers: WorkerCounts
    client_limited: bool
    """True when some runner found that the client distorted the traffic."""
    diagnostics: list[str] = Field(default_factory=list)
    stopped: str | None = None
    thresholds: list[ThresholdOutcome] = Field(default_factory=list)
    verdict: Verdict


class RunSummary(ApiModel):
    """Headline numbers as text, for ``kubectl get`` columns."""

    run: str | None = None
    """The run these numbers come from (on a LoadTest: its latest finished run)."""
    p95: str | None = None
    error_rate: str | None = None
    workers: int | None = None
    verdict: Verdict | None = None


class RunnerCounts(ApiModel):
    """Runner pods by state."""

    total: int
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0


class LoadTestRunStatus(ApiModel):
    phase: Phase
    """Pending: runner pods are being created, scheduled or pulled. Staging: runners are
    up, staging uploads and waiting for the synchronized start. Running: load is being
    sent. Succeeded: every runner finished and results are merged (see ``verdict``).
    Failed: the run could not complete. Invalid: the spec is invalid; nothing ran."""
    verdict: Verdict | None = None
    """passed: the run succeeded and every threshold holds; failed: a threshold failed
    or the run failed. Unset while the run is in progress."""
    message: str = ""
    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    job_name: str | None = None
    """The runner Job, once it has been seen."""
    release_time: str | None = None
    """When the runners start their load together (RFC 3339)."""
    start_time: str | None = None
    completion_time: str | None = None
    runners: RunnerCounts | None = None
    results: RunResults | None = None
    summary: RunSummary | None = None


class LoadTestStatus(ApiModel):
    phase: Phase | Literal["Idle", "Scheduled"]
    """The phase of the latest run; Invalid when the spec is invalid; Scheduled when
    waiting for the first scheduled run; Idle when there is nothing to run."""
    message: str = ""
    observed_generation: int | None = None
    active: list[str] = Field(default_factory=list)
    """Runs in progress."""
    last_run: str | None = None
    """The most recently started run."""
    summary: RunSummary | None = None
    """Headline results of the latest finished run."""
    last_schedule_time: str | None = None
    """The most recent time the schedule was due (whether or not a run started)."""
    next_schedule_time: str | None = None
    last_successful_time: str | None = None
    last_applied_generation: int | None = None
    """The spec generation the latest ``apply`` run was started for."""
    last_trigger: str | None = None
    """The ``herd.dev/trigger`` annotation value the latest manual run was started for."""
