"""Prometheus bucket bounds, and HDR histograms turned into cumulative buckets at scrape time."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.utils import floatToGoString

from herd.engine.histogram import Histogram

# Seconds; 1 ms to 10 min, with the steps serverless endpoints care about: cold
# starts (10-60 s) and the balancer's 2-minute queue limit of the incident.
DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0,
)  # fmt: skip

# Seconds; the client's own delays (pool waits, scheduling and event-loop lag): a
# healthy client stays under a millisecond, a starved one reaches the pool timeout.
WAIT_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip

Buckets = list[tuple[str, float]]


def as_buckets(bounds: Sequence[float], cumulative: Sequence[int], total: int) -> Buckets:
    """``(le, count)`` pairs for ``HistogramMetricFamily``, ending with ``+Inf``."""
    pairs: Buckets = [(floatToGoString(b), c) for b, c in zip(bounds, cumulative, strict=True)]
    pairs.append(("+Inf", total))
    return pairs


def hdr_buckets(histogram: Histogram, bounds: Sequence[float]) -> tuple[Buckets, float]:
    """Cumulative buckets and the sum of an engine histogram."""
    cumulative, total_seconds = histogram.cumulative(bounds)
    return as_buckets(bounds, cumulative, histogram.count), total_seconds
