"""Conditions of runs and LoadTests from phases and results (meanings in ``herd.api.status``)."""

from __future__ import annotations

from typing import Any

from herd.api.status import (
    TERMINAL_PHASES,
    Condition,
    ConditionStatus,
    ConditionType,
    Reason,
    RunResults,
)
from herd.api.verdicts import Verdict
from herd_operator.objects import metadata, status_of

_IN_PROGRESS: tuple[ConditionStatus, Reason] = ("Unknown", Reason.IN_PROGRESS)


def _condition(
    kind: ConditionType,
    value: ConditionStatus,
    reason: Reason,
    message: str,
    previous: dict[str, dict[str, Any]],
    now: str,
    generation: int | None,
) -> Condition:
    before = previous.get(kind.value, {})
    changed = before.get("status") != value
    return Condition(
        type=kind,
        status=value,
        reason=reason,
        message=message,
        last_transition_time=now if changed else before.get("lastTransitionTime", now),
        observed_generation=generation,
    )


def failed_thresholds(results: RunResults) -> str:
    failing = [
        f"{outcome.expr} (was {'n/a' if outcome.value is None else f'{outcome.value:.4g}'})"
        for outcome in results.thresholds
        if not outcome.passed
    ]
    return "failed: " + "; ".join(failing) if failing else ""


_RUNNING_PHASES = {"Staging": Reason.STAGING, "Running": Reason.SENDING_LOAD}
_REJECTED = (Reason.INVALID_SPEC, Reason.JOB_REJECTED)


def run_conditions(
    phase: str,
    failure: tuple[Reason, str] | None,
    results: RunResults | None,
    previous: list[dict[str, Any]],
    now: str,
    generation: int | None,
    waiting: tuple[Reason, str] | None = None,
    verdict: Verdict | None = None,
) -> list[Condition]:
    """Every condition of a run (meanings in ``herd.api.status``); a condition's
    ``lastTransitionTime`` moves only when its status changes. ``waiting``: why a run
    in progress has not started yet (its reason replaces ``InProgress``); ``verdict``:
    the verdict of a run that ended."""
    before = {condition.get("type", ""): condition for condition in previous}
    terminal = phase in TERMINAL_PHASES
    succeeded: tuple[ConditionStatus, Reason]
    failed: tuple[ConditionStatus, Reason]
    thresholds: tuple[ConditionStatus, Reason, str]
    if phase == "Succeeded":
        succeeded, failed = ("True", Reason.COMPLETED), ("False", Reason.COMPLETED)
        message = ""
    elif failure is not None:
        succeeded, failed = ("False", failure[0]), ("True", failure[0])
        message = failure[1]
    elif waiting is not None:
        succeeded = failed = ("Unknown", waiting[0])
        message = waiting[1]
    else:
        succeeded, failed, message = _IN_PROGRESS, _IN_PROGRESS, ""
    if phase in ("Succeeded", "Failed") and results and results.verdict == "inconclusive":
        # Numbers that describe the client, or miss a runner's share, prove neither a
        # pass nor a failure.
        thresholds = ("Unknown", Reason.INCONCLUSIVE, results.verdict_reason)
    elif phase == "Succeeded" and results is not None:
        passed = results.verdict == "passed"
        met: ConditionStatus = "True" if passed else "False"
        thresholds = (
            met,
            Reason.THRESHOLDS_MET if passed else Reason.THRESHOLDS_FAILED,
            failed_thresholds(results),
        )
    else:
        thresholds = ("Unknown", Reason.NO_RESULTS, "")
    ready: tuple[ConditionStatus, Reason, str] = ("True", Reason.ACCEPTED, "")
    if failure is not None and failure[0] in _REJECTED:
        ready = ("False", failure[0], failure[1])
    running: tuple[ConditionStatus, Reason, str]
    if phase in _RUNNING_PHASES:
        running = ("True", _RUNNING_PHASES[phase], "")
    elif terminal:
        running = ("False", failure[0] if failure else Reason.COMPLETED, "")
    else:
        running = ("False", waiting[0] if waiting else Reason.STARTING, message)
    inconclusive: tuple[ConditionStatus, Reason, str] = ("Unknown", Reason.IN_PROGRESS, "")
    if terminal and verdict == "inconclusive":
        why = results.verdict_reason if results is not None and phase == "Succeeded" else message
        inconclusive = ("True", Reason.INCONCLUSIVE, why)
    elif terminal:
        inconclusive = ("False", Reason.CONCLUSIVE, "")
    reconciling: tuple[ConditionStatus, Reason, str]
    if terminal:
        reconciling = ("False", failure[0] if failure else Reason.COMPLETED, "")
    else:
        reconciling = ("True", waiting[0] if waiting else Reason.IN_PROGRESS, message)
    return [
        _condition(ConditionType.READY, *ready, before, now, generation),
        _condition(
            ConditionType.RUNNING, running[0], running[1], running[2], before, now, generation
        ),
        _condition(ConditionType.SUCCEEDED, *succeeded, message, before, now, generation),
        _condition(ConditionType.FAILED, *failed, message, before, now, generation),
        _condition(ConditionType.THRESHOLDS_PASSED, *thresholds, before, now, generation),
        _condition(ConditionType.INCONCLUSIVE, *inconclusive, before, now, generation),
        _condition(
            ConditionType.RECONCILING,
            reconciling[0],
            reconciling[1],
            reconciling[2],
            before,
            now,
            generation,
        ),
        _condition(
            ConditionType.STALLED,
            *_stalled(terminal, failure, verdict, inconclusive, thresholds),
            before,
            now,
            generation,
        ),
    ]


def _stalled(
    terminal: bool,
    failure: tuple[Reason, str] | None,
    verdict: Verdict | None,
    inconclusive: tuple[ConditionStatus, Reason, str],
    thresholds: tuple[ConditionStatus, Reason, str],
) -> tuple[ConditionStatus, Reason, str]:
    """True once nothing more will happen and the run did not pass: kstatus then calls
    it Failed, so a Flux health check fails where Argo CD would say Degraded."""
    if not terminal:
        return ("False", Reason.IN_PROGRESS, "")
    if failure is not None:
        return ("True", failure[0], failure[1])
    if verdict == "inconclusive":
        return ("True", Reason.INCONCLUSIVE, inconclusive[2])
    if verdict == "failed":
        return ("True", Reason.THRESHOLDS_FAILED, thresholds[2])
    return ("False", Reason.COMPLETED, "")


# A LoadTest's own conditions, and those it mirrors from its latest finished run.
_MIRRORED = (
    ConditionType.SUCCEEDED,
    ConditionType.FAILED,
    ConditionType.THRESHOLDS_PASSED,
    ConditionType.INCONCLUSIVE,
    ConditionType.STALLED,
)


def loadtest_conditions(
    invalid: str | None,
    active: list[str],
    latest_finished: dict[str, Any] | None,
    newer_run_active: bool,
    previous: list[dict[str, Any]],
    now: str,
    generation: int | None,
) -> list[Condition]:
    """The LoadTest's conditions: ``invalid`` is why its spec is invalid (None when it
    is valid), ``active`` its runs in progress, ``latest_finished`` its latest finished
    run. While ``newer_run_active`` (a run started after that one is still going), the
    mirrored conditions are Unknown: an old verdict must not answer for a new run."""
    before = {condition.get("type", ""): condition for condition in previous}

    def made(kind: ConditionType, value: ConditionStatus, reason: Reason, text: str) -> Condition:
        return _condition(kind, value, reason, text, before, now, generation)

    running_text = "running: " + ", ".join(active) if active else ""
    conditions = [
        made(ConditionType.READY, "False", Reason.INVALID_SPEC, invalid)
        if invalid is not None
        else made(ConditionType.READY, "True", Reason.ACCEPTED, ""),
        made(ConditionType.RUNNING, "True", Reason.IN_PROGRESS, running_text)
        if active
        else made(ConditionType.RUNNING, "False", Reason.NO_ACTIVE_RUN, ""),
        made(ConditionType.RECONCILING, "True", Reason.IN_PROGRESS, running_text)
        if active
        else made(ConditionType.RECONCILING, "False", Reason.NO_ACTIVE_RUN, ""),
    ]
    run_name = metadata(latest_finished).get("name") if latest_finished else None
    mirrored = (
        {
            condition.get("type"): condition
            for condition in (status_of(latest_finished).get("conditions") or [])
        }
        if latest_finished
        else {}
    )
    for kind in _MIRRORED:
        source = mirrored.get(kind.value)
        if kind == ConditionType.STALLED and invalid is not None:
            conditions.append(made(kind, "True", Reason.INVALID_SPEC, invalid))
        elif newer_run_active:
            conditions.append(made(kind, "Unknown", Reason.IN_PROGRESS, running_text))
        elif source is None or source.get("reason") not in _REASONS:
            conditions.append(made(kind, "Unknown", Reason.NO_RESULTS, ""))
        else:
            text = source.get("message") or ""
            conditions.append(
                made(
                    kind,
                    source.get("status", "Unknown"),
                    Reason(source["reason"]),
                    f"run {run_name}: {text}" if text else f"run {run_name}",
                )
            )
    return conditions


_REASONS = frozenset(reason.value for reason in Reason)
