"""Which finished runs to delete so that at most the history limits' worth remain."""

from __future__ import annotations

from typing import Any

from herd.api.cron import DEFAULT_FAILED_RUNS_HISTORY, DEFAULT_SUCCESSFUL_RUNS_HISTORY
from herd.api.spec import LoadTestSpec
from herd.api.status import TERMINAL_PHASES
from herd_operator.objects import metadata, status_of


def history_limits(spec: LoadTestSpec) -> tuple[int, int]:
    """(successful, failed) runs to keep; the schedule's limits, or the defaults."""
    if spec.schedule is None:
        return DEFAULT_SUCCESSFUL_RUNS_HISTORY, DEFAULT_FAILED_RUNS_HISTORY
    return spec.schedule.successful_runs_history_limit, spec.schedule.failed_runs_history_limit


def _finished_at(run: dict[str, Any]) -> str:
    status = status_of(run)
    return status.get("completionTime") or metadata(run).get("creationTimestamp") or ""


def runs_to_delete(runs: list[dict[str, Any]], successful: int, failed: int) -> list[str]:
    """Names of the oldest finished runs beyond the limits; active runs are never touched."""
    finished = [run for run in runs if status_of(run).get("phase") in TERMINAL_PHASES]
    newest_first = sorted(finished, key=_finished_at, reverse=True)
    succeeded = [run for run in newest_first if status_of(run).get("phase") == "Succeeded"]
    others = [run for run in newest_first if status_of(run).get("phase") != "Succeeded"]
    doomed = succeeded[successful:] + others[failed:]
    return sorted(metadata(run)["name"] for run in doomed)
