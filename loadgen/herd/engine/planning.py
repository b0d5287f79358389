"""From a spec and a runner's share to what this runner will do: pure."""

from __future__ import annotations

import math

from herd.api.spec import LoadSpec, TargetSpec
from herd.engine.schedule import Share, arrival_count, rate_segments

# Open loop without max_in_flight: room for this many seconds of arrivals to be in
# flight at once, within these bounds.
_RATE_IN_FLIGHT_SECONDS = 30.0
_RATE_IN_FLIGHT_MIN = 64
_RATE_IN_FLIGHT_MAX = 10_000

_BUCKET_CHOICES = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
_MAX_BUCKETS = 600


class Plan:
    """What one runner issues. ``planned`` is None when only time bounds it."""

    def __init__(self, load: LoadSpec, target: TargetSpec, share: Share):
        self.load = load
        self.share = share
        self.pattern = load.pattern
        self.indices: range | None = None  # global request indices, when known up front
        if load.pattern == "burst":
            first, count = share.split(load.requests or 0)
            self.indices = range(first, first + count)
            self.pool_size = max(1, count)
            self.target_concurrency: int | None = count
        elif load.pattern == "concurrency":
            concurrency = share.split(load.concurrency or 1)[1]
            if load.requests is not None:
                first, count = share.split(load.requests)
                self.indices = range(first, first + count)
                concurrency = min(concurrency, count)
            self.concurrency = max(1, concurrency)
            self.pool_size = self.concurrency
            self.target_concurrency = self.concurrency
        else:
            total = arrival_count(rate_segments(load))
            if load.requests is not None:
                total = min(total, load.requests)
            self.indices = range(share.offset, total, share.stride)
            peak_rate = max(load.rate or 0.0, *(stage.target for stage in load.stages), 0.0)
            default_cap = math.ceil(
                peak_rate / share.stride * min(target.timeout, _RATE_IN_FLIGHT_SECONDS)
            )
            self.max_in_flight = load.max_in_flight or min(
                _RATE_IN_FLIGHT_MAX, max(_RATE_IN_FLIGHT_MIN, default_cap)
            )
            self.pool_size = self.max_in_flight
            self.target_concurrency = None
        self.bucket_seconds = _bucket_seconds(load, target)

    @property
    def planned(self) -> int | None:
        return None if self.indices is None else len(self.indices)


def _bucket_seconds(load: LoadSpec, target: TargetSpec) -> float:
    span = (load.load_seconds or 0.0) + min(target.timeout, load.drain_timeout + 1)
    if not load.load_seconds:
        span = min(load.max_duration, target.timeout + 5)
    for choice in _BUCKET_CHOICES:
        if span / choice <= _MAX_BUCKETS:
            return choice
    return _BUCKET_CHOICES[-1]
