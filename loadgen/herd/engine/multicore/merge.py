"""The processes' results -> the runner's report, as one process would have written it.

Statistics merge through ``state.merge_runs``; the facts around them combine as a
runner's do: planned requests add up (a process that left no results adds its share,
``lost.lost_share``, under reason ``process_lost``: what it provably never sent as
never sent, the rest as unknown, none as sent), the load window runs from
the first process's release to the last one's end, and CPU is the busiest
process's share of its core, the figure that says whether a process held the load
back. The report is then built, judged and checked for client limits by the same
code as a single process's (``reporting.build_report``) on the merged numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from herd.api.report import Report
from herd.api.spec import LoadTest
from herd.api.verdicts import PROCESS_LOST
from herd.engine.env_expansion import Redactor
from herd.engine.histogram import Histogram
from herd.engine.multicore.lost import LostShare
from herd.engine.multicore.state import merge_runs
from herd.engine.planning import Plan
from herd.engine.recorder import Recorder
from herd.engine.reporting import RunFacts, build_report
from herd.engine.schedule import Share
from herd.engine.selfcheck import Finding

LOST_REASON = PROCESS_LOST


@dataclass(frozen=True)
class ProcessPart:
    """What a process left: its own report (the facts) and its statistics (``run_state``)."""

    part: int
    report: Report
    state: dict[str, Any]


@dataclass(frozen=True)
class LostProcess:
    """A process that left no results."""

    part: int
    share: LostShare
    why: str

    def diagnostic(self) -> str:
        """What was lost, in plain words (the report says it as ``client-limited: …``)."""
        share = self.share
        text = f"process {self.part} left no results ({self.why}): "
        if not share.released:
            return text + (
                f"it ended before its load was released, so its {share.planned} planned "
                f"requests were never sent (reason {LOST_REASON})"
            )
        if share.counted_to_last_progress:
            text += f"its last progress report counted {share.unknown} requests sent; they are"
        else:
            text += f"of its {share.planned} planned requests, {share.unknown} are"
        text += (
            f" of unknown fate (requests.unknown, reason {LOST_REASON}): it may have sent "
            f"them, so the endpoint may have received up to {share.unknown} more than sent"
        )
        if share.never_sent:
            text += f"; {share.never_sent} provably never left (never sent, {LOST_REASON})"
        if share.counted_to_last_progress:
            text += "; any it sent after that report are counted nowhere"
        return text


def account_lost(recorder: Recorder, lost: Sequence[LostProcess]) -> None:
    """Add the lost processes' shares to a recorder of the others' requests."""
    for process in lost:
        if process.share.never_sent:
            recorder.on_never_sent(LOST_REASON, process.share.never_sent)
        if process.share.unknown:
            recorder.on_unknown(LOST_REASON, process.share.unknown)


@dataclass(frozen=True)
class RunnerFacts:
    loadtest: LoadTest
    run_id: str
    share: Share
    started_at: datetime
    stopped: str | None
    """Why the runner was stopped (a signal it forwarded), if it was."""


def merge_parts(
    runner: RunnerFacts,
    parts: Sequence[ProcessPart],
    lost: Sequence[LostProcess],
    redactor: Redactor,
    notes: Sequence[str] = (),
) -> Report:
    """The runner's report; ``notes`` are added to its diagnostics."""
    if not parts and not lost:
        raise ValueError("no processes to merge")
    spec = runner.loadtest.spec
    plan = Plan(spec.load, spec.target, runner.share)
    merged = merge_runs([part.state for part in parts])
    recorder = merged.recorder
    if recorder is None:  # every process was lost: an empty record of the right shape
        recorder = Recorder(0.0, plan.bucket_seconds)
    account_lost(recorder, lost)
    windows = [
        (datetime.fromisoformat(part.report.load_started_at), part.report.duration_seconds)
        for part in parts
        if part.report.load_started_at is not None
    ]
    load_started = min((start for start, _ in windows), default=None)
    load_seconds = (
        max(start.timestamp() + seconds for start, seconds in windows) - load_started.timestamp()
        if load_started is not None
        else 0.0
    )
    stats = merged.upload_stats
    staging = 0.0
    if stats is not None and stats.first_start is not None and stats.last_end is not None:
        staging = stats.last_end - stats.first_start
    probe = next((p.report.scaling_probe for p in parts if p.report.scaling_probe), None)
    facts = RunFacts(
        loadtest=runner.loadtest,
        run_id=runner.run_id,
        share=runner.share,
        plan=plan,
        started_at=runner.started_at,
        load_started_at=load_started,
        planned=sum(p.report.requests.planned for p in parts) + sum(p.share.planned for p in lost),
        load_seconds=max(0.0, load_seconds),
        cpu_utilization=max((p.report.client.cpu_utilization for p in parts), default=0.0),
        loop_lag=merged.loop_lag if merged.loop_lag is not None else Histogram(),
        stopped=runner.stopped or next((p.report.stopped for p in parts if p.report.stopped), None),
        staging_seconds=staging,
        scaling_probe=probe,
    )
    # A lost process is the client failing to deliver its load: client-limited, and
    # no spec can ignore it (herd.api.verdicts.PROCESS_LOST).
    findings = [Finding(PROCESS_LOST, process.diagnostic()) for process in lost]
    return build_report(facts, recorder, stats, redactor, findings, notes)


def start_skew(parts: Sequence[ProcessPart]) -> float | None:
    """Seconds between the first and the last process releasing its load."""
    starts = [
        datetime.fromisoformat(p.report.load_started_at).timestamp()
        for p in parts
        if p.report.load_started_at is not None
    ]
    return max(starts) - min(starts) if len(starts) > 1 else None
