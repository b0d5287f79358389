"""How many processes a runner uses for its load, and the reason, in words.

``auto`` takes the CPUs this process may use, but no more processes than the load
gives work to: each process costs a Python interpreter (tens of MiB, a second to
start), and below a few hundred requests per second one event loop keeps up
with room to spare. A number given explicitly is used as asked, unless some
process would have nothing at all to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from herd.api.spec import LoadTestSpec
from herd.engine.multicore.cpus import CpuBudget
from herd.engine.planning import Plan
from herd.engine.schedule import Share

# What auto gives each process at least: below this one event loop has room to spare.
BURST_PER_PROCESS = 500
CONCURRENCY_PER_PROCESS = 32
RATE_PER_PROCESS = 500.0  # requests per second at the peak of the curve

Processes = int | Literal["auto"]


@dataclass(frozen=True)
class ProcessChoice:
    count: int
    reason: str

    def describe(self) -> str:
        plural = "process" if self.count == 1 else "processes"
        return f"{self.count} {plural}: {self.reason}"


def parse_processes(text: str) -> Processes:
    """``--processes`` text: ``auto`` or a whole number of at least 1."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"expected 'auto' or a whole number of at least 1, got {text!r}")
    return value


def choose_processes(
    requested: Processes, spec: LoadTestSpec, share: Share, cpus: CpuBudget
) -> ProcessChoice:
    """Raises ValueError (naming ``--processes``) when an explicit count leaves a process idle."""
    most, most_why = _most_with_work(spec, share)
    if requested != "auto":
        if requested > most:
            raise ValueError(
                f"--processes {requested}: {most_why}, so at most {most} "
                f"process{'es' if most != 1 else ''} would have work; use at most {most}"
            )
        return ProcessChoice(requested, "as asked (--processes)")
    enough, enough_why = _enough_for(spec, share)
    count = max(1, min(cpus.usable, most, enough))
    reasons = [f"auto: {cpus.describe()}"]
    if count < cpus.usable:
        reasons.append(enough_why if enough <= most else most_why)
    return ProcessChoice(count, "; ".join(reasons))


def _most_with_work(spec: LoadTestSpec, share: Share) -> tuple[int, str]:
    """Processes that can each get at least one request, slot or upload slot."""
    load, plan = spec.load, Plan(spec.load, spec.target, share)
    limits: list[tuple[int, str]] = []
    if plan.planned is not None:
        limits.append((plan.planned, f"this runner has {plan.planned} requests"))
    if load.pattern == "concurrency":
        limits.append((plan.concurrency, f"this runner keeps {plan.concurrency} in flight"))
    if load.pattern == "rate" and load.max_in_flight is not None:
        limits.append((load.max_in_flight, f"load.maxInFlight is {load.max_in_flight}"))
    if spec.uploads is not None:
        slots = spec.uploads.concurrency
        limits.append((slots, f"uploads.concurrency is {slots} (each process needs a slot)"))
    most, why = min(limits, key=lambda limit: limit[0])
    return max(1, most), why


def _enough_for(spec: LoadTestSpec, share: Share) -> tuple[int, str]:
    """Processes the load keeps busy: at least a few hundred requests (per second) each."""
    load, plan = spec.load, Plan(spec.load, spec.target, share)
    if load.pattern == "burst":
        count = plan.planned or 0
        return (
            math.ceil(count / BURST_PER_PROCESS),
            f"a burst of {count} needs no more ({BURST_PER_PROCESS} requests per process)",
        )
    if load.pattern == "concurrency":
        return (
            math.ceil(plan.concurrency / CONCURRENCY_PER_PROCESS),
            f"{plan.concurrency} in flight needs no more "
            f"({CONCURRENCY_PER_PROCESS} in flight per process)",
        )
    peak = max(load.rate or 0.0, *(stage.target for stage in load.stages), 0.0) / share.count
    return (
        math.ceil(peak / RATE_PER_PROCESS),
        f"a peak of {peak:g} requests/s needs no more ({RATE_PER_PROCESS:g}/s per process)",
    )
