"""``LoadTestRun``: one execution of a LoadTest, as a Job is one execution of a CronJob.

A run holds an immutable snapshot of the LoadTest's spec taken when it was started,
so editing the LoadTest never changes a run in flight or the meaning of its results.
The operator creates runs (owned by their LoadTest); a user may also create one by
hand, with a full spec, to run a test once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from herd.api.model import ApiModel
from herd.api.spec import LoadTestSpec, ObjectMeta

RUN_KIND = "LoadTestRun"

Trigger = Literal["apply", "schedule", "manual"]


class LoadTestRunSpec(ApiModel):
    """What this run executes (a snapshot) and why it was started."""

    load_test_name: str | None = None
    """The LoadTest this run was started from; unset for a run created on its own."""
    trigger: Trigger = "manual"
    """apply: the LoadTest was created or its spec changed. schedule: ``spec.schedule``
    was due. manual: the ``herd.dev/trigger`` annotation changed, or a user created the
    run."""
    scheduled_time: datetime | None = None
    """For scheduled runs, the time the schedule was due."""
    load_test: LoadTestSpec
    """The LoadTest spec as it was when the run started; immutable."""


class LoadTestRun(ApiModel):
    """One execution of a load test."""

    api_version: Literal["herd.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["LoadTestRun"]
    metadata: ObjectMeta
    spec: LoadTestRunSpec
    status: dict[str, Any] | None = Field(default=None, exclude=True)
    """Written by the operator."""
