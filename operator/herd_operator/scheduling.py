"""What a LoadTest needs next: ``next_action(loadtest, runs, now)``.

The CronJob → Job pattern: a LoadTest says what and when; each execution is a
LoadTestRun. Runs are started by three triggers, each naming its run
deterministically (``new_run.RunRequest``):

- apply: without a schedule, a new spec generation (creating the LoadTest included);
- manual: a new value of the ``herd.dev/trigger`` annotation;
- schedule: ``spec.schedule`` was due (only the latest of several missed times runs).

When a run is due while another is active, ``concurrencyPolicy`` decides: Forbid
skips a scheduled run and makes a manual or apply run wait; Replace deletes the
active runs first; Allow starts it beside them. At most one run starts per call.
Finished runs beyond the history limits are deleted, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from herd.api.loading import SpecError, parse_loadtest
from herd.api.spec import LoadTest
from herd.api.status import TERMINAL_PHASES, LoadTestStatus, RunSummary
from herd_operator.caps import NO_CAPS, Caps
from herd_operator.conditions import loadtest_conditions
from herd_operator.cron_times import schedule_due
from herd_operator.events import Event
from herd_operator.history import history_limits, runs_to_delete
from herd_operator.naming import TRIGGER_ANNOTATION
from herd_operator.new_run import RunRequest, build_run
from herd_operator.objects import cluster_problems, metadata, parse_time, rfc3339, status_of
from herd_operator.policy import OPEN_POLICY, OperatorPolicy

WAITING_RECHECK_SECONDS = 10.0
# Status fields that only this function writes and must carry from call to call.
_CARRIED_OVER = ("lastScheduleTime", "lastSuccessfulTime", "lastAppliedGeneration", "lastTrigger")


@dataclass(frozen=True)
class LoadTestDecision:
    status: dict[str, Any]
    """The LoadTest's whole status (camelCase)."""
    create: dict[str, Any] | None = None
    """A LoadTestRun to create (``AlreadyExists`` means it was created before)."""
    delete: tuple[str, ...] = ()
    """LoadTestRuns to delete (history limits, or replaced by ``create``)."""
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None


def _is_active(run: dict[str, Any]) -> bool:
    return status_of(run).get("phase") not in TERMINAL_PHASES


def _created(run: dict[str, Any]) -> str:
    return metadata(run).get("creationTimestamp") or ""


def _due_requests(
    loadtest: LoadTest, body: dict[str, Any], now: datetime, status: dict[str, Any]
) -> tuple[list[RunRequest], list[Event], datetime | None]:
    """Runs the triggers ask for, scheduled first; updates ``status`` for skipped times."""
    meta, previous = metadata(body), status_of(body)
    name, spec = loadtest.metadata.name, loadtest.spec
    requests, events, upcoming = [], [], None
    schedule = spec.schedule
    if schedule is not None:
        since = parse_time(previous.get("lastScheduleTime")) or parse_time(
            meta.get("creationTimestamp")
        )
        due = schedule_due(schedule, since or now, now)
        upcoming = due.next
        if due.latest is not None and not schedule.suspend:
            late = (now - due.latest).total_seconds()
            deadline = schedule.starting_deadline_seconds
            if due.missed > 1:
                events.append(
                    Event(
                        "Warning",
                        "MissedSchedules",
                        f"{due.missed} scheduled times passed without a run; starting the latest",
                    )
                )
            if deadline is not None and late > deadline:
                status["lastScheduleTime"] = rfc3339(due.latest)
                events.append(
                    Event(
                        "Warning",
                        "MissedSchedule",
                        f"run due at {rfc3339(due.latest)} is {late:.0f}s late, past "
                        f"startingDeadlineSeconds ({deadline}); skipped",
                    )
                )
            else:
                requests.append(RunRequest(name, "schedule", scheduled_time=due.latest))
    token = (meta.get("annotations") or {}).get(TRIGGER_ANNOTATION)
    if token and token != previous.get("lastTrigger"):
        requests.append(RunRequest(name, "manual", token=token))
    generation = meta.get("generation")
    if schedule is None and previous.get("lastAppliedGeneration") != generation:
        requests.append(RunRequest(name, "apply", generation=generation))
    return requests, events, upcoming


def _record(status: dict[str, Any], request: RunRequest) -> None:
    """Mark the trigger as served, so it starts no second run."""
    if request.trigger == "schedule" and request.scheduled_time is not None:
        status["lastScheduleTime"] = rfc3339(request.scheduled_time)
    elif request.trigger == "manual":
        status["lastTrigger"] = request.token
    else:
        status["lastAppliedGeneration"] = request.generation


def next_action(
    body: dict[str, Any],
    runs: list[dict[str, Any]],
    now: datetime,
    caps: Caps = NO_CAPS,
    policy: OperatorPolicy = OPEN_POLICY,
) -> LoadTestDecision:
    """The LoadTest's status, and which run to create and which to delete, at ``now``;
    a spec over the operator-wide ``caps``, or one the ``policy`` refuses, is ``Invalid``
    and starts no run."""
    previous = status_of(body)
    generation = metadata(body).get("generation")
    keep = {key: previous[key] for key in _CARRIED_OVER if key in previous}
    try:
        loadtest = parse_loadtest(body)
        problems = cluster_problems(loadtest.spec, "spec", caps, policy)
    except SpecError as error:
        problems = error.problems
    if problems:
        message = "; ".join(problems)
        status = _loadtest_status(
            runs, None, {**keep, "phase": "Invalid"}, generation, previous, now, invalid=message
        )
        status["message"] = message
        warnings = (
            ()
            if previous.get("message") == message
            else (Event("Warning", "InvalidSpec", message),)
        )
        return LoadTestDecision(status=status, events=warnings)

    fields: dict[str, Any] = dict(keep)
    requests, events, upcoming = _due_requests(loadtest, body, now, fields)
    existing = {metadata(run).get("name") for run in runs}
    active = sorted((run for run in runs if _is_active(run)), key=_created)
    concurrency = loadtest.spec.schedule.concurrency_policy if loadtest.spec.schedule else "Forbid"
    create: dict[str, Any] | None = None
    delete: list[str] = []
    waiting: list[RunRequest] = []
    for request in requests:
        if request.name in existing:  # started before (status not written yet): done
            _record(fields, request)
            continue
        if create is not None or (active and concurrency == "Forbid"):
            if request.trigger == "schedule" and active:
                assert request.scheduled_time is not None  # a schedule's request has its time
                _record(fields, request)  # a CronJob skips a due time under Forbid
                events.append(
                    Event(
                        "Normal",
                        "ScheduleSkipped",
                        f"run due at {rfc3339(request.scheduled_time)} skipped: "
                        f"{metadata(active[-1]).get('name')} is still active (Forbid)",
                    )
                )
            else:
                waiting.append(request)
            continue
        if active and concurrency == "Replace":
            delete.extend(metadata(run)["name"] for run in active)
            events.append(Event("Normal", "Replaced", f"stopping {', '.join(delete)} (Replace)"))
        create = build_run(loadtest, body, request)
        _record(fields, request)
        events.append(Event("Normal", "RunStarted", f"started {request.name} ({request.trigger})"))
    successful, failed = history_limits(loadtest.spec)
    remaining = [run for run in runs if metadata(run).get("name") not in delete]
    delete.extend(runs_to_delete(remaining, successful, failed))
    if upcoming is not None:
        fields["nextScheduleTime"] = rfc3339(upcoming)
    status = _loadtest_status(
        [run for run in runs if metadata(run).get("name") not in delete],
        create,
        fields,
        generation,
        previous,
        now,
    )
    if waiting:
        status["message"] = (
            f"{len(waiting)} run(s) waiting for {metadata(active[-1]).get('name')} to finish "
            "(concurrencyPolicy Forbid)"
            if active
            else f"{len(waiting)} run(s) waiting to start"
        )
    requeue = None
    if upcoming is not None:
        requeue = max(1.0, (upcoming - now).total_seconds())
    if waiting:
        requeue = min(requeue or WAITING_RECHECK_SECONDS, WAITING_RECHECK_SECONDS)
    return LoadTestDecision(
        status=status,
        create=create,
        delete=tuple(sorted(set(delete))),
        events=tuple(events),
        requeue_after=requeue,
    )


def _loadtest_status(
    runs: list[dict[str, Any]],
    created: dict[str, Any] | None,
    fields: dict[str, Any],
    generation: int | None,
    previous: dict[str, Any],
    now: datetime,
    invalid: str | None = None,
) -> dict[str, Any]:
    newest_first = sorted(runs, key=_created, reverse=True)
    finished = [run for run in newest_first if not _is_active(run)]
    active = [metadata(run)["name"] for run in reversed(newest_first) if _is_active(run)]
    last = metadata(newest_first[0]).get("name") if newest_first else None
    phase = fields.pop("phase", None)
    if created is not None:
        last, active = metadata(created)["name"], [*active, metadata(created)["name"]]
        phase = phase or "Pending"
    if phase is None and newest_first:
        phase = status_of(newest_first[0]).get("phase") or "Pending"
    succeeded = [run for run in finished if status_of(run).get("phase") == "Succeeded"]
    if succeeded and status_of(succeeded[0]).get("completionTime"):
        fields["lastSuccessfulTime"] = status_of(succeeded[0])["completionTime"]
    summary = status_of(finished[0]).get("summary") if finished else None
    latest = finished[0] if finished else None
    # A run created now, or one in progress created after the latest finished run.
    newer = newest_first[: newest_first.index(latest)] if latest is not None else newest_first
    newer_active = created is not None or any(_is_active(run) for run in newer)
    conditions = loadtest_conditions(
        invalid,
        active,
        latest,
        newer_active,
        previous.get("conditions") or [],
        rfc3339(now),
        generation,
    )
    status = LoadTestStatus(
        phase=phase or ("Scheduled" if "nextScheduleTime" in fields else "Idle"),
        observed_generation=generation,
        conditions=conditions,
        active=active,
        last_run=last,
        summary=RunSummary.model_validate(summary) if summary else None,
        **{key: value for key, value in fields.items()},
    )
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)
