"""Did the client, not the endpoint, limit the run? Pure judgement on the numbers.

Each rule looks for one way a load generator measures itself instead of the
service (the incident: uploads serialized the calls) and, when it fires, says so
in plain words under its name (``herd.api.verdicts.SelfCheckRule``, the names
``spec.selfCheck.ignore`` takes). The bounds are deliberately loose: a flag means the client really
distorted the traffic, not that it was a few milliseconds slow.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from herd.api.report import Report, SelfCheck
from herd.api.verdicts import SelfCheckRule

# A burst counts as together if it left within this, or within this share of
# the median service time, whichever is larger.
BURST_SPREAD_FLOOR = 0.1
BURST_SPREAD_SHARE = 0.2
MIN_IN_FLIGHT_SHARE = 0.9  # of the target concurrency
SCHEDULE_LAG_P99 = 0.05  # open loop: how late the slowest 1% may leave
POOL_WAIT_P99 = 0.01  # a pool sized to the load should never make requests wait
LOOP_LAG_P99 = 0.05  # event loop blocked this long delays every request
CPU_SATURATED = 0.9  # of one core
CPU_MIN_SECONDS = 1.0  # shorter runs are dominated by start-up work
INLINE_WAIT_P95 = 0.1  # calls waiting on their own uploads


@dataclass(frozen=True)
class RunShape:
    """What the numbers cannot tell by themselves."""

    pattern: str
    inline_uploads: bool
    upload_concurrency: int | None
    mean_in_flight: float
    pool_timeout: float | None = None
    """``target.poolTimeout``, seconds: how long an arrival may wait for a connection."""


@dataclass(frozen=True)
class Finding:
    """One rule that found the client limited the run, and why, in plain words."""

    rule: SelfCheckRule | str
    """A ``SelfCheckRule``, or ``process_lost`` (which no spec can ignore)."""
    text: str


@dataclass(frozen=True)
class Assessment:
    findings: Sequence[Finding]
    notes: Sequence[str]
    """Facts worth knowing that do not limit the run (throttling, redirects, …)."""

    def judged(self, ignore: Collection[str]) -> tuple[bool, SelfCheck, list[str]]:
        """(client_limited, the rules by outcome, diagnostics) once the spec's
        ``selfCheck.ignore`` is applied: an ignored rule is said to be ignored, never
        dropped, and the findings that count come first."""
        counted = [f for f in self.findings if f.rule not in ignore]
        ignored = [f for f in self.findings if f.rule in ignore]
        diagnostics = [
            *(f"client-limited: {f.text}" for f in counted),
            *(
                f"self-check rule {f.rule} ignored by the spec (spec.selfCheck.ignore): {f.text}"
                for f in ignored
            ),
            *self.notes,
        ]
        rules = SelfCheck(
            limited_by=list(dict.fromkeys(f.rule for f in counted)),
            ignored=list(dict.fromkeys(f.rule for f in ignored)),
        )
        return bool(counted), rules, diagnostics


def assess(report: Report, shape: RunShape) -> Assessment:
    """Every rule that fires, with its reason; and the notes."""
    limited: list[Finding] = []
    notes: list[str] = []

    def flag(rule: SelfCheckRule, text: str) -> None:
        limited.append(Finding(rule, text))

    service = report.service_time_seconds
    median_service = service.p50 if service else 0.0
    sched = report.client.scheduling_lag_seconds
    connect_failures = sum(
        n for cls, n in report.errors.items() if cls in ("connect", "connect_timeout")
    )
    reached_target = report.requests.sent > 0 and connect_failures * 2 < report.requests.sent

    if (
        shape.inline_uploads
        and sched
        and sched.p95 > max(INLINE_WAIT_P95, BURST_SPREAD_SHARE * median_service)
    ):
        flag(
            "inline_uploads",
            f"calls waited for their own S3 uploads (inline staging, "
            f"{shape.upload_concurrency} at a time): p95 {sched.p95:.2f}s between a call's "
            "planned start and its sending, so the endpoint received calls as uploads "
            "finished, not together; use uploads.mode prestage",
        )
    spread = report.concurrency.burst_spread_seconds
    if (
        shape.pattern == "burst"
        and spread is not None
        and report.requests.sent > 1
        and spread > max(BURST_SPREAD_FLOOR, BURST_SPREAD_SHARE * median_service)
    ):
        flag(
            "burst_spread",
            f"the burst took {spread:.3f}s to leave the client "
            f"(median service time {median_service:.3f}s): the endpoint saw a trickle, "
            "not a burst",
        )
    target = report.concurrency.target
    if target and reached_target and report.requests.sent >= target:
        peak = report.concurrency.peak_in_flight
        if peak < MIN_IN_FLIGHT_SHARE * target:
            flag(
                "peak_in_flight",
                f"at most {peak} requests were in flight at once, short of the target {target}",
            )
        elif shape.pattern == "concurrency" and shape.mean_in_flight < MIN_IN_FLIGHT_SHARE * target:
            flag(
                "mean_in_flight",
                f"on average only {shape.mean_in_flight:.1f} of {target} requests were in "
                "flight: the client spent the rest of the time between requests",
            )
    if shape.pattern == "rate":
        late = []
        if not shape.inline_uploads and sched and sched.p99 > SCHEDULE_LAG_P99:
            late.append(f"1% of requests left more than {sched.p99:.3f}s late")
        behind = report.never_sent_reasons.get("behind_schedule", 0)
        if behind:
            late.append(f"{behind} due before the load's end were never sent (behind_schedule)")
        if late:
            flag(
                "schedule_lag",
                f"the client fell behind the arrival schedule: {'; '.join(late)} "
                "(latency still counts from their due time)",
            )
        cap = _waits_at_the_cap(report, shape)
        if cap:
            flag("max_in_flight", cap)
    pool = report.client.pool_wait_seconds
    if shape.pattern != "rate" and pool and pool.p99 > POOL_WAIT_P99:
        flag(
            "pool_wait",
            f"{report.client.pool_waits} requests waited for a free connection in the "
            f"client's pool of {report.client.pool_size} (p99 {pool.p99:.3f}s)",
        )
    loop_lag = report.client.event_loop_lag_seconds
    if loop_lag and loop_lag.p99 > LOOP_LAG_P99:
        flag(
            "event_loop_lag",
            f"the client's event loop was blocked for up to {loop_lag.max:.3f}s "
            f"(p99 {loop_lag.p99:.3f}s): it was too busy to send and receive on time",
        )
    if report.client.cpu_utilization > CPU_SATURATED and report.duration_seconds >= CPU_MIN_SECONDS:
        flag(
            "cpu",
            f"the client used {report.client.cpu_utilization:.0%} of a CPU core: it was "
            "likely the bottleneck; spread the load over more runners",
        )

    uploads = report.uploads
    if uploads and uploads.throttled:
        notes.append(f"S3 throttled {uploads.throttled} uploads; they were retried with backoff")
    if uploads and uploads.cleanup_failed:
        notes.append(f"{uploads.cleanup_failed} staged objects could not be deleted")
    redirects = sum(n for code, n in report.status_codes.items() if code.startswith("3"))
    if redirects:
        notes.append(
            f"{redirects} responses were redirects (3xx), which herd counts and never follows "
            "(following would send requests nobody planned): point target.url at where they lead"
        )
    never_sent = report.requests.never_sent
    if never_sent:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(report.never_sent_reasons.items()))
        notes.append(f"{never_sent} planned requests were never sent ({reasons})")
    if report.stopped:
        notes.append(f"the run was stopped early ({report.stopped})")
    return Assessment(limited, notes)


def _waits_at_the_cap(report: Report, shape: RunShape) -> str | None:
    """Open loop: where arrivals waited when ``maxInFlight`` requests were in flight."""
    client, reasons = report.client, report.never_sent_reasons
    pool = client.pool_wait_seconds
    timed_out, ended = reasons.get("pool_timeout", 0), reasons.get("load_ended", 0)
    parts = []
    if pool and pool.p99 > POOL_WAIT_P99:
        parts.append(
            f"{client.pool_waits} sent late (waits up to {pool.max:.3f}s, p99 {pool.p99:.3f}s, "
            "counted in their latency)"
        )
    if timed_out:
        within = f" ({shape.pool_timeout:g}s)" if shape.pool_timeout else ""
        parts.append(
            f"{timed_out} never sent because none came free within target.poolTimeout{within} "
            "(pool_timeout)"
        )
    if ended:
        parts.append(f"{ended} never sent because the load ended first (load_ended)")
    if not parts:
        return None
    return (
        f"arrivals waited for a free connection while load.maxInFlight ({client.pool_size}, "
        f"also the client's connection pool) requests were in flight: {', '.join(parts)}. "
        f"The endpoint received {report.requests.sent} of {report.requests.planned} planned "
        "requests; raise load.maxInFlight or lower the rate to send the whole schedule"
    )
