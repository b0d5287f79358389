"""What the cluster shows about a run: its Job and runner pods, read into plain facts.

Pure reading, no judgement: ``run_status`` decides what the facts mean for the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herd.api.status import Reason
from herd.results.summary import RunnerSummary, SummaryError, decode_summary
from herd_operator.job import CONTAINER
from herd_operator.objects import metadata, status_of

INDEX_KEY = "batch.kubernetes.io/job-completion-index"

# Container waiting reasons that keep a runner from starting, by what they mean.
_WAITING_BLOCKERS = {
    "ErrImagePull": Reason.IMAGE_PULL_FAILED,
    "ImagePullBackOff": Reason.IMAGE_PULL_FAILED,
    "InvalidImageName": Reason.IMAGE_PULL_FAILED,
    "ErrImageNeverPull": Reason.IMAGE_PULL_FAILED,
    "CreateContainerConfigError": Reason.CONTAINER_CONFIG_ERROR,
    "CreateContainerError": Reason.CONTAINER_CONFIG_ERROR,
}


@dataclass(frozen=True)
class Blocker:
    """Why a runner pod cannot start."""

    reason: Reason
    message: str


@dataclass(frozen=True)
class RunnerState:
    index: int
    pod: str
    started: bool
    """The runner container has started (it may have finished since)."""
    blocker: Blocker | None = None
    exit_code: int | None = None
    """Set once the container has terminated."""
    exit_reason: str | None = None
    """The kubelet's reason for the termination: Completed, Error, OOMKilled, …"""
    summary: RunnerSummary | None = None
    message: str = ""
    """The termination message when it is not a summary, or why it could not be read."""

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0

    @property
    def failed(self) -> bool:
        return self.exit_code is not None and self.exit_code != 0


@dataclass(frozen=True)
class JobState:
    complete: bool = False
    failed: bool = False
    failure_reason: str | None = None
    failure_message: str | None = None
    failed_at: str | None = None
    """When the Job was found failed (its condition's ``lastTransitionTime``)."""
    start_time: str | None = None
    completion_time: str | None = None
    active_deadline_seconds: int | None = None
    grace_period_seconds: int | None = None
    """The runner pods' ``terminationGracePeriodSeconds``."""


def _runner_container(pod: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = status_of(pod).get("containerStatuses") or []
    for container in containers:
        if container.get("name") == CONTAINER:
            return container
    return {}


def _blocker(pod: dict[str, Any], container: dict[str, Any]) -> Blocker | None:
    waiting = (container.get("state") or {}).get("waiting") or {}
    if waiting.get("reason") in _WAITING_BLOCKERS:
        detail = waiting.get("message") or waiting["reason"]
        return Blocker(_WAITING_BLOCKERS[waiting["reason"]], detail)
    for condition in status_of(pod).get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return Blocker(Reason.UNSCHEDULABLE, condition.get("message") or "Unschedulable")
    return None


def _pod_index(pod: dict[str, Any]) -> int | None:
    meta = metadata(pod)
    raw = (meta.get("annotations") or {}).get(INDEX_KEY) or (meta.get("labels") or {}).get(
        INDEX_KEY
    )
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def observe_runner(pod: dict[str, Any], index: int) -> RunnerState:
    container = _runner_container(pod)
    state = container.get("state") or {}
    name = metadata(pod).get("name", "")
    terminated = state.get("terminated")
    if terminated is None:
        return RunnerState(
            index=index,
            pod=name,
            started="running" in state,
            blocker=_blocker(pod, container),
        )
    text = terminated.get("message") or ""
    summary, message = None, text.strip()
    if text:
        try:
            summary, message = decode_summary(text), ""
        except SummaryError as error:
            # One line: a log tail (FallbackToLogsOnError) comes wrapped at the console width.
            message = " ".join(text.split()) if not text.lstrip().startswith("{") else str(error)
    return RunnerState(
        index=index,
        pod=name,
        started=True,
        exit_code=terminated.get("exitCode"),
        exit_reason=terminated.get("reason"),
        summary=summary,
        # The end: a log tail's last line is the runner's reason.
        message=message if len(message) <= 500 else "…" + message[-499:],
    )


def observe_runners(pods: list[dict[str, Any]]) -> dict[int, RunnerState]:
    """Runner states by completion index (the newest pod of an index wins)."""
    newest: dict[int, dict[str, Any]] = {}
    for pod in pods:
        index = _pod_index(pod)
        if index is None:
            continue
        created = metadata(pod).get("creationTimestamp") or ""
        if index not in newest or created >= (
            metadata(newest[index]).get("creationTimestamp") or ""
        ):
            newest[index] = pod
    return {index: observe_runner(pod, index) for index, pod in sorted(newest.items())}


def observe_job(job: dict[str, Any]) -> JobState:
    status, spec = status_of(job), job.get("spec") or {}
    complete = failed = False
    reason = message = failed_at = None
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            complete = True
        elif condition.get("type") in ("Failed", "FailureTarget"):
            failed = True
            reason, message = condition.get("reason"), condition.get("message")
            failed_at = condition.get("lastTransitionTime")
    return JobState(
        complete=complete,
        failed=failed,
        failure_reason=reason,
        failure_message=message,
        failed_at=failed_at,
        start_time=status.get("startTime"),
        completion_time=status.get("completionTime"),
        active_deadline_seconds=spec.get("activeDeadlineSeconds"),
        grace_period_seconds=((spec.get("template") or {}).get("spec") or {}).get(
            "terminationGracePeriodSeconds"
        ),
    )


@dataclass(frozen=True)
class MergeState:
    """The merge Job of a run, as observed."""

    ended: bool = False
    summary: RunnerSummary | None = None
    """The merged numbers, from the merge pod's termination message."""
    problem: str = ""
    """Why there is no summary, once the merge has ended without one."""


def observe_merge(job: dict[str, Any] | None, pods: list[dict[str, Any]]) -> MergeState:
    """The merge's outcome: its pod's termination message, once the pod or the Job ended."""
    if job is None:
        return MergeState()
    state = observe_job(job)
    terminated = None
    for pod in pods:
        for container in status_of(pod).get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated") or terminated
    if terminated is None:
        if state.failed:
            return MergeState(True, problem=state.failure_message or str(state.failure_reason))
        return MergeState()
    text = terminated.get("message") or ""
    try:
        return MergeState(True, summary=decode_summary(text))
    except SummaryError as error:
        code = terminated.get("exitCode")
        detail = " ".join(text.split())[-300:] if not text.lstrip().startswith("{") else error
        return MergeState(True, problem=f"exit code {code}: {detail or 'no summary'}")
