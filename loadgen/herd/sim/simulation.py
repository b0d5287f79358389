"""The simulated endpoint's moving parts: a FIFO queue, the worker pool and their timers.

Each request is one coroutine (``submit``) that queues, waits to be dispatched to a worker,
then "processes" with an asyncio sleep. Everything else reacts on the event loop without
awaiting, so state changes never interleave: a queued request is either dispatched or expired,
whichever timer or event comes first. Scaling decisions come from ``autoscaler.decide``.
"""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from herd.sim.autoscaler import PoolSnapshot, decide
from herd.sim.config import SimConfig
from herd.sim.record import RequestEntry, SimRecord
from herd.sim.workers import Worker, WorkerIds, WorkerPool, WorkerState, seeded_stream


class Rejection(enum.Enum):
    """Why a request got no (complete) processing; the value is the JSON error text."""

    QUEUE_TIMEOUT = "no workers available"
    RESET = "simulation reset"
    SHUTDOWN = "simulation shutting down"

    @property
    def status(self) -> int:
        return 400 if self is Rejection.QUEUE_TIMEOUT else 503


EXECUTION_TIMEOUT_STATUS = 524  # what RunPod's proxy answers when processing runs too long


@dataclass(frozen=True, slots=True)
class Outcome:
    seq: int
    status: int
    worker_id: str | None
    arrival: float
    dispatched: float | None
    ended: float
    error: str | None = None

    @property
    def queue_wait(self) -> float:
        return (self.ended if self.dispatched is None else self.dispatched) - self.arrival

    @property
    def execution(self) -> float:
        return 0.0 if self.dispatched is None else self.ended - self.dispatched


@dataclass(slots=True, eq=False)
class _Waiter:
    entry: RequestEntry
    future: asyncio.Future[Worker | Rejection]
    expiry: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Generation:
    """State that a reset throws away; requests in flight keep the generation they started in."""

    record: SimRecord
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)
    reason: Rejection = Rejection.RESET


class Simulation:
    """One simulated endpoint. Times are seconds since ``start()`` (server start).

    A reset starts a new generation: fresh record, fresh pool, RNG streams reseeded, so a
    reset endpoint behaves (and names its workers) exactly like a new one with the same seed.
    """

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._epoch = clock()
        self._closed = False
        self._begin()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Restart the clock when the server starts serving; warm workers count from there."""
        self._epoch = self._clock()

    async def run_autoscaler(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.config.scale_check_interval)
            self.step()

    def reset(self) -> None:
        """Forget the record, stop every worker, answer everything in flight with 503;
        min_workers warm workers are ready again at once."""
        self._retire(Rejection.RESET)
        self._begin()

    def close(self) -> None:
        self._retire(Rejection.SHUTDOWN)
        self._closed = True

    def now(self) -> float:
        return self._clock() - self._epoch

    @property
    def record(self) -> SimRecord:
        return self._gen.record

    def _begin(self) -> None:
        seed = self.config.seed
        self._gen = _Generation(SimRecord(self.config.record_limit))
        worker_ids = WorkerIds(seeded_stream(seed, "worker-ids"))
        self._pool = WorkerPool(self.config, worker_ids, self.record, self.now, self._dispatch)
        self._jitter = seeded_stream(seed, "jitter")
        self._job_ids = seeded_stream(seed, "job-ids")
        self._queue: dict[int, _Waiter] = {}  # by sequence number; insertion order is FIFO
        self._received: deque[float] = deque()  # arrival times within the scale window
        now = self.now()
        for _ in range(self.config.min_workers):
            self._pool.start(now, warm=True)

    def _retire(self, reason: Rejection) -> None:
        now = self.now()
        self._gen.reason = reason
        self._gen.interrupted.set()
        for waiter in self._queue.values():
            _cancel(waiter.expiry)
            if not waiter.future.done():
                waiter.future.set_result(reason)
        self._queue.clear()
        self._pool.stop_all(now)

    # -- requests ------------------------------------------------------------------------------

    def new_job_id(self) -> str:
        return f"sync-{uuid.UUID(int=self._job_ids.getrandbits(128), version=4)}"

    async def submit(self, method: str, path: str, service_time: float | None = None) -> Outcome:
        """Queue one request, wait for a worker, process it; the answer to give the client."""
        gen = self._gen
        entry = gen.record.open_request(method, path, self.now())
        self._received.append(entry.arrival)
        if self._closed:
            return self._finish(gen, entry, Rejection.SHUTDOWN.status, Rejection.SHUTDOWN.value)
        loop = asyncio.get_running_loop()
        waiter = _Waiter(entry, loop.create_future())
        waiter.expiry = loop.call_later(self.config.max_queue_wait, self._expire, waiter)
        self._queue[entry.seq] = waiter
        self.step()
        try:
            assigned = await waiter.future
        except asyncio.CancelledError:
            self._abandon(waiter)
            gen.record.close_request(entry, None, self.now())
            raise
        if isinstance(assigned, Rejection):
            return self._finish(gen, entry, assigned.status, assigned.value)

        duration = self.draw_service_time() if service_time is None else service_time
        limit = self.config.execution_timeout
        try:
            interrupted = await _wait_event(gen.interrupted, min(duration, limit))
        except asyncio.CancelledError:
            self._release(assigned)
            gen.record.close_request(entry, None, self.now())
            raise
        self._release(assigned)
        if interrupted:
            return self._finish(gen, entry, gen.reason.status, gen.reason.value)
        if duration > limit:
            return self._finish(gen, entry, EXECUTION_TIMEOUT_STATUS, "execution timeout")
        return self._finish(gen, entry, 200)

    def _finish(
        self, gen: _Generation, entry: RequestEntry, status: int, error: str | None = None
    ) -> Outcome:
        gen.record.close_request(entry, status, self.now())
        assert entry.ended is not None
        return Outcome(
            entry.seq, status, entry.worker, entry.arrival, entry.dispatched, entry.ended, error
        )

    def draw_service_time(self) -> float:
        """service_time, spread uniformly by +/- service_time_jitter (seeded)."""
        spread = self.config.service_time_jitter
        factor = 1.0 + self._jitter.uniform(-spread, spread) if spread else 1.0
        return self.config.service_time * factor

    def _expire(self, waiter: _Waiter) -> None:
        if self._queue.pop(waiter.entry.seq, None) is waiter and not waiter.future.done():
            waiter.future.set_result(Rejection.QUEUE_TIMEOUT)

    def _abandon(self, waiter: _Waiter) -> None:
        """The request's task was cancelled: leave the queue, or free the worker it got."""
        _cancel(waiter.expiry)
        if self._queue.get(waiter.entry.seq) is waiter:  # after a reset, seqs start again
            del self._queue[waiter.entry.seq]
        future = waiter.future
        if future.done() and not future.cancelled():
            outcome = future.result()
            if isinstance(outcome, Worker):
                self._release(outcome)

    # -- workers -------------------------------------------------------------------------------

    def step(self) -> None:
        """Dispatch what can be dispatched, then apply the autoscaler's decision."""
        if self._closed:
            return
        now = self.now()
        self._dispatch(now)
        decision = decide(self.config, self._snapshot(now))
        for worker_id in decision.stop:
            self._pool.stop(worker_id, now)
        for _ in range(decision.start):
            self._pool.start(now, warm=False)
        if decision.start:
            self._dispatch(now)  # workers with no cold start are ready at once

    def _dispatch(self, now: float) -> None:
        while self._queue:
            worker = self._pool.free_worker()
            if worker is None:
                return
            seq = next(iter(self._queue))
            waiter = self._queue.pop(seq)
            _cancel(waiter.expiry)
            if waiter.future.done():  # cancelled; its task has not cleaned up yet
                continue
            self._pool.take(worker)
            waiter.entry.dispatched, waiter.entry.worker = now, worker.id
            waiter.future.set_result(worker)

    def _release(self, worker: Worker) -> None:
        now = self.now()
        if self._pool.release(worker, now):
            self._dispatch(now)

    def _snapshot(self, now: float) -> PoolSnapshot:
        states = Counter(worker.state for worker in self._pool)
        idle_since = {
            worker.id: worker.idle_since
            for worker in self._pool
            if worker.state is WorkerState.IDLE and worker.idle_since is not None
        }
        window_start = now - self.config.scale_window
        while self._received and self._received[0] < window_start:
            self._received.popleft()
        return PoolSnapshot(
            now=now,
            queued_arrivals=[waiter.entry.arrival for waiter in self._queue.values()],
            recent_arrivals=len(self._received),
            initializing=states[WorkerState.INITIALIZING],
            running=states[WorkerState.RUNNING],
            idle_since=idle_since,
        )

    # -- observation -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """RunPod's ``/health`` shape (ready = idle + running, as RunPod counts it)."""
        states = Counter(worker.state for worker in self._pool)
        idle, running = states[WorkerState.IDLE], states[WorkerState.RUNNING]
        return {
            "jobs": {
                "completed": self.record.completed,
                "failed": self.record.failed,
                "inProgress": sum(worker.active for worker in self._pool),
                "inQueue": len(self._queue),
                "retried": 0,
            },
            "workers": {
                "idle": idle,
                "initializing": states[WorkerState.INITIALIZING],
                "ready": idle + running,
                "running": running,
                "throttled": 0,
                "unhealthy": 0,
            },
        }


async def _wait_event(event: asyncio.Event, timeout: float) -> bool:
    """True if ``event`` was set within ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


def _cancel(handle: asyncio.TimerHandle | None) -> None:
    if handle is not None:
        handle.cancel()
