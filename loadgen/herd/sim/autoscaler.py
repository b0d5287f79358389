"""The autoscaler's decision, as a pure function of a pool snapshot and the time.

Scale up (RunPod-like, queue-delay based):
- queued requests and no worker at all (not even initializing): start one right away;
- otherwise a request that has waited longer than ``scale_up_after`` asks for a worker, but
  initializing workers count as capacity for the head of the queue. Without that, a cold
  start longer than ``scale_up_after`` would start a new worker on every check for a single
  request; with it, requests sent one after another stay on one worker (the incident's trickle).

Scale up (request-count, RunPod's other scaler type): keep about one worker per
``requests_per_worker`` requests received within the last ``scale_window``. The pool is sized
from the traffic the balancer sees arrive, not from its queue: requests that trickle in one by
one keep a single worker while a queue builds behind it, and the balancer's queue limit
answers 400 at the end (the incident); a burst sizes the pool at once.

Scale down: a worker idle for ``idle_timeout`` is stopped, longest-idle first, never going
below ``min_workers``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from herd.sim.config import SimConfig


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    now: float
    queued_arrivals: Sequence[float] = ()  # arrival times of waiting requests, oldest first
    recent_arrivals: int = 0  # requests received within the scale window (request-count)
    initializing: int = 0
    running: int = 0  # ready workers processing at least one request
    idle_since: Mapping[str, float] = field(default_factory=dict)  # idle worker id -> since

    @property
    def live(self) -> int:
        return self.initializing + self.running + len(self.idle_since)


@dataclass(frozen=True, slots=True)
class ScalingDecision:
    start: int = 0
    stop: tuple[str, ...] = ()


def decide(config: SimConfig, pool: PoolSnapshot) -> ScalingDecision:
    return ScalingDecision(start=workers_to_start(config, pool), stop=workers_to_stop(config, pool))


def workers_to_start(config: SimConfig, pool: PoolSnapshot) -> int:
    if not pool.queued_arrivals:
        return 0
    room = config.max_workers - pool.live
    if room <= 0:
        return 0
    if config.scaler == "request-count":
        wanted = math.ceil(pool.recent_arrivals / config.requests_per_worker) - pool.live
        return min(max(wanted, 1 if pool.live == 0 else 0), room)
    # Arrivals are sorted, so those strictly older than the threshold form a prefix.
    overdue = bisect.bisect_left(pool.queued_arrivals, pool.now - config.scale_up_after)
    uncovered = overdue - pool.initializing * config.worker_concurrency
    wanted = math.ceil(uncovered / config.worker_concurrency) if uncovered > 0 else 0
    if pool.live == 0:
        wanted = max(wanted, 1)
    return min(wanted, room)


def workers_to_stop(config: SimConfig, pool: PoolSnapshot) -> tuple[str, ...]:
    spare = pool.live - config.min_workers
    if spare <= 0:
        return ()
    expired = sorted(
        (since, worker_id)
        for worker_id, since in pool.idle_since.items()
        if pool.now - since >= config.idle_timeout
    )
    return tuple(worker_id for _, worker_id in expired[:spare])
