"""Simulated workers: their lifecycle (initializing -> idle <-> running -> stopped) and ids."""

from __future__ import annotations

import asyncio
import enum
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from herd.sim.config import SimConfig

if TYPE_CHECKING:  # record.py imports Worker from here
    from herd.sim.record import SimRecord

WORKER_ID_LENGTH = 14  # RunPod worker ids look like "q1j33s08lgn2gs"
_ID_ALPHABET = string.ascii_lowercase + string.digits


class WorkerState(enum.StrEnum):
    INITIALIZING = "initializing"
    IDLE = "idle"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(slots=True, eq=False)
class Worker:
    """One worker; its timestamps are seconds since the simulation (re)started."""

    id: str
    started_at: float
    ready_at: float | None = None
    stopped_at: float | None = None
    active: int = 0  # requests it is processing now
    served: int = 0  # requests dispatched to it, ever
    idle_since: float | None = None  # when it last became ready with nothing to do

    @property
    def state(self) -> WorkerState:
        if self.stopped_at is not None:
            return WorkerState.STOPPED
        if self.ready_at is None:
            return WorkerState.INITIALIZING
        return WorkerState.RUNNING if self.active else WorkerState.IDLE

    def mark_ready(self, now: float) -> None:
        self.ready_at = now
        self.idle_since = now


def seeded_stream(seed: int | None, purpose: str) -> random.Random:
    """An RNG per purpose, so e.g. worker ids do not depend on how many requests were jittered."""
    return random.Random(None if seed is None else f"{seed}:{purpose}")


class WorkerIds:
    """Unique RunPod-style ids (14 lowercase alphanumerics) from a seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._issued: set[str] = set()

    def next(self) -> str:
        while True:
            candidate = "".join(self._rng.choices(_ID_ALPHABET, k=WORKER_ID_LENGTH))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate


class WorkerPool:
    """Live workers in start order, their cold-start timers, and how many are busy.

    ``on_ready(now)`` runs when a cold start finishes, so the owner can dispatch queued requests;
    ``clock`` gives the simulation's time.
    """

    def __init__(
        self,
        config: SimConfig,
        worker_ids: WorkerIds,
        record: SimRecord,
        clock: Callable[[], float],
        on_ready: Callable[[float], None],
    ) -> None:
        self._config = config
        self._clock = clock
        self._worker_ids = worker_ids
        self._record = record
        self._on_ready = on_ready
        self._workers: dict[str, Worker] = {}
        self._cold_starts: dict[str, asyncio.TimerHandle] = {}
        self._running = 0

    def __iter__(self) -> Iterator[Worker]:
        return iter(self._workers.values())

    def __len__(self) -> int:
        return len(self._workers)

    def start(self, now: float, warm: bool) -> Worker:
        worker = Worker(self._worker_ids.next(), started_at=now)
        self._workers[worker.id] = worker
        self._record.add_worker(worker, live_workers=len(self._workers))
        if warm or self._config.cold_start == 0:
            worker.mark_ready(now)
        else:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(self._config.cold_start, self._finish_cold_start, worker)
            self._cold_starts[worker.id] = handle
        return worker

    def stop(self, worker_id: str, now: float) -> None:
        self._workers.pop(worker_id).stopped_at = now
        handle = self._cold_starts.pop(worker_id, None)
        if handle is not None:
            handle.cancel()

    def stop_all(self, now: float) -> None:
        for worker_id in list(self._workers):
            self.stop(worker_id, now)

    def free_worker(self) -> Worker | None:
        """The ready worker with the fewest requests in hand; the oldest on a tie."""
        best: Worker | None = None
        for worker in self._workers.values():
            if worker.ready_at is None or worker.active >= self._config.worker_concurrency:
                continue
            if best is None or worker.active < best.active:
                best = worker
        return best

    def take(self, worker: Worker) -> None:
        worker.active += 1
        worker.served += 1
        if worker.active == 1:
            self._running += 1
            self._record.note_running(self._running)

    def release(self, worker: Worker, now: float) -> bool:
        """One request done; False if the worker was stopped meanwhile (reset, shutdown)."""
        worker.active -= 1
        if worker.stopped_at is not None:
            return False
        if worker.active == 0:
            worker.idle_since = now
            self._running -= 1
        return True

    def _finish_cold_start(self, worker: Worker) -> None:
        del self._cold_starts[worker.id]
        now = self._clock()
        worker.mark_ready(now)
        self._on_ready(now)
