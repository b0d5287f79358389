"""Settings of a simulated serverless endpoint: one frozen, self-checking dataclass.

Every timing is a field (float seconds) so tests and the demo can run the endpoint
time-compressed. Defaults follow RunPod load-balancing endpoints. Each field's metadata
says what it means and how the CLI should read it (``kind``: duration, count, fraction, ...),
so ``herd sim`` builds its options from this one definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any


def _setting(default: Any, kind: str, help: str) -> Any:
    return field(default=default, metadata={"kind": kind, "help": help})


SCALERS = ("queue-delay", "request-count")


@dataclass(frozen=True)
class SimConfig:
    service_time: float = _setting(1.0, "duration", "Base processing time per request.")
    service_time_jitter: float = _setting(
        0.0, "fraction", "Processing time varies uniformly by +/- this fraction (0 = none)."
    )
    cold_start: float = _setting(5.0, "duration", "Time a new worker takes to become ready.")
    scaler: str = _setting(
        "queue-delay",
        "scaler",
        "RunPod's scaler types: queue-delay (a request waiting longer than scale_up_after asks "
        "for a worker) or request-count (about one worker per requests_per_worker requests "
        "received within scale_window).",
    )
    requests_per_worker: int = _setting(
        4, "count", "request-count scaler: requests per worker (RunPod's scaler value)."
    )
    scale_window: float = _setting(
        10.0, "duration", "request-count scaler: how far back received requests are counted."
    )
    scale_up_after: float = _setting(
        1.0,
        "duration",
        "Start a worker when a queued request has waited longer than this and no "
        "initializing worker will take it.",
    )
    scale_check_interval: float = _setting(
        0.1, "duration", "How often the autoscaler looks at the queue and idle workers."
    )
    max_workers: int = _setting(5, "count", "Most workers alive at once.")
    min_workers: int = _setting(0, "count", "Warm workers, ready at start and never stopped.")
    idle_timeout: float = _setting(30.0, "duration", "Stop a worker idle this long.")
    max_queue_wait: float = _setting(
        120.0, "duration", 'Queued longer than this: 400 {"error": "no workers available"}.'
    )
    execution_timeout: float = _setting(
        600.0, "duration", "Processing longer than this answers 524."
    )
    worker_concurrency: int = _setting(1, "count", "Requests one worker processes at once.")
    worker_id_header: str = _setting(
        "X-Runpod-Worker-Id", "text", "Response header naming the worker that handled it."
    )
    seed: int | None = _setting(
        None, "seed", "Seed for worker ids, jitter and job ids (unset: random)."
    )
    record_limit: int = _setting(
        100_000, "count", "Keep details of this many requests; later ones are only counted."
    )
    max_body_bytes: int = _setting(
        20 * 1024 * 1024, "count", "Largest request body accepted (RunPod runsync: 20 MB)."
    )

    def __post_init__(self) -> None:
        for name in ("service_time", "cold_start", "scale_up_after", "idle_timeout"):
            _check(name, getattr(self, name))
        for name in ("scale_check_interval", "max_queue_wait", "execution_timeout", "scale_window"):
            _check(name, getattr(self, name), allow_zero=False)
        _check("service_time_jitter", self.service_time_jitter, unit="fraction")
        if self.service_time_jitter >= 1.0:
            raise ValueError("service_time_jitter must be below 1 (a fraction of service_time)")
        _check_int("max_workers", self.max_workers, at_least=1)
        _check_int("min_workers", self.min_workers, at_least=0)
        if self.min_workers > self.max_workers:
            raise ValueError(
                f"min_workers ({self.min_workers}) must not exceed max_workers ({self.max_workers})"
            )
        _check_int("worker_concurrency", self.worker_concurrency, at_least=1)
        if self.scaler not in SCALERS:
            raise ValueError(f"scaler must be one of {', '.join(SCALERS)}, got {self.scaler!r}")
        _check_int("requests_per_worker", self.requests_per_worker, at_least=1)
        _check_int("record_limit", self.record_limit, at_least=0)
        _check_int("max_body_bytes", self.max_body_bytes, at_least=1)
        if self.seed is not None:
            _check_int("seed", self.seed, at_least=0)
        if not isinstance(self.worker_id_header, str) or not self.worker_id_header.strip():
            raise ValueError("worker_id_header must be a non-empty header name")


def setting_fields() -> list[tuple[str, str, str, Any]]:
    """(name, kind, help, default) for every SimConfig field, in declaration order."""
    return [(f.name, f.metadata["kind"], f.metadata["help"], f.default) for f in fields(SimConfig)]


def _check(name: str, value: object, allow_zero: bool = True, unit: str = "seconds") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number ({unit}), got {value!r}")
    if value < 0 or (not allow_zero and value == 0):
        bound = "not negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {bound}, got {value!r}")


def _check_int(name: str, value: object, at_least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < at_least:
        raise ValueError(f"{name} must be at least {at_least}, got {value!r}")
