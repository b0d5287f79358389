"""A run's status from what is observed: the run, its Job and its runner pods.

``reconcile_run`` is level-based: given the same observations it returns the same
status and actions, however often it is called and whatever was missed in between.
A terminal status (Succeeded, Failed, Invalid) is final: results recorded once are
never recomputed, even after the Job and its pods are gone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from herd.api.exits import exit_meaning
from herd.api.loading import SpecError
from herd.api.results import S3ResultsSpec
from herd.api.status import (
    TERMINAL_PHASES,
    LoadTestRunStatus,
    Phase,
    Reason,
    RunnerCounts,
    RunResults,
)
from herd.api.verdicts import Verdict
from herd.results.merge import merge_results
from herd_operator.caps import NO_CAPS
from herd_operator.conditions import run_conditions
from herd_operator.display import headline, run_summary
from herd_operator.events import Event
from herd_operator.job import active_deadline_seconds, job_release_time, release_time
from herd_operator.merge_job import merge_job_name
from herd_operator.merged_results import store_results
from herd_operator.namespace_slots import Slots, is_waiting
from herd_operator.objects import RunObject, metadata, parse_time, read_run, rfc3339, status_of
from herd_operator.observe import (
    JobState,
    MergeState,
    RunnerState,
    observe_job,
    observe_merge,
    observe_runners,
)
from herd_operator.policy import OPEN_POLICY
from herd_operator.results_location import results_store_of
from herd_operator.settings import DEFAULT_SETTINGS, RunnerSettings

WAITING_RECHECK_SECONDS = 10
"""How often a run waiting for a slot looks again (a run that ends also wakes it)."""
STOP_MARGIN_SECONDS = 10
"""Beyond their grace period, how long the runners of a failed Job may take to report."""


class Action(StrEnum):
    CREATE_RUNNERS = "CreateRunners"
    """Create the runner ConfigMap and Job (``AlreadyExists`` means done)."""
    SUSPEND_JOB = "SuspendJob"
    """Set the Job's ``spec.suspend``: its pods are stopped, the Job (and what its pods
    reported) stays."""
    CREATE_MERGE = "CreateMerge"
    """Create the merge Job (``AlreadyExists`` means done); refused: write ``fallback``."""
    DELETE_JOB = "DeleteJob"
    """Delete the Job and its pods (``ttlSecondsAfterFinished`` has passed)."""


@dataclass(frozen=True)
class RunReconcile:
    status: dict[str, Any]
    """The whole status to write (camelCase, as in the CRD)."""
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None
    """Seconds until the status may change without any new observation."""
    fallback: RunReconcile | None = None
    """What to write instead when the API server refuses the merge Job (HTTP 422): the
    run ends on its runners' summaries."""


@dataclass(frozen=True)
class _Outcome:
    phase: Phase
    message: str
    failure: tuple[Reason, str] | None = None
    results: RunResults | None = None
    actions: tuple[Action, ...] = ()
    waiting: tuple[Reason, str] | None = None
    """Why a run in progress has not started yet (it is waiting for a slot)."""
    recheck: float | None = None
    """Seconds until the outcome changes without a new observation (a wait's bound)."""
    notices: tuple[Event, ...] = ()
    """Events to emit with the outcome's phase change (a merge that failed)."""


def ended_verdict(phase: Phase, results: RunResults | None) -> Verdict:
    """The verdict of a run that ended in ``phase``: its results' when it succeeded;
    inconclusive when it failed (its results, if any, are partial: nothing they say can
    pass or fail it); failed when its spec is invalid (the spec is what failed)."""
    if phase == "Succeeded" and results is not None:
        return results.verdict
    return "failed" if phase == "Invalid" else "inconclusive"


def _runner_failure(run: RunObject, runner: RunnerState) -> tuple[Reason, str]:
    if runner.exit_reason == "OOMKilled":
        limit = run.spec.runner.resources.limits.get("memory", "unset")
        return Reason.OOM_KILLED, (
            f"runner {runner.index} was killed for exceeding its memory limit ({limit}); "
            "raise spec.runner.resources.limits.memory"
        )
    meaning = exit_meaning(runner.exit_code or 0)
    detail = f": {runner.message}" if runner.message else ""
    return Reason.RUNNER_FAILED, (
        f"runner {runner.index} exited with code {runner.exit_code} ({meaning}){detail}"
    )


def _missing(run: RunObject, runners: dict[int, RunnerState]) -> list[int]:
    """Indexes of the runners that left no readable summary (or no pod at all)."""
    return [
        index
        for index in range(run.spec.parallelism)
        if index not in runners or runners[index].summary is None
    ]


def _results(run: RunObject, runners: dict[int, RunnerState]) -> RunResults | None:
    """The summaries of every runner that reported, merged; the runners that did not are
    named, and the merge counts their planned share as unknown (``runner_lost``)."""
    summaries = [s for i in sorted(runners) if (s := runners[i].summary) is not None]
    if not summaries:
        return None
    results = merge_results(run.spec, summaries)
    missing = _missing(run, runners)
    return results.model_copy(update={"missing_runners": missing}) if missing else results


def _stop_wait(job: JobState, now: datetime) -> float:
    """Seconds a failed Job's runners that are still stopping may take to report: their
    grace period (they drain and write their summary on SIGTERM) from the failure, and a
    margin; 0 when the failure time is unknown. Bounded, so a pod left running on a lost
    node cannot keep the run open."""
    failed_at = parse_time(job.failed_at)
    if failed_at is None:
        return 0.0
    grace = (job.grace_period_seconds or 0) + STOP_MARGIN_SECONDS
    return (failed_at + timedelta(seconds=grace) - now).total_seconds()


def _failure(
    run: RunObject, job: JobState, runners: dict[int, RunnerState], missing: list[int]
) -> tuple[Reason, str]:
    """Why a run whose Job ended did not succeed: a deadline, the first runner lost (or
    failed), a runner that left no summary, or what the Job says."""
    if job.failure_reason == "DeadlineExceeded":
        deadline = job.active_deadline_seconds or active_deadline_seconds(run)
        return Reason.DEADLINE_EXCEEDED, (
            f"the runner Job passed its deadline of {deadline}s "
            "(startup allowance + load.maxDuration + margin)"
        )
    failed = [runner for runner in runners.values() if runner.failed]
    lost = [runner for runner in failed if runner.index in missing]
    if lost or failed:
        return _runner_failure(run, (lost or failed)[0])
    if missing:
        detail = "; ".join(
            f"runner {index}: {runners[index].message or 'empty termination message'}"
            if index in runners
            else f"runner {index}: pod gone"
            for index in missing
        )
        return Reason.RESULTS_MISSING, f"runners finished without a readable summary ({detail})"
    return Reason.RUNNER_FAILED, (
        f"the runner Job failed: {job.failure_message or job.failure_reason}"
    )


def _ended(
    run: RunObject, job: JobState, runners: dict[int, RunnerState], now: datetime
) -> _Outcome:
    """The outcome of a run whose Job ended: complete, or failed with what every runner
    that reported is kept (a runner that ended after another failed counts too)."""
    stopping = [r.index for r in runners.values() if r.started and r.exit_code is None]
    wait = _stop_wait(job, now) if job.failed and stopping else 0.0
    if wait > 0:
        named = ", ".join(map(str, stopping))
        return _Outcome(
            "Running",
            f"the runner Job failed ({job.failure_reason}); waiting up to {math.ceil(wait)}s "
            f"for runner {named} to stop and report",
            recheck=wait,
        )
    results = _results(run, runners)
    missing = _missing(run, runners)
    if job.complete and not missing and results is not None:
        return _Outcome("Succeeded", headline(results), results=results)
    reason, message = _failure(run, job, runners, missing)
    total = run.spec.parallelism
    if missing and results is not None:
        named = ", ".join(map(str, missing))
        message += (
            f"; {total - len(missing)} of {total} runners reported, runner {named} did not "
            "(its share is unknown)"
        )
    return _Outcome("Failed", message, (reason, message), results)


MERGE_REFUSED = "the API server refused the merge Job"


def _on_summaries(outcome: _Outcome, problem: str | None) -> _Outcome:
    """``outcome`` on the runners' summaries; ``problem``: why not on the store's merge."""
    assert outcome.results is not None
    update: dict[str, Any] = {"source": "summaries"}
    notices: tuple[Event, ...] = ()
    if problem is not None:
        why = f"results from the runners' summaries, not the store: {problem}"
        update["diagnostics"] = [why, *outcome.results.diagnostics]
        notices = (Event("Warning", "MergeFailed", why),)
    return replace(outcome, results=outcome.results.model_copy(update=update), notices=notices)


def _merged(
    run: RunObject,
    runners: dict[int, RunnerState],
    ended: _Outcome,
    store: S3ResultsSpec,
    merge: MergeState,
    absent: bool,
) -> _Outcome:
    """The ended run on the exact merge of its runners' full reports: merging first (in
    its namespace, with its credentials), then the merged numbers, else the summaries."""
    name = merge_job_name(run.name)
    if absent or not merge.ended:
        reported = sum(1 for runner in runners.values() if runner.summary is not None)
        message = f"merging the results of {reported} runners ({name})"
        actions = (Action.CREATE_MERGE,) if absent else ()
        return _Outcome("Running", message, actions=actions)
    if merge.summary is None:
        return _on_summaries(ended, f"the merge Job {name} failed ({merge.problem})")
    results = store_results(run, merge.summary, _missing(run, runners), store)
    message = headline(results) if ended.failure is None else ended.message
    return replace(ended, message=message, results=results)


def _in_progress(
    run: RunObject, runners: dict[int, RunnerState], now: datetime, release: datetime
) -> _Outcome:
    blocked = [runner for runner in runners.values() if runner.blocker]
    if blocked:
        first = blocked[0]
        assert first.blocker is not None
        message = f"runner {first.index} cannot start: {first.blocker.message}"
        if now >= release:
            # A synchronized start is no longer possible; stop the runners that did start.
            message += " (the synchronized start has passed)"
            return _Outcome(
                "Failed", message, (first.blocker.reason, message), actions=(Action.SUSPEND_JOB,)
            )
        return _Outcome("Pending", message)
    started = sum(1 for runner in runners.values() if runner.started)
    total = run.spec.parallelism
    # A runner that failed fails its own index only (backoffLimitPerIndex): the others go
    # on, and the run ends with the Job, keeping every result that reached it.
    failed = [runner for runner in runners.values() if runner.failed]
    lost = "".join(f"; {_runner_failure(run, runner)[1]}" for runner in failed)
    if started < total:
        return _Outcome("Pending", f"{started} of {total} runners started{lost}")
    if now < release:
        return _Outcome(
            "Staging", f"{total} runners staging; load starts at {rfc3339(release)}{lost}"
        )
    if failed:
        going = sum(1 for runner in runners.values() if runner.exit_code is None)
        return _Outcome("Running", f"{going} of {total} runners sending load{lost}")
    return _Outcome("Running", f"{total} runners sending load")


def _counts(total: int, runners: dict[int, RunnerState]) -> RunnerCounts:
    running = sum(1 for r in runners.values() if r.started and r.exit_code is None)
    succeeded = sum(1 for r in runners.values() if r.succeeded)
    failed = sum(1 for r in runners.values() if r.failed)
    return RunnerCounts(
        total=total,
        pending=max(0, total - running - succeeded - failed),
        running=running,
        succeeded=succeeded,
        failed=failed,
    )


def _ended_before_start(
    body: dict[str, Any], phase: Phase, reason: Reason, message: str, now: str
) -> RunReconcile:
    generation = metadata(body).get("generation")
    previous = status_of(body)
    status = LoadTestRunStatus(
        phase=phase,
        verdict=ended_verdict(phase, None),
        message=message,
        observed_generation=generation,
        conditions=run_conditions(
            phase,
            (reason, message),
            None,
            previous.get("conditions") or [],
            now,
            generation,
            verdict=ended_verdict(phase, None),
        ),
        job_name=previous.get("jobName"),
        completion_time=now,
    )
    return RunReconcile(
        status=status.model_dump(mode="json", by_alias=True, exclude_none=True),
        events=(Event("Warning", reason.value, message),),
    )


def _invalid(body: dict[str, Any], problems: list[str], now: str) -> RunReconcile:
    return _ended_before_start(body, "Invalid", Reason.INVALID_SPEC, "; ".join(problems), now)


def runners_rejected(body: dict[str, Any], api_message: str, now: datetime) -> RunReconcile:
    """The status to write when the API server refuses the runner ConfigMap or Job
    (HTTP 422, say an affinity it cannot parse): retrying would not help."""
    message = f"the API server refused the runners: {api_message}"
    return _ended_before_start(body, "Failed", Reason.JOB_REJECTED, message, rfc3339(now))


def _ttl_actions(body: dict[str, Any], job: dict[str, Any] | None, now: datetime) -> RunReconcile:
    previous = status_of(body)
    ttl = (((body.get("spec") or {}).get("loadTest")) or {}).get("ttlSecondsAfterFinished")
    finished = parse_time(previous.get("completionTime"))
    if job is None or ttl is None or finished is None:
        return RunReconcile(status=previous)
    remaining = (finished - now).total_seconds() + ttl
    if remaining <= 0:
        return RunReconcile(status=previous, actions=(Action.DELETE_JOB,))
    return RunReconcile(status=previous, requeue_after=remaining)


def reconcile_run(
    body: dict[str, Any],
    job: dict[str, Any] | None,
    pods: list[dict[str, Any]],
    now: datetime,
    settings: RunnerSettings = DEFAULT_SETTINGS,
    slots: Slots | None = None,
    merge_job: dict[str, Any] | None = None,
    merge_pods: list[dict[str, Any]] | None = None,
) -> RunReconcile:
    """The run's status and what to do next, from the run, its Job and its pods, (``slots``)
    the runs of its namespace it would start beside, and its merge Job and pod."""
    previous = status_of(body)
    if previous.get("phase") in TERMINAL_PHASES:
        return _ttl_actions(body, job, now)
    stamp = rfc3339(now)
    # The caps and the policy guard the start: a run already started when an operator with
    # lower caps or a stricter policy takes over is seen through, not cut off with its
    # runners still going.
    starting = job is None and not previous.get("jobName")
    caps, policy = (settings.caps, settings.policy) if starting else (NO_CAPS, OPEN_POLICY)
    try:
        run = read_run(body, caps, policy)
    except SpecError as error:
        return _invalid(body, error.problems, stamp)
    release = _release(run, job, previous, now, settings)
    runners = observe_runners(pods)
    job_name = previous.get("jobName")
    if job is None:
        if job_name:
            message = f"runner Job {job_name} was deleted before the run finished"
            outcome = _Outcome("Failed", message, (Reason.JOB_DELETED, message))
        elif slots is not None and not slots.free:
            message = slots.waiting_message(run.namespace)
            waiting = (Reason.WAITING_FOR_CAPACITY, message)
            outcome = _Outcome("Pending", message, waiting=waiting)
        else:
            outcome = _Outcome(
                "Pending",
                f"creating {run.spec.parallelism} runners",
                actions=(Action.CREATE_RUNNERS,),
            )
        job_state = JobState()
    else:
        job_name = metadata(job).get("name")
        job_state = observe_job(job)
        if job_state.complete or job_state.failed:
            outcome = _ended(run, job_state, runners, now)
            store = results_store_of(run, settings.results)
            if outcome.phase in TERMINAL_PHASES and outcome.results is not None:
                if store is None:
                    outcome = _on_summaries(outcome, None)
                else:
                    merge = observe_merge(merge_job, merge_pods or [])
                    outcome = _merged(run, runners, outcome, store, merge, merge_job is None)
                    if Action.CREATE_MERGE in outcome.actions:
                        refused = _on_summaries(_ended(run, job_state, runners, now), MERGE_REFUSED)
                        fallback = _status(
                            run, previous, job_name, job_state, runners, refused, now, release
                        )
                        merging = _status(
                            run, previous, job_name, job_state, runners, outcome, now, release
                        )
                        return replace(merging, fallback=fallback)
        else:
            outcome = _in_progress(run, runners, now, release)
    return _status(run, previous, job_name, job_state, runners, outcome, now, release)


def _release(
    run: RunObject,
    job: dict[str, Any] | None,
    previous: dict[str, Any],
    now: datetime,
    settings: RunnerSettings,
) -> datetime:
    """When the runners start together: as their Job says once it exists; before, as
    written (a restart keeps it), else the startup allowance after the run's creation,
    or after now for a run that waited for a slot (its runners are created now)."""
    fixed = (job_release_time(job) if job is not None else None) or parse_time(
        previous.get("releaseTime")
    )
    if fixed is not None:
        return fixed
    if is_waiting({"status": previous}):
        return now + timedelta(seconds=settings.startup_allowance_seconds)
    return release_time(run, settings)


def _status(
    run: RunObject,
    previous: dict[str, Any],
    job_name: str | None,
    job: JobState,
    runners: dict[int, RunnerState],
    outcome: _Outcome,
    now: datetime,
    release: datetime,
) -> RunReconcile:
    stamp = rfc3339(now)
    terminal = outcome.phase in TERMINAL_PHASES
    results = outcome.results
    verdict = ended_verdict(outcome.phase, results) if terminal else None
    status = LoadTestRunStatus(
        phase=outcome.phase,
        verdict=verdict,
        message=outcome.message,
        observed_generation=run.generation,
        conditions=run_conditions(
            outcome.phase,
            outcome.failure,
            results,
            previous.get("conditions") or [],
            stamp,
            run.generation,
            outcome.waiting,
            verdict,
        ),
        job_name=job_name,
        release_time=None if outcome.waiting else rfc3339(release),
        start_time=job.start_time or previous.get("startTime"),
        completion_time=(job.completion_time or stamp) if terminal else None,
        runners=_counts(run.spec.parallelism, runners),
        results=results,
        # A run that did not succeed: why it did not says why its verdict is what it is.
        summary=run_summary(
            run.name, results, verdict, outcome.message if outcome.failure else None
        ),
    )
    events: tuple[Event, ...] = ()
    was_waiting = is_waiting({"status": previous})
    if outcome.waiting is not None:
        if not was_waiting:
            events = (Event("Normal", outcome.waiting[0].value, outcome.message),)
    elif outcome.phase != previous.get("phase") or was_waiting:
        failed = outcome.failure is not None
        reason = outcome.failure[0].value if outcome.failure else outcome.phase
        events = (Event("Warning" if failed else "Normal", reason, outcome.message),)
        events += outcome.notices
    failed_before = (previous.get("runners") or {}).get("failed") or 0
    if not terminal and status.runners is not None and status.runners.failed > failed_before:
        # The run goes on without it: the phase does not change, so say it here.
        lost = next(runner for runner in runners.values() if runner.failed)
        events = (Event("Warning", _runner_failure(run, lost)[0].value, outcome.message),)
    requeue = math.ceil(outcome.recheck) if outcome.recheck else None
    if outcome.waiting is not None:
        requeue = WAITING_RECHECK_SECONDS
    elif not terminal and now < release:
        requeue = math.ceil((release - now).total_seconds())
    return RunReconcile(
        status=status.model_dump(mode="json", by_alias=True, exclude_none=True),
        actions=outcome.actions,
        events=events,
        requeue_after=requeue,
    )
