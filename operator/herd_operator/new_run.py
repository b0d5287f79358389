"""The LoadTestRun object for one execution of a LoadTest (a snapshot of its spec)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from herd.api.runs import RUN_KIND, Trigger
from herd.api.spec import LoadTest
from herd_operator.naming import (
    API,
    TRIGGER_LABEL,
    bounded_name,
    loadtest_owner_reference,
    run_labels,
    short_hash,
)
from herd_operator.objects import metadata, rfc3339


@dataclass(frozen=True)
class RunRequest:
    """A run some trigger asks for. Its name is derived from the trigger, so asking
    twice (say, after an operator restart) names the same run and creates it once."""

    loadtest: str
    trigger: Trigger
    scheduled_time: datetime | None = None
    generation: int | None = None
    token: str | None = None

    @property
    def name(self) -> str:
        if self.trigger == "schedule":
            assert self.scheduled_time is not None
            suffix = str(int(self.scheduled_time.timestamp() // 60))  # as CronJob names Jobs
        elif self.trigger == "apply":
            suffix = f"g{self.generation}"
        else:
            suffix = f"m{short_hash(self.token or '')}"
        return bounded_name(self.loadtest, suffix)


def build_run(loadtest: LoadTest, body: dict[str, Any], request: RunRequest) -> dict[str, Any]:
    """The LoadTestRun for ``request``, owned by the LoadTest (deleted with it)."""
    meta = metadata(body)
    labels = run_labels(loadtest.metadata.name, request.name, "run")
    labels[TRIGGER_LABEL] = request.trigger
    spec: dict[str, Any] = {
        "loadTestName": loadtest.metadata.name,
        "trigger": request.trigger,
        "loadTest": loadtest.spec.model_dump(mode="json", by_alias=True),
    }
    if request.scheduled_time is not None:
        spec["scheduledTime"] = rfc3339(request.scheduled_time)
    return {
        "apiVersion": API,
        "kind": RUN_KIND,
        "metadata": {
            "name": request.name,
            "namespace": meta.get("namespace"),
            "labels": labels,
            "ownerReferences": [loadtest_owner_reference(loadtest.metadata.name, meta["uid"])],
        },
        "spec": spec,
    }
