"""``herd run --processes 2`` against the recording target: the merged report is the
target's own record, request for request."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter

import pytest

from herd.api.report import Report
from herd.engine.histogram import Histogram
from herd.results.summary import decode_summary
from tests.engine.test_accounting import assert_exact, run_herd_cli
from tests.multicore.conftest import (
    INDEX_BODY,
    arrived,
    finish,
    herd_command,
    herd_processes,
    write_loadtest,
)
from tests.support.staging import uploads_to

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

# The index (for completeness) and the staged objects' URLs of each request.
STAGED_BODY = (
    '{"i": {{ request.index }}, "images": {{ uploads | map(attribute="url") | list | tojson }}}'
)


def assert_matches_the_target(report: Report, record: list[dict], indices: range) -> None:
    """Counts, indices (unique, complete) and workers as the target saw them."""
    assert_exact(report)
    assert report.requests.sent == report.requests.ok == len(record)
    assert sorted(entry["request"]["i"] for entry in record) == list(indices)
    served = Counter(entry["worker"] for entry in record)
    assert report.workers.requests == dict(served)
    assert report.workers.distinct == len(served)
    assert report.status_codes == {"200": len(record)}
    latency = Histogram.decode(report.histograms["latency"])
    assert latency.count == len(record)


def assert_ran_as_two_processes(report: Report) -> None:
    note = next(line for line in report.diagnostics if line.startswith("ran as"))
    assert "2 processes: as asked (--processes)" in note
    assert "their load started within" in note


def test_a_burst_over_two_processes_is_the_targets_record(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 60},
        "thresholds": ["workers >= 60"],
    }
    log, summary, html = tmp_path / "requests.jsonl", tmp_path / "summary", tmp_path / "r.html"
    process = herd_processes(
        spec,
        tmp_path,
        *("--requests-log", str(log), "--summary", str(summary), "--html", str(html), "-q"),
    )
    report, stderr = finish(process, tmp_path)
    assert report.verdict == "passed", stderr
    assert_matches_the_target(report, arrived(fresh_target), range(60))
    assert_ran_as_two_processes(report)
    # The runner's termination message carries the merged numbers, as the operator reads them.
    runner = decode_summary(summary.read_text())
    assert runner.requests == (60, 60, 60, 0, 0)
    assert runner.workers_distinct == 60
    assert html.read_text().lower().startswith("<!doctype html>")
    # Released together: every request was in flight at once, as the target saw.
    assert report.concurrency.peak_in_flight == 60
    assert report.concurrency.burst_spread_seconds < 0.1
    # The requests log: every request once, and the merged latency histogram is the
    # histogram of the latencies the processes logged (to HDR's 0.1% precision; the
    # log rounds to the microsecond).
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(60))
    logged = Histogram()
    for line in lines:
        logged.record(line["end"] - line["intended"])
    merged = report.latency_seconds.model_dump()
    for name, value in logged.summary().items():
        assert merged[name] == pytest.approx(value, rel=2e-3, abs=2e-6), name


def test_a_closed_loop_over_two_processes_is_the_targets_record(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": INDEX_BODY},
        "load": {"pattern": "concurrency", "concurrency": 6, "requests": 48},
    }
    report, stderr = finish(herd_processes(spec, tmp_path, "-q"), tmp_path)
    assert report.verdict == "passed", stderr
    record = arrived(fresh_target)
    assert_matches_the_target(report, record, range(48))
    assert_ran_as_two_processes(report)
    assert report.concurrency.target == 6
    assert report.concurrency.peak_in_flight == 6  # 3 per process, together
    assert not report.client_limited, report.diagnostics


def test_an_open_loop_over_two_processes_is_the_targets_record(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": INDEX_BODY},
        "load": {"pattern": "rate", "rate": 80, "duration": "1s"},
    }
    report, stderr = finish(herd_processes(spec, tmp_path, "-q"), tmp_path)
    assert report.verdict == "passed", stderr
    record = arrived(fresh_target)
    assert report.requests.planned == 80
    assert_matches_the_target(report, record, range(80))
    assert_ran_as_two_processes(report)
    # One timeline for the runner: its buckets add up to the whole run.
    buckets = report.timeline.buckets
    assert sum(bucket.sent for bucket in buckets) == 80
    assert sum(bucket.new_workers for bucket in buckets) == report.workers.distinct


def test_a_runners_processes_send_exactly_its_share(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 41},
    }
    process = herd_processes(spec, tmp_path, "--runner-index", "1", "--runners", "2", "-q")
    report, _ = finish(process, tmp_path)
    record = arrived(fresh_target)
    # Runner 1 of 2 owns requests 21..40 (Share(1, 2).split(41)), whatever its processes.
    assert_matches_the_target(report, record, range(21, 41))
    assert {entry["request"]["runner"] for entry in record} == {1}
    assert (report.runner, report.runners) == (1, 2)


def test_one_process_runs_in_this_process(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 10},
    }
    process = run_herd_cli(spec, tmp_path, "--processes", "1")
    report, stderr = finish(process, tmp_path)
    assert "herd run: 1 process: as asked" in stderr
    assert_matches_the_target(report, arrived(fresh_target), range(10))
    assert not any(line.startswith("ran as") for line in report.diagnostics)


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) missing")
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 usable CPUs")
def test_auto_honours_the_cpu_affinity(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 1000},  # work enough for two processes
    }
    free = herd_command(write_loadtest(spec, tmp_path), tmp_path, "--processes", "auto")
    for command, expected in (
        (free, "herd run: 2 processes: auto: "),
        (["taskset", "-c", "0", *free], "herd run: 1 process: auto: 1 usable CPU (affinity 1,"),
    ):
        fresh_target.reset()
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert expected in done.stderr, done.stderr
        report = Report.model_validate_json((tmp_path / "report.json").read_text())
        assert_exact(report)
        assert report.requests.ok == len(fresh_target.record()) == 1000
        ran_as = [line for line in report.diagnostics if line.startswith("ran as")]
        assert bool(ran_as) == expected.startswith("herd run: 2")


def test_each_process_stages_its_own_requests_inputs(fresh_target, s3_server, bucket, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/work", "body": STAGED_BODY},
        "uploads": uploads_to(s3_server.url, bucket),  # 3 objects a request, 4 slots
        "load": {"pattern": "burst", "requests": 20},
    }
    report, stderr = finish(herd_processes(spec, tmp_path, "-q"), tmp_path)
    assert report.verdict == "passed", stderr
    record = arrived(fresh_target)
    assert_matches_the_target(report, record, range(20))
    urls = [url for entry in record for url in entry["request"]["images"]]
    assert len(urls) == 60 == len(set(urls))  # every request its own three objects
    assert report.uploads.objects == 60
    assert report.uploads.concurrency == 4  # the runner's bound, split 2 + 2
    assert report.uploads.peak_in_flight <= 4
    # Staged first, then released together: the burst still arrives at once.
    arrivals = sorted(entry["arrival"] for entry in record)
    assert arrivals[-1] - arrivals[0] < 0.1
