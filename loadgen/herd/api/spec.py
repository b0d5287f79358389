"""The ``LoadTest`` API (``herd.dev/v1alpha1``): the single source of truth.

Everything that reads or describes a LoadTest comes from these models: ``herd run``
validates files with them, the operator validates objects with them, and the CRD
schema and the spec reference docs are generated from them. Field names follow the
Kubernetes convention (camelCase on the wire, snake_case in Python); unknown fields
are rejected so that a typo never silently falls back to a default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from herd.api.credentials import credential_word
from herd.api.cron import ScheduleSpec
from herd.api.durations import Duration
from herd.api.errors import FieldError
from herd.api.model import ApiModel, Headers, HttpUrlText
from herd.api.results import ResultsSpec
from herd.api.runner import RunnerSpec
from herd.api.thresholds import Threshold, parse_threshold
from herd.api.verdicts import SELF_CHECK_RULES, SelfCheckRule

API_GROUP = "herd.dev"
API_VERSION = "v1alpha1"
KIND = "LoadTest"
DEFAULT_WORKER_ID_HEADER = "X-Runpod-Worker-Id"

# Guard rails: a typo in a load spec must not turn into an accidental DDoS.
MAX_REQUESTS = 10_000_000
MAX_CONCURRENCY = 100_000
MAX_RATE = 100_000.0
MAX_PARALLELISM = 100
# Uploaded objects are held in memory, synthetic ones and files from a directory alike.
MAX_OBJECT_BYTES = 256 * 1024**2
DEFAULT_KEEP_RESPONSE_BYTES = 1 << 20
MAX_KEEP_RESPONSE_BYTES = 64 << 20


class WorkerIdSpec(ApiModel):
    """Where a response says which endpoint worker served it. A worker id is shown in
    reports and status, so it must not be a credential: headers and JSON fields whose
    names plainly carry one (``Set-Cookie``, ``Authorization``, ``$.db.password``, …)
    are refused, and a value that is not a short plain token (``[A-Za-z0-9]`` then up
    to 63 of ``[A-Za-z0-9._:@/-]``), or is a JSON object or list, is replaced by
    ``h-`` and 16 hex digits of its hash: still one id per worker, nothing readable."""

    header: str | None = DEFAULT_WORKER_ID_HEADER
    """Response header carrying the worker id (load-balancing endpoints)."""
    json_path: str | None = None
    """JSONPath into a JSON response body, e.g. ``$.workerId`` (queue endpoints).
    Used when the header is absent."""

    @field_validator("header")
    @classmethod
    def _not_a_credential_header(cls, header: str | None) -> str | None:
        if header is not None and (word := credential_word(header)):
            why = "carries credentials" if word == header else f"names a credential ({word!r})"
            raise ValueError(
                f"{header!r} {why}: a worker id is shown in reports and status, so it "
                "must not be read from such a header"
            )
        return header

    @field_validator("json_path")
    @classmethod
    def _a_json_path_to_no_credential(cls, json_path: str | None) -> str | None:
        if json_path is None:
            return None
        from jsonpath_ng.parser import parse as parse_json_path

        try:
            parse_json_path(json_path)
        except Exception as error:  # jsonpath-ng raises several unrelated types
            raise ValueError(f"jsonPath {json_path!r} does not parse: {error}") from None
        if word := credential_word(json_path):
            raise ValueError(
                f"{json_path!r} names a credential ({word!r}): a worker id is shown in "
                "reports and status, so it must not be read from such a field"
            )
        return json_path


class TargetSpec(ApiModel):
    """The endpoint under test and how to call it."""

    url: HttpUrlText
    """URL to call. ``${VAR}`` expands from the environment at run time; the URL is
    checked again after expansion, and may not carry ``user:password@`` (use a header)."""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] | None = None
    """HTTP method; GET by default, POST when a body is set."""
    headers: Headers = Field(default_factory=dict)
    """Request headers. ``${VAR}`` expands from the environment; values are never logged.
    Names are HTTP tokens; values (expanded too) may not hold CR, LF or other controls."""
    body: str | None = None
    """Request body, a sandboxed Jinja2 template rendered per request with ``request``
    (``index``, ``runner``) and ``uploads`` (each with ``key``, ``url``, ``uri``, ``size``).
    A render that fails, or builds more than 16 Mi characters at once, is that request's
    ``template_error``."""
    timeout: Duration = Field(default=150.0, gt=0)
    """Whole-request timeout, from taking a pooled connection (connect included) to the
    last byte of the response."""
    connect_timeout: Duration = Field(default=10.0, gt=0)
    """Timeout for opening a TCP/TLS connection."""
    pool_timeout: Duration = Field(default=30.0, gt=0)
    """Pattern rate: how long an arrival may wait, from its due time, for a free connection
    while ``load.maxInFlight`` requests are in flight. One that gets none in time is never
    sent (``pool_timeout``); the wait of one that does is its pool wait, part of its latency.
    Other patterns size the pool to their load and never wait."""
    worker_id: WorkerIdSpec = Field(default_factory=WorkerIdSpec)
    """How to tell which endpoint worker served a request."""
    keep_response_bytes: StrictInt = Field(
        default=DEFAULT_KEEP_RESPONSE_BYTES, ge=0, le=MAX_KEEP_RESPONSE_BYTES, strict=True
    )
    """Response bodies up to this many bytes (after Content-Encoding is undone) are held
    to read ``workerId.jsonPath``, ``delayTime`` and ``executionTime`` from them. Longer
    bodies are still read to the last byte (the timing stays the endpoint's) and counted
    in the report, but never held, so an endpoint sending a huge or endless body cannot
    exhaust the runner's memory: at most this much per request in flight."""

    @field_validator("body")
    @classmethod
    def _body_parses(cls, body: str | None) -> str | None:
        if body is not None:
            try:
                ImmutableSandboxedEnvironment().parse(body)
            except TemplateError as error:
                raise ValueError(f"template does not parse: {error}") from None
            except RecursionError:  # Jinja's parser recurses into nested expressions
                raise ValueError("template does not parse: nested too deeply") from None
        return body

    @property
    def effective_method(self) -> str:
        return self.method or ("POST" if self.body is not None else "GET")


class SyntheticSource(ApiModel):
    """Generated objects of a fixed size, each with distinct content."""

    size_bytes: StrictInt = Field(ge=1, le=MAX_OBJECT_BYTES)
    """Size of every object, in bytes (at most 256 MiB: objects are held in memory)."""


class UploadSource(ApiModel):
    """What to upload: exactly one of ``synthetic`` or ``directory``."""

    synthetic: SyntheticSource | None = None
    directory: str | None = None
    """A local directory; its files (sorted by name) are cycled across requests. Each is
    at most 256 MiB, and a symbolic link in it must stay inside it."""

    @model_validator(mode="after")
    def _exactly_one(self) -> UploadSource:
        if (self.synthetic is None) == (self.directory is None):
            raise ValueError("set exactly one of synthetic or directory")
        return self


class UploadSpec(ApiModel):
    """Stage inputs to S3 (or an S3-compatible store) for each request.

    Credentials come from the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_SESSION_TOKEN``, or any source the AWS SDK reads), never from the spec."""

    endpoint: HttpUrlText | None = None
    """S3 API endpoint for S3-compatible stores; AWS when unset."""
    region: str | None = None
    """S3 region (for S3-compatible stores, the provider's name, e.g. ``eu-ro-1``);
    the AWS SDK's default when unset."""
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    """Bucket the inputs are staged to; it must exist, and the credentials must be
    allowed to write to it."""
    prefix: str = "herd/"
    """Key prefix; herd adds ``<run id>/`` below it so runs never collide."""
    per_request: StrictInt = Field(default=1, ge=1, le=100)
    """Objects staged for each request (the incident: 3 images per request)."""
    source: UploadSource
    concurrency: StrictInt = Field(default=16, ge=1, le=1024)
    """Uploads in flight at once. The S3 connection pool is sized to this bound."""
    url: Literal["presigned", "s3uri"] = "presigned"
    """What ``uploads[].url`` holds: a presigned GET URL or ``s3://bucket/key``."""
    url_expiry: Duration = Field(default=3600.0, gt=0, le=7 * 24 * 3600)
    """Lifetime of presigned URLs."""
    mode: Literal["prestage", "inline"] = "prestage"
    """prestage: all uploads finish before any call is released. inline: each call
    waits for its own uploads (calls can then only go as fast as S3 allows)."""
    cleanup: StrictBool = True
    """Delete the staged objects when the run ends."""
    max_attempts: StrictInt = Field(default=5, ge=1, le=20)
    """Attempts per object; throttling (SlowDown, 503) and connection errors are
    retried with jittered exponential backoff."""


class Stage(ApiModel):
    """One step of a ramp: move linearly to ``target`` requests per second."""

    duration: Duration = Field(gt=0)
    """How long this step lasts."""
    target: StrictFloat = Field(ge=0, le=MAX_RATE)
    """Arrival rate in requests per second reached at the end of the step."""


class LoadSpec(ApiModel):
    """The shape of the traffic."""

    pattern: Literal["burst", "concurrency", "rate"] = "burst"
    """burst: every request released at once after staging. concurrency: keep N in
    flight (closed loop). rate: open-loop arrivals at a rate, latency measured from
    each request's intended start."""
    requests: StrictInt | None = Field(default=None, ge=1, le=MAX_REQUESTS)
    """Total requests (burst: required; concurrency and rate: an optional cap)."""
    concurrency: StrictInt | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    """Requests in flight (pattern concurrency)."""
    rate: StrictFloat | None = Field(default=None, gt=0, le=MAX_RATE)
    """Arrivals per second (pattern rate)."""
    stages: list[Stage] = Field(default_factory=list)
    """Ramp for pattern rate, instead of rate and duration; starts from 0 req/s."""
    duration: Duration | None = Field(default=None, gt=0)
    """How long to generate load (concurrency, rate). When it ends nothing more is sent:
    arrivals still waiting for a connection and requests not yet started are never sent
    (``load_ended``), and requests in flight get ``drainTimeout``."""
    max_duration: Duration = Field(default=900.0, gt=0)
    """Hard stop for every pattern, staging and draining included: when it passes,
    nothing more is sent and requests still in flight are aborted and counted."""
    max_in_flight: StrictInt | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    """Pattern rate: cap on requests in flight, and the size of the HTTP connection pool.
    An arrival due while it is reached waits for a connection, at most
    ``target.poolTimeout`` and never past the load's end; its latency counts from its due
    time. Default: 30 s of arrivals, 64 to 10,000."""
    preconnect: StrictBool | None = None
    """Pattern burst (default true): open the burst's connections before its barrier and
    hold its requests in the kernel until every one is written, so they leave together
    instead of at one core's pace. false: each request opens its own connection after
    the barrier, and its latency includes the handshake."""
    drain_timeout: Duration = Field(default=30.0, ge=0)
    """How long requests in flight may finish after a time-bound load (``duration`` or
    ``stages``) ends or the run is stopped, before they are aborted (and counted): such a
    run ends within ``duration + drainTimeout`` after staging. A load bounded by a count
    alone (burst; concurrency with only ``requests``) lets each request run to
    ``target.timeout``; ``maxDuration`` bounds every run."""

    @model_validator(mode="after")
    def _fields_fit_pattern(self) -> LoadSpec:
        used_by = {
            "requests": {"burst", "concurrency", "rate"},
            "concurrency": {"concurrency"},
            "rate": {"rate"},
            "stages": {"rate"},
            "duration": {"concurrency", "rate"},
            "max_in_flight": {"rate"},
            "preconnect": {"burst"},
        }
        for field, patterns in used_by.items():
            value = getattr(self, field)
            if value not in (None, []) and self.pattern not in patterns:
                raise FieldError(
                    to_camel(field),
                    f"not used by pattern {self.pattern} (only by {', '.join(sorted(patterns))})",
                )
        if self.pattern == "burst" and self.requests is None:
            raise FieldError("requests", "pattern burst needs the number of requests")
        if self.pattern == "concurrency":
            if self.concurrency is None:
                raise FieldError("concurrency", "pattern concurrency needs it")
            if self.requests is None and self.duration is None:
                raise FieldError("duration", "pattern concurrency needs requests, duration or both")
        if self.pattern == "rate":
            if (self.rate is None) == (not self.stages):
                raise FieldError("rate", "pattern rate needs exactly one of rate or stages")
            if self.rate is not None and self.duration is None:
                raise FieldError("duration", "pattern rate needs a duration")
            if self.stages and self.duration is not None:
                raise FieldError("duration", "with stages, the stages' durations set the duration")
            if self.stages and not any(stage.target > 0 for stage in self.stages):
                raise FieldError("stages", "every stage has target 0: no request would be sent")
        return self

    @property
    def load_seconds(self) -> float | None:
        """How long load is generated, when the pattern is time-bound."""
        if self.stages:
            return sum(stage.duration for stage in self.stages)
        return self.duration


class ProbeFields(ApiModel):
    """JSONPaths into the health response; RunPod's ``/health`` shape by default."""

    workers_running: str = "$.workers.running"
    """Workers busy with requests."""
    workers_idle: str = "$.workers.idle"
    """Workers ready and waiting."""
    workers_initializing: str = "$.workers.initializing"
    """Workers starting (cold starts in progress)."""
    jobs_in_queue: str = "$.jobs.inQueue"
    """Requests waiting for a worker."""
    jobs_in_progress: str = "$.jobs.inProgress"
    """Requests being processed."""

    @model_validator(mode="after")
    def _paths_parse(self) -> ProbeFields:
        from jsonpath_ng.parser import parse as parse_json_path

        for name, path in self:
            try:
                parse_json_path(path)
            except Exception as error:  # jsonpath-ng raises several unrelated types
                raise FieldError(to_camel(name), f"{path!r} does not parse: {error}") from None
        return self


class ScalingProbeSpec(ApiModel):
    """Poll the provider's own view of the endpoint (workers by state, jobs queued)
    during the run, so the report can set what the endpoint did beside what herd saw."""

    url: HttpUrlText
    """Health URL, e.g. ``https://api.runpod.ai/v2/ENDPOINT/health``; ``${VAR}`` expands."""
    headers: Headers = Field(default_factory=dict)
    """Request headers; ``${VAR}`` expands from the environment, values are never logged."""
    interval: Duration = Field(default=5.0, ge=0.1)
    """Time between polls (never shorter; a little jitter is added)."""
    timeout: Duration = Field(default=5.0, gt=0)
    """Timeout of each poll; a poll that fails is counted, never fatal."""
    fields: ProbeFields = Field(default_factory=ProbeFields)


def _check_threshold(expr: str) -> str:
    parse_threshold(expr)
    return expr


ThresholdExpr = Annotated[str, AfterValidator(_check_threshold)]


class MetricsSpec(ApiModel):
    """Where results are pushed for Prometheus (also by `herd run`; `--pushgateway` overrides)."""

    pushgateway: HttpUrlText
    """Prometheus Pushgateway URL the results of each run are pushed to."""


class SelfCheckSpec(ApiModel):
    """herd's self-check: when the client, not the endpoint, limited the run, the verdict
    is inconclusive (docs/verdicts.md)."""

    ignore: list[SelfCheckRule] = Field(default_factory=list, max_length=len(SELF_CHECK_RULES))
    """Self-check rules that do not count toward the verdict, for a test that means to
    measure herd's own client (``cpu``, ``pool_wait``, …; the rules are listed in
    docs/verdicts.md). A rule ignored here that fires is still reported, as ignored by
    the spec; a lost process (``process_lost``) cannot be ignored."""


class LoadTestSpec(ApiModel):
    """What to test, how hard, and what counts as passing."""

    target: TargetSpec
    uploads: UploadSpec | None = None
    load: LoadSpec
    scaling_probe: ScalingProbeSpec | None = None
    thresholds: list[ThresholdExpr] = Field(default_factory=list)
    """Pass/fail criteria such as ``p95 < 2s``, ``error_rate < 1%``, ``workers >= 2``."""
    self_check: SelfCheckSpec = Field(default_factory=SelfCheckSpec)
    """Which of herd's self-check rules count toward the verdict (all, unless ignored)."""
    parallelism: StrictInt = Field(default=1, ge=1, le=MAX_PARALLELISM)
    """Runner pods that split the load between them (cluster only; ``herd run`` takes
    ``--runners``). Requests, concurrency and arrivals are divided among the runners,
    so the endpoint sees the same total load; thresholds apply to the merged results."""
    schedule: ScheduleSpec | None = None
    """Run on a cron schedule (cluster only). Without it, a run starts whenever the
    spec changes or the ``herd.dev/trigger`` annotation gets a new value."""
    runner: RunnerSpec = Field(default_factory=RunnerSpec)
    """Runner pods: image, resources, scheduling, secrets (cluster only)."""
    # At most int32's maximum, as Kubernetes bounds such fields (about 68 years).
    ttl_seconds_after_finished: StrictInt | None = Field(default=None, ge=0, le=2**31 - 1)
    """Delete a finished run's runner Job and pods this many seconds after its results
    are recorded (cluster only); the run object and its results stay until the
    history limits remove it. Unset: Jobs go when their run is deleted."""
    metrics: MetricsSpec | None = None
    """Push each run's results to a Prometheus Pushgateway (cluster only)."""
    results: ResultsSpec | None = None
    """Store each runner's full report in an S3-compatible bucket when the run ends
    (``herd run`` too, where ``--results`` overrides it); docs/results.md."""

    @model_validator(mode="after")
    def _prestage_needs_a_count(self) -> LoadTestSpec:
        load = self.load
        if (
            self.uploads is not None
            and self.uploads.mode == "prestage"
            and load.pattern == "concurrency"
            and load.requests is None
        ):
            raise FieldError(
                "uploads.mode",
                "prestage needs a known number of requests: set load.requests or use mode inline",
            )
        return self

    @model_validator(mode="after")
    def _every_runner_has_work(self) -> LoadTestSpec:
        runners, load = self.parallelism, self.load
        shared = {"requests": load.requests}
        if load.pattern == "concurrency":
            shared["concurrency"] = load.concurrency
        for field, total in shared.items():
            if total is not None and runners > total:
                raise FieldError(
                    "parallelism",
                    f"{runners} runners cannot share load.{field} = {total}: "
                    f"some would have nothing to do; use at most {total}",
                )
        return self

    @property
    def parsed_thresholds(self) -> list[Threshold]:
        return [parse_threshold(expr) for expr in self.thresholds]


class ObjectMeta(BaseModel):
    """The parts of Kubernetes object metadata herd reads; others pass through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class LoadTest(ApiModel):
    """A load test, as applied with ``kubectl apply`` or run with ``herd run``."""

    api_version: Literal["herd.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["LoadTest"]
    metadata: ObjectMeta
    spec: LoadTestSpec
    status: dict[str, Any] | None = Field(default=None, exclude=True)
    """Written by the operator; ignored when a file is run locally."""
