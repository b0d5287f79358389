"""``spec.schedule``: recurring runs, with the semantics of a Kubernetes CronJob.

Cluster only: ``herd run`` ignores it. The operator reads it to decide when to start
a run, what to do when one is still active, and how many finished runs to keep.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StrictBool, StrictInt, field_validator

from herd.api.model import ApiModel

DEFAULT_SUCCESSFUL_RUNS_HISTORY = 3
DEFAULT_FAILED_RUNS_HISTORY = 1
MAX_RUNS_HISTORY = 100

ConcurrencyPolicy = Literal["Forbid", "Allow", "Replace"]


class ScheduleSpec(ApiModel):
    """When to run the test again, as a CronJob would."""

    cron: str
    """Five-field cron expression (``minute hour day-of-month month day-of-week``) or a
    macro such as ``@hourly``, evaluated in ``timeZone``."""
    time_zone: str = "UTC"
    """IANA time zone name the cron expression is read in, e.g. ``Europe/Bucharest``."""
    suspend: StrictBool = False
    """Stop starting scheduled runs; active runs go on and manual triggers still work."""
    concurrency_policy: ConcurrencyPolicy = "Forbid"
    """What to do when a run is due while another is active. Forbid: skip a scheduled
    run (a spec change or manual trigger waits until the active run ends). Allow: run
    both (they then load the endpoint together). Replace: stop the active run first."""
    successful_runs_history_limit: StrictInt = Field(
        default=DEFAULT_SUCCESSFUL_RUNS_HISTORY, ge=0, le=MAX_RUNS_HISTORY
    )
    """Succeeded runs to keep (oldest deleted first); also used without a schedule."""
    failed_runs_history_limit: StrictInt = Field(
        default=DEFAULT_FAILED_RUNS_HISTORY, ge=0, le=MAX_RUNS_HISTORY
    )
    """Failed and invalid runs to keep (oldest deleted first)."""
    starting_deadline_seconds: StrictInt | None = Field(default=None, ge=0)
    """Skip a scheduled run that cannot start within this many seconds of its time
    (e.g. the operator was down). Unset: start the most recent missed run however late."""

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, cron: str) -> str:
        from croniter import croniter  # only needed when a spec has a schedule

        text = cron.strip()
        if text.upper().startswith(("TZ=", "CRON_TZ=")):
            raise ValueError("set the time zone in timeZone, not in the cron expression")
        if not text.startswith("@") and len(text.split()) != 5:
            raise ValueError("expected five fields: minute hour day-of-month month day-of-week")
        if not croniter.is_valid(text):
            raise ValueError(f"{cron!r} is not a valid cron expression")
        return text

    @field_validator("time_zone")
    @classmethod
    def _time_zone_exists(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}; use an IANA name such as UTC") from None
        return name
