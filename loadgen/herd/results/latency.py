"""Latency histograms across runners: precision for the termination message, exact merge.

Runners send their HdrHistogram (base64, the engine's own encoding). A very wide
histogram may not fit a termination message at full precision, so a runner can
re-bin it to a coarser step of ``LADDER``; the last step has so few buckets that it
always fits (``encoded_size_bound`` proves it). Merging never averages percentiles:
histograms are added bucket by bucket into one at the coarsest precision among the
runners, whose percentiles then err on the high side by at most that precision.
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from herd.engine.histogram import PERCENTILES

HIGHEST_US = 3_600_000_000
"""The engine records latency in microseconds up to one hour (larger values are clamped)."""

# HdrHistogram V2 wire format: an 8-byte external header (cookie, length), then zlib
# over a 40-byte payload header and one LEB128 zig-zag varint per counter, where a run
# of empty counters is a single varint.
_EXTERNAL_HEADER = 8
_PAYLOAD_HEADER = 40


@dataclass(frozen=True, order=True)
class Precision:
    digits: int
    """Significant decimal digits (3: values within 0.1%)."""
    lowest_us: int
    """Smallest value told apart from 0, in microseconds (rounded down to a power of 2)."""

    def empty(self) -> HdrHistogram:
        return HdrHistogram(self.lowest_us, HIGHEST_US, self.digits)

    @property
    def counters(self) -> int:
        counters: int = self.empty().counts_len
        return counters


FULL = Precision(3, 1)
"""What the engine records (``herd.engine.histogram``)."""
LADDER = (FULL, Precision(2, 1), Precision(1, 1), Precision(1, 1024))
"""From finest to coarsest; the last has 320 counters (1 ms resolution below ~30 ms)."""


def precision_of(histogram: HdrHistogram) -> Precision:
    return Precision(histogram.significant_figures, histogram.lowest_trackable_value)


def decode(encoded: str) -> HdrHistogram:
    return HdrHistogram.decode(encoded.encode("ascii"))


def encode(histogram: HdrHistogram) -> str:
    encoded: bytes = histogram.encode()
    return encoded.decode("ascii")


def rebin(encoded: str, precision: Precision) -> str:
    """The same histogram at ``precision`` (counts are kept; only bucket widths change)."""
    source = decode(encoded)
    if precision_of(source) == precision:
        return encoded
    target = precision.empty()
    target.add(source)
    return encode(target)


def _varint_bytes(value: int) -> int:
    zigzag = value << 1  # counts are positive; zero runs are small negatives
    return max(1, math.ceil(zigzag.bit_length() / 7))


def _zlib_bound(size: int) -> int:
    # zlib's compressBound(): what deflate may add to incompressible input.
    return size + (size >> 12) + (size >> 14) + (size >> 25) + 13


def encoded_size_bound(precision: Precision, max_count: int) -> int:
    """Upper bound on the base64 length of any histogram at ``precision`` whose
    counters are each at most ``max_count``: every counter costs at most one
    varint of ``max_count`` (a zero run costs less: one small varint for the run)."""
    varints = precision.counters * max(_varint_bytes(max_count), _varint_bytes(precision.counters))
    compressed = _zlib_bound(_PAYLOAD_HEADER + varints)
    return 4 * math.ceil((_EXTERNAL_HEADER + compressed) / 3)


@dataclass(frozen=True)
class MergedLatency:
    count: int
    seconds: dict[str, float]
    """p50…p999, min, max and mean."""
    precision: Precision


def merge(encoded: list[str]) -> MergedLatency | None:
    """Add every runner's histogram; None when no runner recorded a latency."""
    histograms = [decode(text) for text in encoded if text]
    histograms = [histogram for histogram in histograms if histogram.get_total_count()]
    if not histograms:
        return None
    precisions = [precision_of(histogram) for histogram in histograms]
    coarsest = Precision(min(p.digits for p in precisions), max(p.lowest_us for p in precisions))
    merged = coarsest.empty()
    for histogram in histograms:
        merged.add(histogram)
    seconds = {name: merged.get_value_at_percentile(p) / 1e6 for name, p in PERCENTILES.items()}
    seconds["min"] = merged.get_min_value() / 1e6
    seconds["max"] = merged.get_max_value() / 1e6
    seconds["mean"] = merged.get_mean_value() / 1e6
    return MergedLatency(
        count=merged.get_total_count(),
        seconds={name: round(value, 6) for name, value in seconds.items()},
        precision=coarsest,
    )


def wire_bytes(encoded: str) -> bytes:
    """The zlib payload of an encoded histogram (for tests that check the bound's parts)."""
    raw = base64.b64decode(encoded)
    return zlib.decompress(raw[_EXTERNAL_HEADER:])
