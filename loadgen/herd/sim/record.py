"""Ground truth the simulated endpoint keeps, so tests can check a load test's claims exactly.

Times are seconds since the simulation started (or was last reset). Details are kept for the
first ``record_limit`` requests only; the summary counts every request.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from herd.sim.workers import Worker

UNANSWERED = "unanswered"  # status_counts key for requests that ended without a response


@dataclass(slots=True, eq=False)
class RequestEntry:
    seq: int
    method: str
    path: str
    arrival: float
    dispatched: float | None = None
    ended: float | None = None
    worker: str | None = None
    status: int | None = None  # None: cancelled before an answer (client gone, shutdown)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "arrival": _seconds(self.arrival),
            "dispatched": _seconds(self.dispatched),
            "ended": _seconds(self.ended),
            "worker": self.worker,
            "status": self.status,
        }


class SimRecord:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total_requests = 0
        self.status_counts: Counter[int | None] = Counter()
        self.max_running_workers = 0
        self.max_live_workers = 0
        self._requests: list[RequestEntry] = []
        self._workers: list[Worker] = []

    def open_request(self, method: str, path: str, arrival: float) -> RequestEntry:
        """A new entry (sequence numbers start at 1); kept only while under the limit."""
        self.total_requests += 1
        entry = RequestEntry(self.total_requests, method, path, arrival)
        if len(self._requests) < self.limit:
            self._requests.append(entry)
        return entry

    def close_request(self, entry: RequestEntry, status: int | None, ended: float) -> None:
        entry.status, entry.ended = status, ended
        self.status_counts[status] += 1

    def add_worker(self, worker: Worker, live_workers: int) -> None:
        self._workers.append(worker)
        self.max_live_workers = max(self.max_live_workers, live_workers)

    def note_running(self, running_workers: int) -> None:
        self.max_running_workers = max(self.max_running_workers, running_workers)

    @property
    def completed(self) -> int:
        return sum(n for status, n in self.status_counts.items() if status and status < 400)

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.status_counts.items() if status and status >= 400)

    def to_json(self) -> dict[str, Any]:
        per_worker = {w.id: w.served for w in self._workers if w.served}
        status_counts = {
            (UNANSWERED if status is None else str(status)): n
            for status, n in sorted(self.status_counts.items(), key=lambda kv: kv[0] or 0)
        }
        return {
            "summary": {
                "total_requests": self.total_requests,
                "status_counts": status_counts,
                "distinct_workers": len(per_worker),
                "requests_per_worker": per_worker,
                "max_running_workers": self.max_running_workers,
                "max_live_workers": self.max_live_workers,
                "workers_started": len(self._workers),
            },
            "requests_detail": {
                "limit": self.limit,
                "recorded": len(self._requests),
                "dropped": self.total_requests - len(self._requests),
                "truncated": self.total_requests > len(self._requests),
            },
            "requests": [entry.to_json() for entry in self._requests],
            "workers": [_worker_json(worker) for worker in self._workers],
        }


def _worker_json(worker: Worker) -> dict[str, Any]:
    return {
        "id": worker.id,
        "started_at": _seconds(worker.started_at),
        "ready_at": _seconds(worker.ready_at),
        "stopped_at": _seconds(worker.stopped_at),
        "served": worker.served,
    }


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
