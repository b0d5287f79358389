"""Whole-request timeouts for every request of a run, kept by one timer.

aiohttp's own total timeout arms and cancels a loop timer and enters a timer
context around every read of every request: several microseconds a request. A run
gives all its requests the same timeout and registers each as it starts, so the
requests in flight, kept in a dict in insertion order, are also in deadline order,
and one timer armed for the oldest serves them all. Registering a request is a
dict insert; finishing it, a delete.

An expired request's task is cancelled, as ``asyncio.timeout`` would do it, with
``record.timed_out`` set so the caller can tell its deadline from a stop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from herd.engine.records import RequestRecord, now

# uvloop keeps time in whole milliseconds: a timer may fire up to this much early,
# and deadlines that close are due.
_TIMER_RESOLUTION = 0.001


class Deadlines:
    """Made on the loop that runs the requests."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._running: dict[RequestRecord, asyncio.Task[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        # Passed to current_task, which otherwise looks the running loop up each time.
        self._loop = asyncio.get_running_loop()

    def start(self, record: RequestRecord, at: float) -> None:
        """Cancel the calling task if ``record`` is still running ``timeout`` after ``at``."""
        record.deadline = deadline = at + self.timeout
        # Called from the request's own task, so never None (and no check per request).
        self._running[record] = asyncio.current_task(self._loop)  # type: ignore[assignment]
        if self._timer is None:
            self._arm(deadline)

    def finish(self, record: RequestRecord) -> None:
        self._running.pop(record, None)

    @staticmethod
    def consume_expiry(record: RequestRecord) -> bool:
        """True when ``record`` timed out and its deadline is all that cancelled the task:
        the cancellation is then spent, and the task carries on as ``asyncio.timeout``
        leaves it. False for any other cancellation (a stop, the drain timeout)."""
        if not record.timed_out:
            return False
        task = asyncio.current_task()
        return task is not None and task.uncancel() == 0

    def _arm(self, deadline: float) -> None:
        self._timer = self._loop.call_later(max(0.0, deadline - now()), self._expire)

    def _expire(self) -> None:
        self._timer = None
        due = now() + _TIMER_RESOLUTION
        running = self._running
        while running:
            record = next(iter(running))
            if record.deadline > due:
                self._arm(record.deadline)
                return
            task = running.pop(record)
            record.timed_out = True
            task.cancel()
