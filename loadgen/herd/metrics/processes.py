"""Metrics of a runner that runs as several processes: one ``/metrics``, one push group.

Design: the processes do not export anything themselves. Each sends the runner its
statistics every second (``engine.multicore``), and the runner serves and pushes
the merged numbers under its own ``runner`` label, exactly as one process would.
The alternative, each process as a sub-runner with its own label, would make
``herd_workers_observed`` a per-process distinct count that no query can turn
back into the runner's (a worker seen by two processes would count twice), and
would change the series every dashboard and alert reads. Counters stay exact:
``herd_requests_total`` adds the processes' own counts by code, and the final
push is made from the results they wrote, so it sums to the report's requests.

A process that died is left out of the final numbers, as it is out of the report's
``sent``; its share is counted as the report counts it (``herd_requests_never_sent``
and ``herd_requests_unknown``, reason ``process_lost``).
"""

from __future__ import annotations

from collections.abc import Mapping

from herd.engine.multicore.parent import MultiProcessRun
from herd.engine.multicore.process import Extra
from herd.engine.multicore.protocol import ProcessConfig
from herd.metrics.buckets import DURATION_BUCKETS
from herd.metrics.outcomes import RequestOutcomes

OUTCOMES = "outcomes"


def process_extras(config: ProcessConfig) -> Mapping[str, Extra]:
    """What a process collects for the runner's metrics: requests and durations by code."""
    if not config.metrics:
        return {}
    outcomes = RequestOutcomes()
    return {OUTCOMES: Extra(outcomes, outcomes.snapshot)}


class MergedOutcomes:
    """``RequestOutcomes``' reading side for a runner's processes: their snapshots added."""

    def __init__(self, run: MultiProcessRun):
        self._run = run

    @property
    def bounds(self) -> tuple[float, ...]:
        return tuple(DURATION_BUCKETS)

    def snapshot(self) -> dict[str, tuple[list[int], float]]:
        merged: dict[str, tuple[list[int], float]] = {}
        for snapshot in self._run.extras(OUTCOMES):
            for code, (cumulative, total) in snapshot.items():
                if code in merged:
                    counts, summed = merged[code]
                    merged[code] = (
                        [a + b for a, b in zip(counts, cumulative, strict=True)],
                        summed + total,
                    )
                else:
                    merged[code] = (list(cumulative), total)
        return merged
