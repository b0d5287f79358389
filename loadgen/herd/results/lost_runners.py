"""Runners that left no results: named, and their planned share accounted as unknown.

A runner killed mid-run (OOM, eviction, node loss) takes its records with it: which of
its requests left and how they ended is gone. What it planned (the engine's ``Plan``
for its ``Share``) is neither ok, failed nor known-unsent: it is ``unknown`` under
reason ``runner_lost``, so ``planned = ok + failed + never_sent + unknown`` holds, and
the run's results are incomplete, so its verdict is inconclusive
(``herd.api.verdicts.decide``). Both merges, of summaries and of full reports, use this.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from herd.api.spec import LoadTestSpec
from herd.engine.planning import Plan
from herd.engine.schedule import Share

RUNNER_LOST = "runner_lost"


@dataclass(frozen=True)
class LostRunner:
    index: int
    runners: int
    planned: int | None
    """Its planned requests; None when only time bounded its load (nothing says how many)."""

    def diagnostic(self) -> str:
        text = f"runner {self.index} of {self.runners} left no results ({RUNNER_LOST}): "
        if self.planned is None:
            return text + (
                "its load was bounded only by time, so the requests it sent are counted nowhere"
            )
        return text + (
            f"its {self.planned} planned requests are of unknown fate (requests.unknown, "
            f"reason {RUNNER_LOST}): the endpoint may have received up to {self.planned} "
            "more than sent"
        )


def lost_runners(spec: LoadTestSpec, reported: Collection[int], runners: int) -> list[LostRunner]:
    """The runners of ``runners`` whose index is not in ``reported``, with their shares."""
    return [
        LostRunner(index, runners, Plan(spec.load, spec.target, Share(index, runners)).planned)
        for index in range(runners)
        if index not in reported
    ]


def missing_reason(lost: Sequence[LostRunner]) -> str | None:
    """Why the results are incomplete, naming the runners; None when none is lost."""
    if not lost:
        return None
    named = ", ".join(str(runner.index) for runner in lost)
    return f"results missing: runner {named} of {lost[0].runners} did not report"


def unknown_share(lost: Sequence[LostRunner]) -> int:
    return sum(runner.planned or 0 for runner in lost)
