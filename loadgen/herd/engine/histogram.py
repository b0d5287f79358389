"""Latency histograms (HdrHistogram) that merge exactly across runners.

Values are recorded in whole microseconds from 1 µs to 1 hour at 3 significant
digits (0.1% error), so memory stays constant however many requests a run makes,
and percentiles of merged runners are exact — never averages of percentiles.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000
_SIGNIFICANT_DIGITS = 3

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


class Histogram:
    """Seconds in, seconds out; microseconds inside."""

    __slots__ = ("_hdr",)

    def __init__(self) -> None:
        self._hdr = HdrHistogram(_LOWEST_US, _HIGHEST_US, _SIGNIFICANT_DIGITS)

    def record(self, seconds: float) -> None:
        micros = int(seconds * 1_000_000)
        # Clamp: a negative clock step or a value past an hour must not raise
        # in the hot path; both are far outside anything herd measures.
        self._hdr.record_value(min(max(micros, _LOWEST_US), _HIGHEST_US))

    @property
    def count(self) -> int:
        return self._hdr.get_total_count()

    def percentile(self, percent: float) -> float:
        return self._hdr.get_value_at_percentile(percent) / 1_000_000

    def summary(self) -> dict[str, float] | None:
        """p50…p999, min, max and mean in seconds; None when nothing was recorded."""
        if self.count == 0:
            return None
        values = {name: self.percentile(p) for name, p in PERCENTILES.items()}
        values["min"] = self._hdr.get_min_value() / 1_000_000
        values["max"] = self._hdr.get_max_value() / 1_000_000
        values["mean"] = self._hdr.get_mean_value() / 1_000_000
        return {name: round(value, 6) for name, value in values.items()}

    def encode(self) -> str:
        """Compressed, base64 HdrHistogram encoding (interoperable with other HDR ports)."""
        return self._hdr.encode().decode("ascii")

    def merge(self, other: Histogram) -> None:
        self._hdr.add(other._hdr)

    @classmethod
    def decode(cls, encoded: str) -> Histogram:
        histogram = cls()
        histogram._hdr.decode_and_add(encoded.encode("ascii"))
        return histogram
