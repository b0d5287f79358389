"""What a runner can still prove about a process that left no results.

A process that dies takes its records with it: which of its requests left, and how
they ended, is gone, so none of them is counted sent. The runner splits the lost
share into what it can prove was never sent and the rest, ``unknown``:

- nothing leaves a process before its release: one that ended before it was
  released (by more than ``EARLY_MARGIN``) sent nothing, and its whole share was
  never sent;
- nothing leaves a process after it ended, and an open loop sends no arrival
  before it is due (release + its offset on the rate curve): arrivals due after the
  end, with ``EARLY_MARGIN`` for timers that fire early, were never sent;
- what the process had itself counted never sent by its last progress message
  stays never sent (a count never taken back).

Both are lower bounds of the true never-sent count, so the larger is one too (they
are not added: a process that stopped may have counted future arrivals never sent).
Everything else of its share may have reached the endpoint: unknown.

A closed loop bounded only by time has no planned count. Its share is the last
known count, what its last progress message said it had sent or counted never sent;
what it launched after that message is counted nowhere, and the diagnostic says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from herd.api.spec import LoadSpec
from herd.engine.planning import Plan
from herd.engine.schedule import rate_segments

EARLY_MARGIN = 1.0
"""Seconds a request might leave before its due time (a release, an arrival's
offset), at most: asyncio and uvloop timers fire up to a millisecond early, uvloop
against a loop time that can be one loop iteration stale, and the open loop issues
arrivals due within half a millisecond at once. Generous on purpose: too large moves
requests from never sent to unknown, never the other way."""


@dataclass(frozen=True)
class Progress:
    """A process's own count, as its last progress message gave it."""

    sent: int
    """Requests it had sent (finished or not)."""
    never_sent: int
    """Planned requests it had counted never sent."""


@dataclass(frozen=True)
class LostShare:
    """A lost process's planned requests: never sent (provably) and unknown."""

    planned: int
    never_sent: int
    unknown: int
    released: bool
    """Whether its load had been released before it ended."""
    counted_to_last_progress: bool
    """Time-bound load: ``planned`` is the last known count, more may have been sent."""


def lost_share(
    plan: Plan,
    released: float | None,
    ended: float,
    progress: Progress | None,
) -> LostShare:
    """Account for the planned requests of a process that left no results.

    ``released`` is when its load could start (``now()`` time; None when it never
    could), ``ended`` when the runner saw it end (after it did), ``progress`` its
    last progress message, if any.
    """
    known = progress or Progress(0, 0)
    if released is None or ended + EARLY_MARGIN < released:
        planned = plan.planned if plan.planned is not None else 0
        return LostShare(planned, planned, 0, released=False, counted_to_last_progress=False)
    if plan.planned is None:
        return LostShare(
            known.sent + known.never_sent,
            known.never_sent,
            known.sent,
            released=True,
            counted_to_last_progress=True,
        )
    planned = plan.planned
    never_sent = min(planned, known.never_sent)
    if plan.pattern == "rate" and plan.indices is not None:
        due = arrivals_due_by(plan.load, ended - released + EARLY_MARGIN)
        own = plan.indices
        may_have_left = len(range(own.start, min(own.stop, due), own.step))
        never_sent = max(never_sent, planned - may_have_left)
    return LostShare(
        planned, never_sent, planned - never_sent, released=True, counted_to_last_progress=False
    )


def arrivals_due_by(load: LoadSpec, seconds: float) -> int:
    """How many arrivals of the whole rate curve are due at or before ``seconds`` into
    the load (arrival k is due when the curve's cumulative count reaches k), rounded up."""
    if seconds < 0:
        return 0
    cumulative, elapsed = 0.0, 0.0
    for segment in rate_segments(load):
        if seconds >= elapsed + segment.duration:
            cumulative += segment.count
            elapsed += segment.duration
            continue
        t = seconds - elapsed
        slope = (segment.end_rate - segment.start_rate) / segment.duration
        cumulative += segment.start_rate * t + slope * t * t / 2
        break
    # Arrival 0 is due at once; one more for floating-point error: rounding up is safe.
    return math.floor(cumulative) + 2
