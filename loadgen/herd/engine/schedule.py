"""When each request should start: pure arithmetic, no I/O.

Open-loop arrivals follow the rate curve exactly: the k-th request (k = 0, 1, …)
is due when the cumulative count of the curve reaches k. A constant rate gives
``k / rate``; a ramp (stages, linear between targets, starting from 0) solves a
quadratic per stage. Runners split work by index, so N runners together follow
the same curve as one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from herd.api.spec import LoadSpec


@dataclass(frozen=True)
class Segment:
    duration: float
    start_rate: float
    end_rate: float

    @property
    def count(self) -> float:
        return (self.start_rate + self.end_rate) / 2 * self.duration


def rate_segments(load: LoadSpec) -> list[Segment]:
    if load.stages:
        segments, previous = [], 0.0
        for stage in load.stages:
            segments.append(Segment(stage.duration, previous, stage.target))
            previous = stage.target
        return segments
    assert load.rate is not None and load.duration is not None
    return [Segment(load.duration, load.rate, load.rate)]


def arrival_count(segments: Sequence[Segment]) -> int:
    """How many arrivals the curve holds: every k with k < total area."""
    total = sum(segment.count for segment in segments)
    return max(0, math.ceil(total - 1e-9))


def arrival_offsets(segments: Sequence[Segment]) -> Iterator[float]:
    """Offsets (seconds from the start) of arrivals 0, 1, 2, … in order."""
    needed = arrival_count(segments)
    k, segment_start, count_before = 0, 0.0, 0.0
    for segment in segments:
        a = segment.start_rate
        b = (segment.end_rate - segment.start_rate) / segment.duration  # rate slope
        while k < needed:
            remaining = k - count_before  # arrivals to accumulate inside this segment
            if b == 0:
                if a == 0:
                    break
                t = remaining / a
            else:
                discriminant = a * a + 2 * b * remaining
                if discriminant < 0:
                    break
                t = (-a + math.sqrt(discriminant)) / b
            if t > segment.duration + 1e-12:
                break
            yield segment_start + max(0.0, t)
            k += 1
        segment_start += segment.duration
        count_before += segment.count


@dataclass(frozen=True)
class Share:
    """The part of the load one runner of ``count`` takes.

    A runner that runs as several processes divides its own share again: process
    ``part`` of ``parts`` takes a part of the runner's share. The division is nested
    (not a flat ``index * parts + part`` of ``count * parts``) so the parts add up to
    exactly the runner's share whatever number of processes the other runners use.
    """

    index: int = 0
    count: int = 1
    part: int = 0
    parts: int = 1

    def split(self, total: int) -> tuple[int, int]:
        """(first global index, how many) of ``total`` items, spread as evenly as possible."""
        base, extra = divmod(total, self.count)
        size = base + (1 if self.index < extra else 0)
        first = self.index * base + min(self.index, extra)
        if self.parts > 1:
            offset, size = Share(self.part, self.parts).split(size)
            first += offset
        return first, size

    @property
    def offset(self) -> int:
        """First index of the interleaved items this share owns (arrivals, open counts)."""
        return self.index + self.count * self.part

    @property
    def stride(self) -> int:
        """Distance between interleaved items this share owns."""
        return self.count * self.parts

    def owns(self, k: int) -> bool:
        """Interleaved ownership, used for arrivals so every runner spans the whole curve."""
        return k % self.stride == self.offset

    def process(self, part: int, parts: int) -> Share:
        """Process ``part`` of ``parts`` of this runner's share."""
        return Share(self.index, self.count, part, parts)
