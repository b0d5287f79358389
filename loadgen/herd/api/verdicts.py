"""A run's verdict: its values, the self-check rules a spec may ignore, and the one rule
that decides between the verdicts (``decide``; docs/verdicts.md explains it).

``passed``
    herd measured the endpoint, and every threshold held.
``failed``
    herd measured the endpoint and a threshold failed, or no request succeeded at all.
``inconclusive``
    herd did not measure the endpoint as planned: its own client limited the run (the
    self-check), a process or a runner was lost, or results are missing. Never green:
    ``herd run`` exits 4, Argo CD shows Degraded, Prometheus has its own value.

The values are a stable contract: one may be added, none is ever renamed or removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

Verdict = Literal["passed", "failed", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)

SelfCheckRule = Literal[
    "inline_uploads",
    "burst_spread",
    "peak_in_flight",
    "mean_in_flight",
    "schedule_lag",
    "max_in_flight",
    "pool_wait",
    "event_loop_lag",
    "cpu",
]
"""The self-check's rules (``herd.engine.selfcheck``), each one way a load generator ends
up measuring itself, by the name ``spec.selfCheck.ignore`` and reports use:

- ``inline_uploads``: calls waited for their own S3 uploads (``uploads.mode: inline``);
- ``burst_spread``: a burst took too long to leave the client;
- ``peak_in_flight``: fewer requests were ever in flight than the pattern's target;
- ``mean_in_flight``: a closed loop spent its time between requests, not in them;
- ``schedule_lag``: an open loop (rate) fell behind its arrival schedule;
- ``max_in_flight``: an open loop's arrivals waited at ``load.maxInFlight``;
- ``pool_wait``: requests waited for a free connection in the client's pool;
- ``event_loop_lag``: the client's event loop was blocked;
- ``cpu``: the client saturated its CPU core."""
SELF_CHECK_RULES: tuple[SelfCheckRule, ...] = get_args(SelfCheckRule)

PROCESS_LOST = "process_lost"
"""Not a rule a spec can ignore: a process of the runner died and took its records with
it, so the run's results are incomplete whatever the spec wants to measure."""


@dataclass(frozen=True)
class Evidence:
    """What the verdict is decided on."""

    thresholds_held: bool
    """Every threshold written in the spec held (true when it has none)."""
    anything_succeeded: bool
    """At least one request succeeded (herd's implicit ``ok > 0``)."""
    client_limited: bool
    """A self-check rule the spec does not ignore found that the client limited the run,
    or a process was lost."""
    complete: bool
    """Every runner reported and every planned request's fate is known (no ``unknown``)."""


def decide(evidence: Evidence) -> Verdict:
    """The verdict; the first line that applies wins:

    1. results incomplete → inconclusive: what was lost may hold the successes, or the
       failures, that would decide it;
    2. no request succeeded → failed, even from a limited client: no client capacity
       turns 0 successes into a pass, and the endpoint (its URL, its credentials, its
       health) is what answered every request it got with an error;
    3. client-limited → inconclusive, whatever the thresholds say: latency counts from
       the planned start, never-sent requests count against ``error_rate``, a trickle
       scales fewer workers; a failed threshold may be the client's doing, and a passed
       one was measured under a load other than the one planned;
    4. a threshold failed → failed; else passed.
    """
    if not evidence.complete:
        return "inconclusive"
    if not evidence.anything_succeeded:
        return "failed"
    if evidence.client_limited:
        return "inconclusive"
    return "passed" if evidence.thresholds_held else "failed"


class JudgedThreshold(Protocol):
    """A threshold's outcome, as the report (``ThresholdResult``) and the status
    (``ThresholdOutcome``) both carry it."""

    @property
    def expr(self) -> str: ...

    @property
    def value(self) -> float | None: ...

    @property
    def passed(self) -> bool: ...

    @property
    def implicit(self) -> bool: ...


def verdict_of(
    thresholds: Iterable[JudgedThreshold], *, client_limited: bool, complete: bool
) -> Verdict:
    """``decide`` on judged thresholds (the implicit one, ``ok > 0``, listed only when it
    failed, says that nothing succeeded)."""
    judged = list(thresholds)
    return decide(
        Evidence(
            thresholds_held=all(t.passed for t in judged if not t.implicit),
            anything_succeeded=all(t.passed for t in judged if t.implicit),
            client_limited=client_limited,
            complete=complete,
        )
    )


def failed_thresholds(thresholds: Iterable[JudgedThreshold]) -> str:
    """The thresholds that failed, with the value each was judged on, in one line."""
    return "; ".join(
        "no request succeeded (ok > 0)"
        if t.implicit
        else f"{t.expr} failed (was {'n/a' if t.value is None else f'{t.value:.4g}'})"
        for t in thresholds
        if not t.passed
    )


def explain(verdict: Verdict, thresholds: Iterable[JudgedThreshold], why_inconclusive: str) -> str:
    """Why the verdict is not ``passed``, in one line ("" when it is)."""
    if verdict == "inconclusive":
        return why_inconclusive
    if verdict == "failed":
        return failed_thresholds(thresholds)
    return ""
