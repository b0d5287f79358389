"""Runner results as a runner leaves them, from real runs in this process.

``herd run --results`` writes them in a runner; tests that need several runners of one
run start them here at once (one event loop, one release time) and write what each
left into a local results store.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

from herd.api.loading import parse_loadtest
from herd.api.report import Report
from herd.engine.multicore.state import run_state
from herd.engine.run import LoadRun, RunOptions
from herd.engine.schedule import Share
from herd.results.layout import runner_key
from herd.results.runner_result import RunnerResult


def runner_result(document: dict[str, Any], load_run: LoadRun, report: Report) -> RunnerResult:
    return RunnerResult(
        loadtest=document,
        report=report,
        run_state=run_state(load_run),
        clock_offset=time.time() - time.perf_counter(),
    )


async def run_runners(
    document: dict[str, Any], runners: int, run_id: str, release_in: float = 1.0
) -> tuple[list[RunnerResult], list[str]]:
    """Every runner's result and its requests log (JSON lines), released together."""
    release_at = time.time() + release_in
    logs = [io.StringIO() for _ in range(runners)]
    runs = [
        LoadRun(
            parse_loadtest(document),
            RunOptions(
                run_id=run_id,
                share=Share(index, runners),
                release_at=release_at,
                handle_signals=False,
                request_log=logs[index],
            ),
        )
        for index in range(runners)
    ]
    reports = await asyncio.gather(*(run.execute() for run in runs))
    results = [
        runner_result(document, run, report) for run, report in zip(runs, reports, strict=True)
    ]
    return results, [log.getvalue() for log in logs]


def write_results(directory: Path, results: list[RunnerResult]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for result in results:
        (directory / runner_key(result.report.runner)).write_text(result.model_dump_json())
