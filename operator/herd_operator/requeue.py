"""When each object is due to be reconciled again without a new event.

kopf timers fire at a fixed interval; the reconcile functions instead say how long
until their answer may change (``requeue_after``: a run's synchronized start, a
LoadTest's next scheduled time, a TTL). A short timer ("tick") asks ``is_due`` and
reconciles only then, or after ``resync_seconds`` in any case, so a missed watch event
is healed within that time.

An object not reconciled yet is not due: its create or resume handler reconciles it
first. (Were the timer to race that handler, it could see no Job in the watch cache
right after the handler created one, and create it again, only to get a 409.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable


class Requeue:
    def __init__(self, resync_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if resync_seconds <= 0:
            raise ValueError("resync_seconds must be positive")
        self.resync_seconds = resync_seconds
        self._clock = clock
        self._due: dict[Hashable, float] = {}

    def after(self, key: Hashable, seconds: float | None) -> None:
        """Reconcile ``key`` again in ``seconds`` (``None``: at the next resync)."""
        delay = self.resync_seconds if seconds is None else min(seconds, self.resync_seconds)
        self._due[key] = self._clock() + max(0.0, delay)

    def soon(self, key: Hashable) -> None:
        """Reconcile ``key`` at the next tick (something it depends on changed)."""
        self._due[key] = self._clock()

    def is_due(self, key: Hashable) -> bool:
        return self._clock() >= self._due.get(key, float("inf"))

    def forget(self, key: Hashable) -> None:
        self._due.pop(key, None)
