"""How big runner results are and how long ``herd report --merge`` takes to merge them.

Runs RUNNERS real runners at once (in this process, against the tests' recording
target: a rate of 40 req/s per runner for 10 s, 40 distinct workers), writes their
results into a local run prefix, then times ``herd report DIR --merge`` (a fresh
interpreter, as the merge Job runs it) and the merge alone. ``--copies N`` also times
a run of N runners made of copies of those results (the merge does not read the
numbers, only adds them: the cost is per runner and per timeline bucket).

    .venv/bin/python -m bench.merge_runners --runners 10 --copies 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from herd.results.runner_merge import merge_runner_results
from herd.results.runner_result import RunnerResult
from tests.cli.helpers import loadtest_document
from tests.support.runner_results import run_runners, write_results
from tests.support.servers import recording_target


def timed_report(directory: Path) -> tuple[float, int]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "herd.cli", "report", str(directory), "--merge", "-q"]
    result = subprocess.run([*command, "--no-verdict-exit"], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return time.perf_counter() - started, (directory / "merged.json").stat().st_size


def measure(label: str, directory: Path, results: list[RunnerResult]) -> None:
    sizes = [len(result.model_dump_json()) for result in results]
    started = time.perf_counter()
    merge_runner_results(results)
    merge_only = time.perf_counter() - started
    wall, merged_size = timed_report(directory)
    print(
        f"{label}: {len(results)} runner results, {sum(sizes) / 1e6:.2f} MB in all "
        f"({min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} kB each); merge in-process "
        f"{merge_only:.2f} s; `herd report DIR --merge` {wall:.2f} s (interpreter start, "
        f"read, merge, write merged.json {merged_size / 1e3:.0f} kB and report.html)"
    )


def copies(results: list[RunnerResult], count: int) -> list[RunnerResult]:
    made = []
    for index in range(count):
        source = results[index % len(results)]
        report = source.report.model_copy(update={"runner": index, "runners": count})
        made.append(source.model_copy(update={"report": report}))
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=10)
    parser.add_argument("--copies", type=int, default=0)
    args = parser.parse_args()
    with recording_target(service_time=0.5) as target, tempfile.TemporaryDirectory() as tmp:
        document = loadtest_document(
            {
                "target": {"url": f"{target.url}/"},
                "load": {"pattern": "rate", "rate": 40.0 * args.runners, "duration": "10s"},
            },
            name="bench",
        )
        results, _ = asyncio.run(run_runners(document, args.runners, "bench-run", 2.0))
        real = Path(tmp) / "real"
        write_results(real, results)
        measure("real run", real, results)
        if args.copies:
            many = copies(results, args.copies)
            copied = Path(tmp) / "copies"
            write_results(copied, many)
            measure("copies", copied, many)
        print(json.dumps({"requests": sum(r.report.requests.sent for r in results)}))


if __name__ == "__main__":
    main()
