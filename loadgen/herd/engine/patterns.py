"""The three traffic shapes. Each issues its share of requests through the
dispatcher and returns when it has nothing more to issue or the run is stopping.

- burst: every request waits at one barrier that opens after staging.
- concurrency: N closed loops, each starting its next request when the last ends.
- rate: open loop; request k is due at its offset on the rate curve whatever the
  endpoint does, and its latency counts from that due time (no coordinated omission).

A time-bound load ends on time whatever the endpoint does: what has not started by
the end of ``duration`` (or the stages) is never sent, counted ``load_ended`` (or
``behind_schedule``: the open loop's client itself ran more than ``LATE_GRACE``
late), and requests in flight get ``drainTimeout`` from the end. In the open loop,
``maxInFlight`` is the HTTP pool's size, so an arrival due while it is full waits
for a pooled connection, at most ``poolTimeout`` from its due time (else it is
never sent: ``pool_timeout``), and that wait is its pool wait (arrivals queue in
due order: those due while an earlier one waited are waiting for the pool too).
Waiting arrivals cost no memory: the issuer holds the queue's head, the schedule
holds the rest.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import suppress

from herd.api.spec import LoadSpec
from herd.engine.dispatch import Dispatcher
from herd.engine.records import now
from herd.engine.schedule import Share, arrival_offsets, rate_segments
from herd.engine.slots import Slots

# Open loop: sleep only when the next arrival is further away than this; closer
# arrivals are issued at once (timer resolution is ~1 ms, uvloop rounds to it).
_SLEEP_THRESHOLD = 0.0005
# Yield to the loop at least this often while catching up, so requests progress.
_YIELD_EVERY = 32
# Open loop: a client running late (timers, a busy loop) may still send an arrival due
# before the load's end this much after it, if a connection is free at once, and never
# past the drain; waits for a connection end with the load.
LATE_GRACE = 0.5

# Why planned requests of a time-bound load were never sent.
LOAD_ENDED = "load_ended"  # still waiting for their turn when the load's time was up
BEHIND_SCHEDULE = "behind_schedule"  # open loop: the client itself was too late to send them
POOL_TIMEOUT = "pool_timeout"  # open loop: no pooled connection free within poolTimeout


async def run_burst(dispatcher: Dispatcher, indices: range, gate: asyncio.Event) -> None:
    for index in indices:
        dispatcher.launch(index, 0.0, gate)
    await asyncio.sleep(0)  # let every request reach the barrier before it opens
    dispatcher.release(gate)


async def run_concurrency(
    dispatcher: Dispatcher,
    share: Share,
    concurrency: int,
    indices: range | None,
    ends_at: float | None,
    ceiling: range | None = None,
) -> None:
    """``concurrency`` closed loops sharing one index source, so no index repeats.

    Returns when issuing is over: at ``ends_at`` (loops finish their current request
    and stop; planned requests not started are ``load_ended``) or when every loop is
    done (its requests are, or a stop came). A loop only time bounds plans no indices;
    ``ceiling`` then caps what it may issue (the operator's request cap), and what it
    did not reach was never planned.
    """
    if indices is not None:
        source: Iterator[int] = iter(indices)
    elif ceiling is not None:
        source = iter(ceiling)
    else:  # interleaved, so runners never share an index
        source = itertools.count(share.offset, share.stride)
    taken = 0
    open_for_requests = True

    async def loop() -> None:
        nonlocal taken
        while (
            open_for_requests and not dispatcher.stopping and (ends_at is None or now() < ends_at)
        ):
            index = next(source, None)
            if index is None:
                return
            taken += 1
            await dispatcher.run_one(index, now())

    loops = [asyncio.ensure_future(loop()) for _ in range(concurrency)]
    for task in loops:
        dispatcher.track(task)
    # A stop cancels this wait; the loops see it and end on their own.
    timeout = None if ends_at is None else max(0.0, ends_at - now())
    await asyncio.wait(loops, timeout=timeout)
    open_for_requests = False  # the timer may wake a hair early: no loop starts another
    if indices is not None and not dispatcher.stopping and taken < len(indices):
        dispatcher.never_sent(LOAD_ENDED, len(indices) - taken)


async def run_rate(
    dispatcher: Dispatcher,
    load: LoadSpec,
    indices: range,
    pool_timeout: float,
    start: float,
) -> None:
    """Issue arrival k (for k in ``indices``) at ``start`` plus its offset on the rate
    curve, each with a pooled connection, until the load's end."""
    slots = dispatcher.slots
    ends_at = start + (load.load_seconds or 0.0)
    late_until = ends_at + min(LATE_GRACE, load.drain_timeout)
    backlog = _Backlog()
    issued_without_yield = 0
    for k, due in _due_arrivals(load, indices, start):
        delay = due - now()
        if delay > _SLEEP_THRESHOLD:  # a stop cancels this sleep
            await asyncio.sleep(delay)
            issued_without_yield = 0
        if dispatcher.stopping:
            return
        queued = backlog.holds(due)
        if now() > late_until:
            dispatcher.never_sent(LOAD_ENDED if queued else BEHIND_SCHEDULE, _left(indices, k))
            return
        if not slots.take_free():
            backlog.begin(queued)
            limit = min(due + pool_timeout, ends_at)
            got = await _wait_for_slot(slots, limit)
            backlog.until = now()
            if got and dispatcher.stopping:
                # mypy keeps ``stopping`` narrowed to False across the await (python/mypy#9457),
                # but a stop may come while this waits for a slot.
                slots.release()  # type: ignore[unreachable]
                return
            if not got and limit < ends_at:
                dispatcher.never_sent(POOL_TIMEOUT)
                continue
            if not got:
                dispatcher.never_sent(LOAD_ENDED, _left(indices, k))
                return
            queued = True
        pool_wait = now() - max(due, backlog.since) if queued else 0.0
        dispatcher.launch(k, due, has_slot=True, pool_wait=pool_wait)
        issued_without_yield += 1
        if issued_without_yield >= _YIELD_EVERY:
            issued_without_yield = 0
            await asyncio.sleep(0)


def _due_arrivals(load: LoadSpec, indices: range, start: float) -> Iterator[tuple[int, float]]:
    """(k, due time) of the arrivals this share issues, in due order."""
    for k, offset in enumerate(arrival_offsets(rate_segments(load))):
        if k >= indices.stop:
            return
        if k in indices:
            yield k, start + offset


def _left(indices: range, k: int) -> int:
    """Arrivals of ``indices`` from k on."""
    return len(range(k, indices.stop, indices.step))


async def _wait_for_slot(slots: Slots, limit: float) -> bool:
    """Wait for a free slot until ``limit``; True when one was taken."""
    remaining = limit - now()
    if remaining <= 0:
        return False
    with suppress(TimeoutError):
        async with asyncio.timeout(remaining):
            await slots.wait()
        return True
    return False


class _Backlog:
    """Arrivals waiting for a pooled connection, in due order. One due before the last
    wait for a slot ended was queued behind it: it waited for the pool from its due
    time, or from when the pool was found full if that was later (the client's own
    lateness before that is scheduling lag, not pool wait)."""

    __slots__ = ("since", "until")

    def __init__(self) -> None:
        self.since = float("-inf")  # when the pool was found full
        self.until = float("-inf")  # when the last wait for a slot ended

    def holds(self, due: float) -> bool:
        return due < self.until

    def begin(self, queued: bool) -> None:
        """A wait for a slot starts now; a new backlog unless ``queued`` in one."""
        if not queued:
            self.since = now()
