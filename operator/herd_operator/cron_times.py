"""When a cron schedule is due, CronJob-style: at most one run for all missed times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from herd.api.cron import ScheduleSpec

MAX_MISSED = 100
"""Beyond this many missed times only the latest is looked at (as a CronJob does)."""


@dataclass(frozen=True)
class Due:
    latest: datetime | None
    """The most recent scheduled time in (since, now], if any."""
    missed: int
    """How many scheduled times fell in (since, now] (capped at MAX_MISSED + 1)."""
    next: datetime
    """The first scheduled time after now."""


def schedule_due(schedule: ScheduleSpec, since: datetime, now: datetime) -> Due:
    """Scheduled times after ``since`` up to ``now``, read in the schedule's time zone."""
    zone = ZoneInfo(schedule.time_zone)
    times = croniter(schedule.cron, since.astimezone(zone))
    latest, missed = None, 0
    while True:
        moment = times.get_next(datetime)
        if moment > now:
            return Due(latest and _utc(latest), missed, _utc(moment))
        latest, missed = moment, missed + 1
        if missed > MAX_MISSED:
            break
    latest = croniter(schedule.cron, now.astimezone(zone)).get_prev(datetime)
    upcoming = croniter(schedule.cron, now.astimezone(zone)).get_next(datetime)
    return Due(_utc(latest), missed, _utc(upcoming))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
