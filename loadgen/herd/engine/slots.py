"""Free pooled connections, counted where every request can check them for nothing.

``asyncio.Semaphore`` answers "is one free?" by scanning its waiters in a generator
and hands out a slot through an awaited coroutine: half a microsecond a request for
a check that, with herd's pools sized to the load, always succeeds. Here taking
a free slot is a decrement; only a request that finds none waits, first come first
served, and a slot freed while it waits is handed to it directly.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import suppress


class Slots:
    __slots__ = ("_waiters", "free")

    def __init__(self, size: int):
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take_free(self) -> bool:
        """Take a slot if one is free and nobody is waiting for one."""
        if self.free and not self._waiters:
            self.free -= 1
            return True
        return False

    async def wait(self) -> None:
        """Wait for a slot (after ``take_free`` found none); it is taken on return."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as the wait ended: pass it on
            else:
                with suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back: to the longest waiter, else to the free count."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1
