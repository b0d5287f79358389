"""The status the operator writes on LoadTests and LoadTestRuns.

Phases, conditions and reasons are a fixed vocabulary, documented here once: the CRD
schema, ``kubectl explain``, GitOps health checks and the operator all read it from
these models. Numbers are SI (seconds, ratios); ``summary`` repeats the headline
numbers as text for ``kubectl get``.

Conditions (``status.conditions[].type``), on LoadTestRuns and LoadTests alike, and
what their status means (docs/verdicts.md has the table with every reason). A LoadTest's
``Succeeded``, ``Failed``, ``ThresholdsPassed`` and ``Inconclusive`` mirror its latest
finished run (the message names it) and are Unknown while a newer run is in progress, so
``kubectl wait lt/NAME --for=condition=ThresholdsPassed`` waits for that run's verdict.

``Ready``
    True: the spec is valid and the operator accepted it. False: the spec is invalid
    (``InvalidSpec``) or the API server refused the runners (``JobRejected``).
``Running``
    True: runners are up (staging, then sending load); on a LoadTest, a run is in
    progress. False: not yet, or no longer.
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
    Unknown: there are no complete results (in progress, or the run failed), or the
    verdict is inconclusive (reason ``Inconclusive``: ``message`` says why).
``Inconclusive``
    True: the verdict is inconclusive (the client limited the run, or results are
    missing; ``message`` says which). False: the verdict is passed or failed.
    Unknown: in progress.
``Reconciling`` and ``Stalled`` (abnormal-true, as kstatus and Flux read them)
    Reconciling is True while a run is in progress. Stalled is True when the spec is
    invalid, the run failed, or its verdict is failed or inconclusive: nothing more will
    happen until the spec changes or a new run starts. With neither True and
    ``observedGeneration`` current, kstatus calls the object Current (healthy).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from herd.api.model import ApiModel
from herd.api.verdicts import Verdict

Phase = Literal["Pending", "Staging", "Running", "Succeeded", "Failed", "Invalid"]
TERMINAL_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Invalid"})
ConditionStatus = Literal["True", "False", "Unknown"]


class ConditionType(StrEnum):
    READY = "Ready"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    THRESHOLDS_PASSED = "ThresholdsPassed"
    INCONCLUSIVE = "Inconclusive"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


class Reason(StrEnum):
    """Every ``reason`` a condition can carry."""

    ACCEPTED = "Accepted"
    """The spec is valid and the operator accepted it."""
    IN_PROGRESS = "InProgress"
    """Runners are being created, staging uploads or sending load."""
    STARTING = "Starting"
    """Runner pods are being created, scheduled or pulled."""
    STAGING = "Staging"
    """Runners are up, staging uploads and waiting for the synchronized start."""
    SENDING_LOAD = "SendingLoad"
    """Runners are sending load."""
    NO_ACTIVE_RUN = "NoActiveRun"
    """A LoadTest with no run in progress."""
    WAITING_FOR_CAPACITY = "WaitingForCapacity"
    """The namespace has as many runs with runners up as the operator allows
    (``limits.maxActiveRunsPerNamespace``); this one starts when one of them ends."""
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
    INCONCLUSIVE = "Inconclusive"
    """The results cannot pass or fail the thresholds: the client limited the run, or
    results are missing (the message says which)."""
    CONCLUSIVE = "Conclusive"
    """The verdict is passed or failed: the run measured the endpoint."""


class Condition(ApiModel):
    """The state of one aspect of the object (Kubernetes ``metav1.Condition``)."""

    type: ConditionType
    """Ready, Running, Succeeded, Failed, ThresholdsPassed, Inconclusive, Reconciling or
    Stalled."""
    status: ConditionStatus
    """True, False or Unknown (not decided yet)."""
    reason: Reason
    """Why, in one CamelCase word (e.g. ``OOMKilled``, ``ThresholdFailed``)."""
    message: str = ""
    """Why, for people."""
    last_transition_time: str
    """When ``status`` last changed (RFC 3339)."""
    observed_generation: int | None = None
    """The object's ``metadata.generation`` the condition was set for."""


class RequestCounts(ApiModel):
    """Every planned request is accounted for: planned = ok + failed + neverSent + unknown."""

    planned: int
    """Requests the run set out to send."""
    sent: int
    """Requests that left the client and ended (ok + failed)."""
    ok: int
    """Requests answered with a 2xx or 3xx status."""
    failed: int
    """Requests sent that ended in an error status, a timeout or a connection error."""
    never_sent: int
    """Planned requests never sent (stopped, maxDuration, a failed upload, ...)."""
    unknown: int = 0
    """Planned requests whose fate is unknown: a runner's process died with its records
    (``process_lost``). They may or may not have reached the endpoint; none is a success."""


class LatencySeconds(ApiModel):
    """Latency from each request's intended start, from the merged histograms."""

    p50: float
    """Median, seconds."""
    p90: float
    """90th percentile, seconds."""
    p95: float
    """95th percentile, seconds."""
    p99: float
    """99th percentile, seconds."""
    p999: float
    """99.9th percentile, seconds."""
    min: float
    """Fastest request, seconds."""
    max: float
    """Slowest request, seconds."""
    mean: float
    """Mean, seconds."""
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
    """One threshold of the spec, judged on the merged results."""

    expr: str
    """The threshold as written, e.g. ``p95 < 2s``."""
    value: float | None
    """The measured value (seconds for latencies, a fraction for ``error_rate``); unset
    when there was nothing to measure."""
    passed: bool
    """Whether the measured value satisfies the threshold."""
    implicit: bool = False
    """Not written in the spec: herd's rule that a run in which no request succeeded
    fails (``ok > 0``), listed only when it does."""


class SelfCheckRules(ApiModel):
    """The runners' self-checks by rule (names as in ``spec.selfCheck.ignore``)."""

    limited_by: list[str] = Field(default_factory=list)
    """Rules that found the client limited some runner (``process_lost``: a process of a
    runner left no results); any makes the verdict inconclusive."""
    ignored: list[str] = Field(default_factory=list)
    """Rules that fired on some runner but ``spec.selfCheck.ignore`` names: not counted."""


class RunResults(ApiModel):
    """The runners' summaries, merged exactly (histograms, never averaged percentiles)."""

    runners_reported: int
    """Runners whose summary is included (all of them when the run succeeded)."""
    missing_runners: list[int] = Field(default_factory=list)
    """Indexes of the runners that left no results (killed, evicted, lost with their
    node): what each planned is counted in ``requests.unknown`` (reason
    ``runner_lost``), and the verdict is inconclusive."""
    requests: RequestCounts
    """Requests by outcome."""
    errors: dict[str, int] = Field(default_factory=dict)
    """Failed requests by class (``http_503``, ``timeout``, …; rare ones under ``~other``)."""
    never_sent_reasons: dict[str, int] = Field(default_factory=dict)
    """Never-sent requests by reason (``SIGTERM``, ``max_duration``, ``s3_<Code>``, ...)."""
    unknown_reasons: dict[str, int] = Field(default_factory=dict)
    """Requests of unknown fate by reason (``process_lost``: a runner's process died;
    ``runner_lost``: a whole runner left no results)."""
    latency: LatencySeconds | None = None
    """Latency percentiles; unset when no request completed."""
    error_rate: float | None = None
    """(failed + neverSent + unknown) / planned."""
    throughput_rps: float
    """Completed requests per second over the runners' common load window."""
    duration_seconds: float
    """From the first runner starting its load to the last one finishing."""
    start_skew_seconds: float
    """Spread of the runners' load start times (ideally near 0: a synchronized start)."""
    burst_spread_seconds: float | None = None
    """Burst only: first to last request leaving, across runners (an upper bound)."""
    workers: WorkerCounts
    """Endpoint workers that answered."""
    client_limited: bool
    """True when some runner found that the client distorted the traffic (by a rule the
    spec does not ignore)."""
    self_check: SelfCheckRules = Field(default_factory=SelfCheckRules)
    """Which self-check rules fired, counted or ignored by the spec."""
    diagnostics: list[str] = Field(default_factory=list)
    """What the runners' self-checks found, in plain words."""
    stopped: str | None = None
    """Why the load stopped early (``SIGTERM``, ``max_duration``, ...); unset when it ran
    to the end."""
    thresholds: list[ThresholdOutcome] = Field(default_factory=list)
    """Each threshold and its measured value."""
    verdict: Verdict
    """passed: every threshold holds; failed: a threshold failed or no request succeeded;
    inconclusive: the client limited the run, or a runner's results are missing
    (docs/verdicts.md)."""
    verdict_reason: str = ""
    """Why the verdict is not passed, in one line: the thresholds that failed, or what
    made the run inconclusive."""
    source: Literal["store", "summaries"] | None = None
    """Where these numbers come from. store: the exact merge of the runners' full reports
    in the results store (``report``, ``html``); summaries: the runners' termination-message
    summaries (busiest workers only, histograms maybe coarser), when no store is set or the
    merge failed (``diagnostics`` and an Event say why)."""
    report: str | None = None
    """The merged report (``s3://…/merged.json``), when ``source`` is store."""
    html: str | None = None
    """The merged HTML report (``s3://…/report.html``), when ``source`` is store."""


class RunSummary(ApiModel):
    """Headline numbers as text, for ``kubectl get`` columns."""

    run: str | None = None
    """The run these numbers come from (on a LoadTest: its latest finished run)."""
    p95: str | None = None
    """95th percentile latency, e.g. ``1.42s``."""
    error_rate: str | None = None
    """(failed + neverSent + unknown) / planned, e.g. ``0.5%``."""
    workers: int | None = None
    """Distinct endpoint workers that answered."""
    verdict: Verdict | None = None
    """passed, failed or inconclusive."""
    verdict_reason: str | None = None
    """Why the verdict is not passed, in one line (the failed thresholds, or what made
    the run inconclusive: its first self-check finding, or why the run failed)."""


class RunnerCounts(ApiModel):
    """Runner pods by state."""

    total: int
    """Runner pods of the run (its parallelism)."""
    pending: int = 0
    """Not started yet (scheduling, pulling the image)."""
    running: int = 0
    """Running (staging or sending load)."""
    succeeded: int = 0
    """Finished and reported a summary."""
    failed: int = 0
    """Ended with an error."""


class LoadTestRunStatus(ApiModel):
    """What the run did: written by the operator only."""

    phase: Phase
    """Pending: runner pods are being created, scheduled or pulled. Staging: runners are
    up, staging uploads and waiting for the synchronized start. Running: load is being
    sent. Succeeded: every runner finished and results are merged (see ``verdict``).
    Failed: the run could not complete. Invalid: the spec is invalid; nothing ran."""
    verdict: Verdict | None = None
    """passed: the run succeeded and every threshold holds; failed: a threshold failed,
    no request succeeded, or the spec is invalid; inconclusive: the client limited the
    run, or the run failed before all its results were in. Unset while in progress."""
    message: str = ""
    """What is happening or went wrong, for people."""
    observed_generation: int | None = None
    """The ``metadata.generation`` this status was written for."""
    conditions: list[Condition] = Field(default_factory=list)
    """Ready, Running, Succeeded, Failed, ThresholdsPassed, Inconclusive, Reconciling and
    Stalled, Kubernetes-style (meanings in docs/verdicts.md)."""
    job_name: str | None = None
    """The runner Job, once it has been seen."""
    release_time: str | None = None
    """When the runners start their load together (RFC 3339)."""
    start_time: str | None = None
    """When the operator first saw the run (RFC 3339)."""
    completion_time: str | None = None
    """When the run reached Succeeded, Failed or Invalid (RFC 3339)."""
    runners: RunnerCounts | None = None
    """Runner pods by state."""
    results: RunResults | None = None
    """The merged results, once runners have reported."""
    summary: RunSummary | None = None
    """Headline numbers for ``kubectl get``."""


class LoadTestStatus(ApiModel):
    """The LoadTest's runs at a glance: written by the operator only."""

    phase: Phase | Literal["Idle", "Scheduled"]
    """The phase of the latest run; Invalid when the spec is invalid; Scheduled when
    waiting for the first scheduled run; Idle when there is nothing to run."""
    message: str = ""
    """Why the LoadTest is Invalid or waiting, for people."""
    observed_generation: int | None = None
    """The ``metadata.generation`` this status was written for."""
    conditions: list[Condition] = Field(default_factory=list)
    """Ready, Running and Reconciling of the LoadTest itself; Succeeded, Failed,
    ThresholdsPassed, Inconclusive and Stalled of its latest finished run (Unknown while a
    newer run is in progress)."""
    active: list[str] = Field(default_factory=list)
    """Runs in progress."""
    last_run: str | None = None
    """The most recently started run."""
    summary: RunSummary | None = None
    """Headline results of the latest finished run."""
    last_schedule_time: str | None = None
    """The most recent time the schedule was due (whether or not a run started)."""
    next_schedule_time: str | None = None
    """When the schedule is due next (RFC 3339)."""
    last_successful_time: str | None = None
    """When a run last succeeded (RFC 3339)."""
    last_applied_generation: int | None = None
    """The spec generation the latest ``apply`` run was started for."""
    last_trigger: str | None = None
    """The ``herd.dev/trigger`` annotation value the latest manual run was started for."""
