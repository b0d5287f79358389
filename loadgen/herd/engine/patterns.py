"""The three traffic shapes. Each issues its share of requests through the
dispatcher and returns when it has nothing more to issue or the run is stopping.

- burst: every request waits at one barrier that opens after staging.
- concurrency: N closed loops, each starting its next request when the last ends.
- rate: open loop; request k is due at its offset on the rate curve whatever the
  endpoint does, and its latency counts from that due time (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools

from herd.api.spec import LoadSpec
from herd.engine.dispatch import Dispatcher
from herd.engine.records import now
from herd.engine.schedule import Share, arrival_offsets, rate_segments

# Open loop: sleep only when the next arrival is further away than this; closer
# arrivals are issued at once (timer resolution is ~1 ms, uvloop rounds to it).
_SLEEP_THRESHOLD = 0.0005
# Yield to the loop at least this often while catching up, so requests progress.
_YIELD_EVERY = 32


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
    duration: float | None,
) -> None:
    """``concurrency`` closed loops sharing one index source, so no index repeats.

    Returns when issuing is over: at the deadline (loops finish their current
    request and stop) or, when only a count bounds the run, when every loop is done.
    """
    # Only time-bound: interleave so runners never share an index.
    source = iter(indices) if indices is not None else itertools.count(share.offset, share.stride)
    deadline = None if duration is None else now() + duration

    async def loop() -> None:
        while not dispatcher.stopping and (deadline is None or now() < deadline):
            index = next(source, None)
            if index is None:
                return
            await dispatcher.run_one(index, now())

    loops = [asyncio.ensure_future(loop()) for _ in range(concurrency)]
    for task in loops:
        dispatcher.track(task)
    if deadline is None:
        await asyncio.gather(*loops, return_exceptions=True)
    else:  # a stop cancels this wait; the loops see it and end on their own
        # Loops out of indices (a request cap) end issuing before the deadline.
        await asyncio.wait(loops, timeout=max(0.0, deadline - now()))


async def run_rate(
    dispatcher: Dispatcher,
    load: LoadSpec,
    indices: range,
    max_in_flight: int,
) -> None:
    """Issue arrival k (for k in ``indices``) at its due time on the rate curve."""
    slots = asyncio.Semaphore(max_in_flight)
    start = now()
    issued_without_yield = 0
    offsets = arrival_offsets(rate_segments(load))
    for k, offset in enumerate(offsets):
        if k >= indices.stop:
            return
        if k not in indices:
            continue
        due = start + offset
        delay = due - now()
        if delay > _SLEEP_THRESHOLD:  # a stop cancels this sleep
            await asyncio.sleep(delay)
            issued_without_yield = 0
        if dispatcher.stopping:
            return
        # At the in-flight cap this waits, and the wait shows up in latency and
        # scheduling lag; below it, acquire returns without suspending.
        await slots.acquire()
        task = asyncio.get_running_loop().create_task(dispatcher.run_one(k, due))
        task.add_done_callback(lambda _task: slots.release())
        dispatcher.track(task)
        issued_without_yield += 1
        if issued_without_yield >= _YIELD_EVERY:
            issued_without_yield = 0
            await asyncio.sleep(0)
