"""Operator-wide caps: the most load one run may put on an endpoint, whatever its spec says.

A platform team sets them once (Helm values ``limits.*``, passed as ``HERD_MAX_*``), so that
a typo (``30000`` for ``30``) cannot flood someone's service. Every cap counts all runners
of a run together. A spec over a cap is refused before anything runs, with the field, the
value and the cap in the message. Two caps act while runs go instead: a closed loop that
only ``duration`` bounds has no count to refuse, so its runners stop at ``maxRequests``
(``request_ceiling``); and a run beyond ``maxActiveRunsPerNamespace`` waits for a slot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from herd.api.durations import format_duration, parse_duration
from herd.api.spec import LoadTestSpec
from herd.engine.multicore.choice import choose_processes
from herd.engine.multicore.cpus import CpuBudget
from herd.engine.planning import Plan
from herd.engine.schedule import Share, arrival_count, rate_segments


@dataclass(frozen=True)
class Caps:
    """Upper bounds per run; ``None`` leaves a dimension to the API's own hard limits."""

    max_requests: int | None = None
    """Requests a run plans; a closed loop bounded only by time plans none up front, so
    its runners stop issuing at this many instead."""
    max_rate: float | None = None
    """Arrival rate in requests per second: ``load.rate`` and every stage's target."""
    max_concurrency: int | None = None
    """Requests in flight at once: ``load.concurrency``, a burst's ``load.requests``, and
    ``load.maxInFlight`` times parallelism (maxInFlight is per runner)."""
    max_duration: float | None = None
    """``load.maxDuration`` in seconds (it bounds staging and load)."""
    max_parallelism: int | None = None
    """Runner pods per run."""
    max_active_runs_per_namespace: int | None = None
    """Runs of one namespace whose runners are up at once; a run beyond it stays
    ``Pending`` until one finishes."""


NO_CAPS = Caps()

ENVIRONMENT = {
    "max_requests": "HERD_MAX_REQUESTS",
    "max_rate": "HERD_MAX_RATE",
    "max_concurrency": "HERD_MAX_CONCURRENCY",
    "max_duration": "HERD_MAX_DURATION",
    "max_parallelism": "HERD_MAX_PARALLELISM",
    "max_active_runs_per_namespace": "HERD_MAX_ACTIVE_RUNS_PER_NAMESPACE",
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
    return Caps(**values)  # type: ignore[arg-type]  # each value's type follows its name


def planned_requests(spec: LoadTestSpec) -> int | None:
    """Requests one run plans, all runners together; None when only time bounds it."""
    load = spec.load
    if load.pattern == "rate":
        arrivals = arrival_count(rate_segments(load))
        return arrivals if load.requests is None else min(arrivals, load.requests)
    return load.requests


def request_ceiling(spec: LoadTestSpec, caps: Caps) -> int | None:
    """The requests the runners may send when the spec plans no count (a closed loop only
    ``duration`` bounds): ``maxRequests``, which they stop at. None when a count is planned
    (``cap_problems`` checks it) or there is no cap."""
    return caps.max_requests if planned_requests(spec) is None else None


_CPU_UNKNOWN = 1024
"""Processes a runner could use when its pod requests no CPU: the load bounds them then."""


def runner_processes(spec: LoadTestSpec, share: Share) -> int:
    """The most processes ``herd run --processes auto`` uses for ``share`` in its pod: one
    per CPU the pod requests (rounded up), at most as many as the load keeps busy."""
    # Here, not at the top: herd run imports this module and has no use for the client.
    from kubernetes.utils.quantity import parse_quantity

    resources = spec.runner.resources
    quantities = (resources.requests.get("cpu"), resources.limits.get("cpu"))
    cpus = [parse_quantity(quantity) for quantity in quantities if quantity is not None]
    usable = [math.ceil(cpu) for cpu in cpus if cpu > 0]
    budget = CpuBudget(affinity=min(usable, default=_CPU_UNKNOWN))
    return choose_processes("auto", spec, share, budget).count


def derived_in_flight(spec: LoadTestSpec) -> int:
    """The in-flight bound of an open loop without ``maxInFlight``, all runners and their
    processes together: the engine's own default (``Plan``), so the numbers agree."""
    total = 0
    for index in range(spec.parallelism):
        share = Share(index, spec.parallelism)
        processes = runner_processes(spec, share)
        total += sum(
            Plan(spec.load, spec.target, share.process(part, processes)).max_in_flight
            for part in range(processes)
        )
    return total


def _in_flight(spec: LoadTestSpec) -> tuple[str, int]:
    """The most requests the spec puts in flight at once, and the field that says so."""
    load = spec.load
    if load.pattern == "burst":
        return "load.requests (a burst sends them all at once)", load.requests or 0
    if load.pattern == "concurrency":
        return "load.concurrency", load.concurrency or 0
    if load.max_in_flight is None:
        return (
            "load.maxInFlight (unset: room for the rate's arrivals over min(timeout, 30s), "
            "for each runner process)",
            derived_in_flight(spec),
        )
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
            hint = ""
            if load.pattern == "rate" and load.max_in_flight is None:
                per_runner = max(1, caps.max_concurrency // spec.parallelism)
                hint = f"; set load.maxInFlight (per runner) to at most {per_runner}"
            problems.append(
                f"{prefix}.{field}: {in_flight} in flight is over the operator's cap of "
                f"{caps.max_concurrency} (limits.maxConcurrency){hint}"
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
