"""Pass/fail criteria written as ``"<metric> <op> <value>"``, e.g. ``"p95 < 2s"``.

A threshold names one number of the final report. Parsing happens when the spec is
validated, so a typo fails before any traffic is sent; evaluation happens in the
load generator on the final (merged) numbers.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from herd.api.durations import parse_duration


class Unit(Enum):
    SECONDS = "seconds"  # value written as a duration: 2s, 250ms
    RATIO = "ratio"  # value written as 1% or 0.01
    COUNT = "count"  # a plain number
    RATE = "per_second"  # a plain number, per second


# metric name -> (unit, what it measures). The report computes each of these.
METRICS: dict[str, tuple[Unit, str]] = {
    "p50": (Unit.SECONDS, "median latency"),
    "p90": (Unit.SECONDS, "90th percentile latency"),
    "p95": (Unit.SECONDS, "95th percentile latency"),
    "p99": (Unit.SECONDS, "99th percentile latency"),
    "p999": (Unit.SECONDS, "99.9th percentile latency"),
    "max": (Unit.SECONDS, "maximum latency"),
    "mean": (Unit.SECONDS, "mean latency"),
    "error_rate": (Unit.RATIO, "failed / sent"),
    "errors": (Unit.COUNT, "failed requests"),
    "never_sent": (Unit.COUNT, "planned requests that were never sent"),
    "ok": (Unit.COUNT, "successful requests"),
    "workers": (Unit.COUNT, "distinct endpoint workers that answered"),
    "throughput": (Unit.RATE, "completed requests per second"),
    "burst_spread": (Unit.SECONDS, "time between the first and last request of a burst leaving"),
}

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

# Judged on every run besides the spec's thresholds: a run in which no request succeeded
# never passes, whatever else holds (``errors < 10`` with 5 of 5 connect failures).
IMPLICIT_THRESHOLD = "ok > 0"

_SYNTAX = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Threshold:
    expr: str
    metric: str
    op: str
    value: float

    def holds(self, observed: float) -> bool:
        return _OPERATORS[self.op](observed, self.value)


def parse_threshold(expr: str) -> Threshold:
    """Parse one threshold; raises ValueError with a one-line reason."""
    match = _SYNTAX.match(expr)
    if not match:
        raise ValueError(f"{expr!r} is not '<metric> <op> <value>', e.g. 'p95 < 2s'")
    metric, op, raw = match.groups()
    if metric not in METRICS:
        known = ", ".join(METRICS)
        raise ValueError(f"unknown metric {metric!r} in {expr!r}; known: {known}")
    unit = METRICS[metric][0]
    try:
        value = _parse_value(raw, unit)
    except ValueError as error:
        raise ValueError(f"bad value in {expr!r}: {error}") from None
    return Threshold(expr=expr.strip(), metric=metric, op=op, value=value)


def _parse_value(raw: str, unit: Unit) -> float:
    if unit is Unit.SECONDS:
        return parse_duration(raw)
    if unit is Unit.RATIO:
        ratio = _number(raw[:-1]) / 100.0 if raw.endswith("%") else _number(raw)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("a ratio is a percentage from 0% to 100% or a fraction from 0 to 1")
        return ratio
    value = _number(raw)
    if value < 0:
        raise ValueError("counts and rates are never negative")
    return value


def _number(raw: str) -> float:
    """A finite number: ``nan`` compares false with everything, ``inf`` with nothing real."""
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a finite number")
    return value
