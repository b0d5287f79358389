"""Runs per namespace (``limits.maxActiveRunsPerNamespace``): whether one more may start.

A run holds a slot while its runner Job is up (not complete, failed or suspended). A run
that would start beyond the cap waits, ``Pending`` with the ``WaitingForCapacity`` reason,
and starts when a slot frees up: waiting is friendlier than refusing for schedules, and
the runs of one namespace start in the order they were created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herd.api.status import TERMINAL_PHASES, Reason
from herd_operator.naming import COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGER
from herd_operator.objects import metadata, status_of
from herd_operator.observe import observe_job

RUNNER_JOB_LABELS = {MANAGED_BY_LABEL: MANAGER, COMPONENT_LABEL: "runner"}
"""Selects the runner Jobs of every run (the namespace's slots)."""


def holds_slot(job: dict[str, Any]) -> bool:
    state = observe_job(job)
    return not (state.complete or state.failed or (job.get("spec") or {}).get("suspend"))


def is_waiting(run: dict[str, Any]) -> bool:
    """The run waits for a slot (its last status says so)."""
    status = status_of(run)
    if status.get("phase") in TERMINAL_PHASES or status.get("jobName"):
        return False
    return any(
        condition.get("reason") == Reason.WAITING_FOR_CAPACITY.value
        for condition in status.get("conditions") or []
    )


def _age(run: dict[str, Any]) -> tuple[str, str]:
    meta = metadata(run)
    return meta.get("creationTimestamp") or "", meta.get("name") or ""


@dataclass(frozen=True)
class Slots:
    cap: int
    active: int
    """Other runs of the namespace whose runners are up."""
    ahead: int
    """Runs of the namespace waiting since before this one was created."""
    held: bool = False
    """This run's own Job is there already (created a moment ago, not yet seen)."""

    @property
    def free(self) -> bool:
        return self.held or self.active + self.ahead < self.cap

    def waiting_message(self, namespace: str) -> str:
        ahead = f", {self.ahead} waiting before it" if self.ahead else ""
        return (
            f"waiting for a slot: {self.active} runs of namespace {namespace} have runners up"
            f"{ahead}; the operator allows {self.cap} at once (limits.maxActiveRunsPerNamespace)"
        )


def namespace_slots(
    run: dict[str, Any], jobs: list[dict[str, Any]], runs: list[dict[str, Any]], cap: int
) -> Slots:
    """The slots ``run`` would compete for, from its namespace's runner Jobs and runs."""
    name = metadata(run).get("name")
    held = any(metadata(job).get("name") == name for job in jobs)
    active = sum(1 for job in jobs if metadata(job).get("name") != name and holds_slot(job))
    ahead = sum(
        1
        for other in runs
        if metadata(other).get("name") != name and is_waiting(other) and _age(other) < _age(run)
    )
    return Slots(cap=cap, active=active, ahead=ahead, held=held)
