"""Operator-wide caps: the most load one run may put on an endpoint, whatever its spec says.

A platform team sets them once (Helm values ``limits.*``, passed as ``HERD_MAX_*``), so that
a typo (``30000`` for ``30``) cannot flood someone's service. Every cap counts all runners
of a run together. A spec over a cap is refused before anything runs, with the field, the
value and the cap in the message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from herd.api.durations import format_duration, parse_duration
from herd.api.spec import LoadTestSpec
from herd.engine.schedule import arrival_count, rate_segments


@dataclass(frozen=True)
class Caps:
    """Upper bounds per run; ``None`` leaves a dimension to the API's own hard limits."""

    max_requests: int | None = None
    """Requests a run plans (a closed loop bounded only by time plans none up front)."""
    max_rate: float | None = None
    """Arrival rate in requests per second: ``load.rate`` and every stage's target."""
    max_concurrency: int | None = None
    """Requests in flight at once: ``load.concurrency``, a burst's ``load.requests``, and
    ``load.maxInFlight`` times parallelism (maxInFlight is per runner)."""
    max_duration: float | None = None
    """``load.maxDuration`` in seconds (it bounds staging and load)."""
    max_parallelism: int | None = None
    """Runner pods per run."""


NO_CAPS = Caps()

ENVIRONMENT = {
    "max_requests": "HERD_MAX_REQUESTS",
    "max_rate": "HERD_MAX_RATE",
    "max_concurrency": "HERD_MAX_CONCURRENCY",
    "max_duration": "HERD_MAX_DURATION",
    "max_parallelism": "HERD_MAX_PARALLELISM",
}
"""The environment variable of each cap (the chart sets them from ``limits.*``)."""


def caps_from_environment(environ: Mapping[str, str]) -> Caps:
    """The caps set in ``environ``; an unset or empty variable leaves that cap off.

    Raises ValueError naming the variable when a value is not a positive number (or, for
    ``HERD_MAX_DURATION``, a duration such as ``1h30m``).
    """
    values: dict[str, float | int] = {}
    for name, variable in ENVIRONMENT.items():
        text = environ.get(variable, "").strip()
        if not text:
            continue
        try:
            if name == "max_duration":
                value: float | int = parse_duration(text)
            elif name == "max_rate":
                value = float(text)
            else:
                value = int(text)
        except ValueError:
            raise ValueError(f"{variable}={text!r} is not a valid number or duration") from None
        if not value > 0 or not math.isfinite(value):
            raise ValueError(f"{variable}={text!r} must be positive")
        values[name] = value
    return Caps(**values)  # type: ignore[arg-type]


def planned_requests(spec: LoadTestSpec) -> int | None:
    """Requests one run plans, all runners together; None when only time bounds it."""
    load = spec.load
    if load.pattern == "rate":
        arrivals = arrival_count(rate_segments(load))
        return arrivals if load.requests is None else min(arrivals, load.requests)
    return load.requests


def _in_flight(spec: LoadTestSpec) -> tuple[str, int]:
    """The most requests the spec puts in flight at once, and the field that says so."""
    load = spec.load
    if load.pattern == "burst":
        return "load.requests (a burst sends them all at once)", load.requests or 0
    if load.pattern == "concurrency":
        return "load.concurrency", load.concurrency or 0
    if load.max_in_flight is None:
        return "load.maxInFlight", 0  # derived from the rate, which its own cap bounds
    return "load.maxInFlight (per runner) * parallelism", load.max_in_flight * spec.parallelism


def _number(value: float) -> str:
    return f"{value:g}"


def cap_problems(spec: LoadTestSpec, caps: Caps, prefix: str = "spec") -> list[str]:
    """Every way ``spec`` exceeds ``caps``, one line each, naming the field."""
    load, problems = spec.load, []
    if caps.max_requests is not None:
        planned = planned_requests(spec)
        if planned is not None and planned > caps.max_requests:
            problems.append(
                f"{prefix}.load: plans {planned} requests, over the operator's cap of "
                f"{caps.max_requests} (limits.maxRequests)"
            )
    if caps.max_rate is not None:
        rates = {"load.rate": load.rate or 0.0}
        rates.update({f"load.stages[{i}].target": s.target for i, s in enumerate(load.stages)})
        for field, rate in rates.items():
            if rate > caps.max_rate:
                problems.append(
                    f"{prefix}.{field}: {_number(rate)}/s is over the operator's cap of "
                    f"{_number(caps.max_rate)}/s (limits.maxRate)"
                )
    if caps.max_concurrency is not None:
        field, in_flight = _in_flight(spec)
        if in_flight > caps.max_concurrency:
            problems.append(
                f"{prefix}.{field}: {in_flight} in flight is over the operator's cap of "
                f"{caps.max_concurrency} (limits.maxConcurrency)"
            )
    if caps.max_duration is not None and load.max_duration > caps.max_duration:
        problems.append(
            f"{prefix}.load.maxDuration: {format_duration(load.max_duration)} is over the "
            f"operator's cap of {format_duration(caps.max_duration)} (limits.maxDuration)"
        )
    if caps.max_parallelism is not None and spec.parallelism > caps.max_parallelism:
        problems.append(
            f"{prefix}.parallelism: {spec.parallelism} runners is over the operator's cap of "
            f"{caps.max_parallelism} (limits.maxParallelism)"
        )
    return problems


def describe(caps: Caps) -> str:
    """One line for the operator's startup log."""
    shown = [
        f"{ENVIRONMENT[f.name]}={getattr(caps, f.name)}"
        for f in fields(caps)
        if getattr(caps, f.name) is not None
    ]
    return ", ".join(shown) if shown else "no operator-wide caps"
