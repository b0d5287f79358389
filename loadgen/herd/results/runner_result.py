"""What one runner leaves in a results store: its full report and its exact statistics.

The report is what ``herd run --report`` writes for that runner alone. ``run_state``
is the runner's statistics as JSON (``herd.engine.multicore.state.run_state``: every
histogram at full precision, every worker with its request count and first sighting,
the timeline's buckets), the form in which a multi-process runner already merges its
processes exactly; merging runners is the same merge once their clocks agree.

Runners run on different machines, so their monotonic clocks share no origin:
``clock_offset`` is the runner's wall clock minus its monotonic clock when the state
was taken (``time.time() - time.perf_counter()``), which puts every monotonic time of
the state on the wall clock (``wall = monotonic + clock_offset``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from herd.api.report import Report

RESULT_VERSION = 1


class RunnerResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result_version: int = RESULT_VERSION
    loadtest: dict[str, Any]
    """The LoadTest the runner ran, as applied (``${VAR}`` references not expanded)."""
    report: Report
    run_state: dict[str, Any]
    clock_offset: float
    """Wall-clock seconds minus monotonic seconds when ``run_state`` was taken."""
