"""The three conditions of a run, from its phase and results (meanings in ``herd.api.status``)."""

from __future__ import annotations

from typing import Any

from herd.api.status import Condition, ConditionStatus, ConditionType, Reason, RunResults

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


def run_conditions(
    phase: str,
    failure: tuple[Reason, str] | None,
    results: RunResults | None,
    previous: list[dict[str, Any]],
    now: str,
    generation: int | None,
    waiting: tuple[Reason, str] | None = None,
) -> list[Condition]:
    """``Succeeded``, ``Failed`` and ``ThresholdsPassed``; a condition's
    ``lastTransitionTime`` moves only when its status changes. ``waiting``: why a run
    in progress has not started yet (its reason replaces ``InProgress``)."""
    before = {condition.get("type", ""): condition for condition in previous}
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
    return [
        _condition(ConditionType.SUCCEEDED, *succeeded, message, before, now, generation),
        _condition(ConditionType.FAILED, *failed, message, before, now, generation),
        _condition(ConditionType.THRESHOLDS_PASSED, *thresholds, before, now, generation),
    ]
