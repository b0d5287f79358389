"""A runner's results in one termination message (at most 4096 bytes).

Kubernetes keeps the first 4096 bytes a container writes to its termination-message
file in the pod's status, where the operator can read it with the pod: no volume,
no API access and no network path from runners to the operator. A full report does
not fit, so runners send this summary: request counts, errors by class, workers,
the latency HdrHistogram and what thresholds need. Every variable part is bounded
(``summary_bounds`` proves that the largest possible summary fits):

- at most ``MAX_ERROR_CLASSES`` error classes, ``MAX_NEVER_SENT_REASONS`` never-sent
  and ``MAX_UNKNOWN_REASONS`` unknown reasons; the rarest are folded into ``~other``;
- at most ``MAX_WORKERS`` workers by request count; the rest are folded into
  ``workersOther`` while ``workersDistinct`` keeps the exact count for this runner;
- names and texts are cut to a fixed length and restricted to characters that JSON
  writes as themselves;
- the histogram is sent at the finest precision of ``latency.LADDER`` that fits.

Keys are one or two letters: the budget goes to the histogram, not to names (the
self-check's rules travel as bit masks). Fields are only added, with defaults, so an
older runner's summary still decodes; one added later is left out while it is empty
(``unknown``, ``limited_by``, ``ignored``), so an older operator still reads the
summaries of runs that did not need it.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from herd.api.report import Report, SelfCheck
from herd.api.spec import MAX_PARALLELISM
from herd.api.verdicts import PROCESS_LOST
from herd.results import latency

TERMINATION_MESSAGE_LIMIT = 4096
SUMMARY_VERSION = 1

MAX_ERROR_CLASSES = 8
MAX_NEVER_SENT_REASONS = 4
MAX_UNKNOWN_REASONS = 2
MAX_WORKERS = 16
MAX_NAME_CHARS = 24
MAX_WORKER_ID_CHARS = 32
MAX_DIAGNOSTICS = 2
MAX_DIAGNOSTIC_CHARS = 160
MAX_STOPPED_CHARS = 16
MAX_COUNT = 2**32 - 1
"""Largest count a summary carries: 100,000 requests/s (the spec's ceiling) for almost
12 hours from a single runner, far beyond what one runner process can send."""
MAX_SECONDS = 1e11
"""Largest time value (epoch seconds until the year 5138; durations alike)."""
OTHER = "~other"
RULE_BITS: tuple[str, ...] = (
    "inline_uploads",
    "burst_spread",
    "peak_in_flight",
    "mean_in_flight",
    "schedule_lag",
    "max_in_flight",
    "pool_wait",
    "event_loop_lag",
    "cpu",
    PROCESS_LOST,
)
"""The self-check's rules as bits of ``limited_by`` and ``ignored``, in this order: a
bit's meaning never changes, so a new rule is only ever appended. A mask costs a few
bytes where names would take the histogram's precision."""

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
_TEXT_UNSAFE = re.compile(r"[^ -~]|[\"\\]")  # printable ASCII that JSON needs no escape for


class SummaryError(ValueError):
    """A termination message that is not a runner summary (or one herd cannot read)."""


class SummaryTooLarge(ValueError):
    """A report beyond the bounds a summary can carry (see ``MAX_COUNT``)."""


class RunnerSummary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    version: int = Field(default=SUMMARY_VERSION, alias="v")
    runner: int = Field(alias="i", ge=0, lt=MAX_PARALLELISM)
    runners: int = Field(alias="n", ge=1, le=MAX_PARALLELISM)
    load_started_at: float = Field(alias="t", ge=0, le=MAX_SECONDS)
    """Wall-clock time (epoch seconds) this runner started its load."""
    load_seconds: float = Field(alias="d", ge=0, le=MAX_SECONDS)
    requests: tuple[int, int, int, int, int] = Field(alias="r")
    """planned, sent, ok, failed, never sent."""
    errors: dict[str, int] = Field(default_factory=dict, alias="e")
    never_sent: dict[str, int] = Field(default_factory=dict, alias="ns")
    unknown: dict[str, int] = Field(default_factory=dict, alias="u")
    """Requests of unknown fate by reason (``process_lost``): neither ok, failed nor
    never sent, so planned = ok + failed + never sent + their sum. Not in ``requests``,
    whose five counts older operators read."""
    workers: dict[str, int] = Field(default_factory=dict, alias="w")
    """Requests by worker id, the busiest ``MAX_WORKERS``."""
    workers_distinct: int = Field(default=0, alias="wd")
    workers_other: int = Field(default=0, alias="wo")
    """Requests served by workers not listed."""
    burst_spread: float | None = Field(default=None, alias="b", ge=0, le=MAX_SECONDS)
    peak_in_flight: int = Field(default=0, alias="p")
    client_limited: bool = Field(default=False, alias="c")
    limited_by: int = Field(default=0, alias="l", ge=0, lt=2 ** len(RULE_BITS))
    """The self-check rules that limited the run (``RULE_BITS``), as a bit mask."""
    ignored: int = Field(default=0, alias="g", ge=0, lt=2 ** len(RULE_BITS))
    """The self-check rules that fired but the spec ignores, as a bit mask."""
    diagnostics: list[str] = Field(default_factory=list, alias="x")
    stopped: str | None = Field(default=None, alias="s")
    latency: str = Field(default="", alias="h")
    """Base64 HdrHistogram of latency in microseconds; empty when nothing completed."""

    @field_validator("load_started_at", "load_seconds", "burst_spread")
    @classmethod
    def _microseconds(cls, seconds: float | None) -> float | None:
        # Rounded, a float below MAX_SECONDS prints in at most 18 characters.
        return None if seconds is None else round(seconds, 6)

    @property
    def planned(self) -> int:
        return self.requests[0]

    @property
    def unknown_count(self) -> int:
        return sum(self.unknown.values())

    @property
    def self_check(self) -> SelfCheck:
        return SelfCheck(limited_by=rules_of(self.limited_by), ignored=rules_of(self.ignored))


def rule_mask(rules: list[str]) -> int:
    """The bits of ``rules``; a rule this herd does not know has no bit (it is still
    told by ``client_limited`` and the diagnostics)."""
    return sum(1 << RULE_BITS.index(rule) for rule in set(rules) if rule in RULE_BITS)


def rules_of(mask: int) -> list[str]:
    return [rule for bit, rule in enumerate(RULE_BITS) if mask >> bit & 1]


def _name(text: str, limit: int) -> str:
    return _NAME_UNSAFE.sub("_", text)[:limit]


def _text(text: str, limit: int) -> str:
    return _TEXT_UNSAFE.sub("'", text)[:limit]


def _count(value: int) -> int:
    if not 0 <= value <= MAX_COUNT:
        raise SummaryTooLarge(f"count {value} is outside what a runner summary carries")
    return value


def fold(counts: dict[str, int], keep: int, limit: int) -> dict[str, int]:
    """The ``keep`` largest entries (names made safe), the rest summed under ``~other``."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    folded: dict[str, int] = {}
    for name, count in ranked[:keep]:
        safe = _name(name, limit)
        folded[safe] = _count(folded.get(safe, 0) + count)
    rest = sum(count for _, count in ranked[keep:])
    if rest:
        folded[OTHER] = _count(rest)
    return folded


def _load_started_at(report: Report, release_at: float | None) -> float:
    if report.load_started_at is not None:
        return datetime.fromisoformat(report.load_started_at).timestamp()
    # A run stopped before its release: estimate as the release or the end of staging.
    started = datetime.fromisoformat(report.started_at).timestamp()
    staging = report.uploads.duration_seconds if report.uploads else 0.0
    return max(started + staging, release_at or 0.0)


def summarize(report: Report, release_at: float | None = None) -> RunnerSummary:
    """The bounded summary of one runner's report (histogram still at full precision)."""
    requests = report.requests
    workers = report.workers.requests
    listed = fold(workers, MAX_WORKERS, MAX_WORKER_ID_CHARS)
    listed.pop(OTHER, None)
    return RunnerSummary(
        runner=report.runner,
        runners=report.runners,
        load_started_at=round(_load_started_at(report, release_at), 3),
        load_seconds=round(report.duration_seconds, 6),
        requests=(
            _count(requests.planned),
            _count(requests.sent),
            _count(requests.ok),
            _count(requests.failed),
            _count(requests.never_sent),
        ),
        errors=fold(report.errors, MAX_ERROR_CLASSES, MAX_NAME_CHARS),
        never_sent=fold(report.never_sent_reasons, MAX_NEVER_SENT_REASONS, MAX_NAME_CHARS),
        unknown=fold(report.unknown_reasons, MAX_UNKNOWN_REASONS, MAX_NAME_CHARS),
        workers=listed,
        workers_distinct=_count(report.workers.distinct),
        workers_other=_count(sum(workers.values()) - sum(listed.values())),
        burst_spread=report.concurrency.burst_spread_seconds,
        peak_in_flight=_count(report.concurrency.peak_in_flight),
        client_limited=report.client_limited,
        limited_by=rule_mask(report.self_check.limited_by),
        ignored=rule_mask(report.self_check.ignored),
        diagnostics=[_text(d, MAX_DIAGNOSTIC_CHARS) for d in report.diagnostics[:MAX_DIAGNOSTICS]],
        stopped=_name(report.stopped, MAX_STOPPED_CHARS) if report.stopped else None,
        latency=report.histograms.get("latency", "") if report.latency_seconds else "",
    )


def encode_summary(summary: RunnerSummary) -> str:
    """The summary as it is written to the termination message: the finest histogram
    precision that keeps it within ``TERMINATION_MESSAGE_LIMIT`` bytes."""
    # Fields added later stay out while empty, so older operators read most summaries.
    omitted = {name for name in ("unknown", "limited_by", "ignored") if not getattr(summary, name)}
    for precision in latency.LADDER:
        histogram = latency.rebin(summary.latency, precision) if summary.latency else ""
        text = summary.model_copy(update={"latency": histogram}).model_dump_json(
            by_alias=True, exclude=omitted
        )
        if len(text.encode()) <= TERMINATION_MESSAGE_LIMIT:
            return text
    # Unreachable within the bounds above: summary_bounds.worst_case_size() proves it.
    raise SummaryTooLarge(f"summary of runner {summary.runner} does not fit")


def termination_message(report: Report, release_at: float | None = None) -> str:
    """What ``herd run --summary PATH`` writes: the encoded summary of ``report``."""
    return encode_summary(summarize(report, release_at))


def decode_summary(text: str) -> RunnerSummary:
    """Read a termination message; raises SummaryError when it is not a summary."""
    if not text.strip().startswith("{"):
        raise SummaryError("not a runner summary")
    try:
        summary = RunnerSummary.model_validate_json(text)
    except ValidationError as error:
        raise SummaryError(f"unreadable runner summary: {error.errors()[0]['msg']}") from None
    if summary.version != SUMMARY_VERSION:
        raise SummaryError(
            f"summary version {summary.version}; this operator reads {SUMMARY_VERSION}"
        )
    return summary
