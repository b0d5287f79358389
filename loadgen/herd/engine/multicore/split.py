"""What one process of a runner runs.

Each process takes a part of the runner's share of the load (``Share.process``) and
its part of the limits the spec sets per runner, ``uploads.concurrency`` and
``load.maxInFlight``, so the runner as a whole keeps the spec's bounds. Only
process 0 polls the scaling probe: it asks the provider about the endpoint, not
about this process, and one poller per runner is what a single process has.
"""

from __future__ import annotations

from typing import Any

from herd.api.spec import LoadTest
from herd.engine.schedule import Share


def process_loadtest(loadtest: LoadTest, part: int, parts: int) -> LoadTest:
    spec = loadtest.spec
    own = Share(part, parts)
    updates: dict[str, Any] = {}
    if spec.uploads is not None:
        slots = max(1, own.split(spec.uploads.concurrency)[1])
        updates["uploads"] = spec.uploads.model_copy(update={"concurrency": slots})
    if spec.load.max_in_flight is not None:
        cap = max(1, own.split(spec.load.max_in_flight)[1])
        updates["load"] = spec.load.model_copy(update={"max_in_flight": cap})
    if part > 0:
        updates["scaling_probe"] = None
    return loadtest.model_copy(update={"spec": spec.model_copy(update=updates)})
