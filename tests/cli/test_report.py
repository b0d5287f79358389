"""``herd report``: a run of 3 runners, read from their results, reports what the target
received, exactly; a missing runner is named and its share unknown; bad sources exit 2."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from herd.api.report import Report
from herd.engine.histogram import Histogram
from herd.results.summary import decode_summary
from tests.cli.helpers import assert_no_traceback, error_lines, loadtest_document, write_spec
from tests.conftest import s3_client
from tests.support.runner_results import run_runners, write_results
from tests.support.servers import REPO

RUNNERS = 3
REQUESTS = 40  # one burst: 40 requests in flight at once meet 40 distinct workers


def herd_report(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "herd.cli", "report", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=dict(os.environ),
    )


@pytest.fixture(scope="module")
def three_runners(target) -> tuple[dict[str, Any], list, list[str], list[dict]]:
    """One run of 3 runners against the recording target: their results, their requests
    logs, and what the target recorded."""
    target.reset()
    document = loadtest_document(
        {
            "target": {"url": f"{target.url}/sleep/0.5"},
            "load": {"pattern": "burst", "requests": REQUESTS},
            "thresholds": ["error_rate < 1%", "workers >= 40"],
        },
        name="three",
    )
    results, logs = asyncio.run(run_runners(document, RUNNERS, "three-run"))
    return document, results, logs, target.record()


@pytest.fixture
def run_dir(tmp_path, three_runners) -> Path:
    _, results, _, _ = three_runners
    directory = tmp_path / "results" / "default" / "three" / "three-run"
    write_results(directory, results)
    return directory


def test_a_run_of_three_runners_reports_what_the_target_received(run_dir, three_runners, tmp_path):
    _, results, logs, recorded = three_runners
    merged_path, html = tmp_path / "merged.json", tmp_path / "page.html"

    result = herd_report(run_dir, "--report", merged_path, "--html", html)

    assert_no_traceback(result)
    merged = Report.model_validate_json(merged_path.read_text())
    assert result.returncode == {"passed": 0, "failed": 1, "inconclusive": 4}[merged.verdict]
    assert f"merged from {RUNNERS} runner results" in result.stdout
    assert "herd run three-run: burst against" in result.stdout  # herd run's own summary
    assert f"planned {REQUESTS}" in result.stdout and f"ok {REQUESTS}" in result.stdout
    # Counts and per-worker counts are the target's own.
    assert len(recorded) == REQUESTS
    assert merged.requests.sent == merged.requests.ok == REQUESTS
    assert merged.requests.planned == REQUESTS and merged.runners == RUNNERS
    assert merged.workers.requests == dict(Counter(entry["worker"] for entry in recorded))
    assert merged.workers.distinct == len({entry["worker"] for entry in recorded}) == REQUESTS
    # Every worker's first sighting is the earliest any runner saw it.
    assert all(seen >= 0 for seen in merged.workers.first_seen_seconds.values())
    # Latency percentiles: those of every request of every runner (requests logs),
    # within the HDR precision (3 significant digits).
    every = Histogram()
    for log in logs:
        for line in log.splitlines():
            entry = json.loads(line)
            every.record(entry["end"] - entry["intended"])
    expected = every.summary()
    assert expected is not None and merged.latency_seconds is not None
    for name in ("p50", "p90", "p99", "max"):
        assert getattr(merged.latency_seconds, name) == pytest.approx(expected[name], rel=2e-3)
    assert sum(b.sent for b in merged.timeline.buckets) == REQUESTS
    assert html.read_text().lstrip().lower().startswith("<!doctype html")
    assert not (run_dir / "merged.json").exists()  # only --merge writes into the store
    assert {r.report.runner for r in results} == set(range(RUNNERS))


def test_three_herd_run_runners_storing_results_then_herd_report(target, tmp_path):
    """What a cluster run does, from a shell: 3 `herd run --runner-index i --runners 3
    --results DIR` (one as 2 processes), then `herd report` on the run's prefix."""
    target.reset()
    spec = write_spec(
        tmp_path,
        {
            "target": {"url": f"{target.url}/sleep/0.5"},
            "load": {"pattern": "burst", "requests": REQUESTS},
        },
    )
    store, release = tmp_path / "store", time.time() + 4

    def command(index: int) -> list[str]:
        return [
            *(sys.executable, "-m", "herd.cli", "run", str(spec), "-q", "--no-verdict-exit"),
            *("--runner-index", str(index), "--runners", str(RUNNERS), "--run-id", "sh-1"),
            *("--release-at", str(release), "--results", str(store)),
            *("--processes", "2" if index == 0 else "1"),
        ]

    runners = [
        subprocess.Popen(
            command(index),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(RUNNERS)
    ]
    for runner in runners:
        _, stderr = runner.communicate(timeout=90)
        assert runner.returncode == 0, stderr
    run_dir = store / "default" / "cli" / "sh-1"
    assert sorted(p.name for p in run_dir.glob("runner-*.json")) == [
        f"runner-{i}.json" for i in range(RUNNERS)
    ]
    out = tmp_path / "merged.json"

    result = herd_report(run_dir, "--report", out, "--no-verdict-exit")

    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    merged = Report.model_validate_json(out.read_text())
    recorded = target.record()
    assert len(recorded) == REQUESTS == merged.requests.ok == merged.requests.planned
    assert merged.workers.requests == dict(Counter(entry["worker"] for entry in recorded))
    assert merged.runners == RUNNERS and f"ok {REQUESTS}" in result.stdout


def test_merge_writes_merged_json_and_the_page_into_the_run_and_the_summary(run_dir, tmp_path):
    summary = tmp_path / "termination-log"

    result = herd_report(
        run_dir, "--merge", "--runners", "3", "--summary", summary, "--quiet", "--no-verdict-exit"
    )

    assert_no_traceback(result)
    assert result.returncode == 0 and result.stdout == ""
    stored = Report.model_validate_json((run_dir / "merged.json").read_text())
    assert stored.requests.ok == REQUESTS and stored.workers.distinct == REQUESTS
    assert (run_dir / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    message = summary.read_text()
    assert len(message.encode()) <= 4096
    decoded = decode_summary(message)
    assert decoded.requests[:3] == (REQUESTS, REQUESTS, REQUESTS)
    assert decoded.workers_distinct == REQUESTS
    # merged.json is what a plain `herd report DIR` now shows, without merging again.
    again = herd_report(run_dir, "--report", tmp_path / "again.json")
    assert f"merged from {RUNNERS} runner results" not in again.stdout
    assert Report.model_validate_json((tmp_path / "again.json").read_text()) == stored


def test_a_missing_runner_is_named_its_share_unknown_and_the_run_inconclusive(run_dir, tmp_path):
    (run_dir / "runner-1.json").unlink()
    out = tmp_path / "merged.json"

    result = herd_report(run_dir, "--report", out)

    assert_no_traceback(result)
    assert result.returncode == 4
    merged = Report.model_validate_json(out.read_text())
    share = REQUESTS // RUNNERS  # Share(1, 3) of a 40-request burst: 13
    assert merged.requests.unknown == share and merged.unknown_reasons == {"runner_lost": share}
    assert merged.requests.ok == REQUESTS - share
    assert merged.verdict == "inconclusive"
    assert merged.verdict_reason == "results missing: runner 1 of 3 did not report"
    assert "runner 1 of 3 left no results (runner_lost)" in result.stdout
    assert "verdict: inconclusive" in result.stdout


def test_a_run_in_s3_is_merged_and_the_merge_lands_beside_it(
    three_runners, s3_server, bucket, monkeypatch, tmp_path
):
    _, results, _, recorded = three_runners
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    client = s3_client(s3_server.url)
    prefix = "herd/default/three/three-run/"
    for result in results:
        key = f"{prefix}runner-{result.report.runner}.json"
        client.put_object(Bucket=bucket, Key=key, Body=result.model_dump_json().encode())
    html = tmp_path / "page.html"

    result = herd_report(f"s3://{bucket}/{prefix}", "--merge", "--html", html)

    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert f"merged from {RUNNERS} runner results at s3://{bucket}/{prefix}" in result.stdout
    assert f"ok {REQUESTS}" in result.stdout and html.exists()
    stored = client.get_object(Bucket=bucket, Key=f"{prefix}merged.json")["Body"].read()
    merged = Report.model_validate_json(stored)
    assert merged.workers.requests == dict(Counter(entry["worker"] for entry in recorded))
    page = client.get_object(Bucket=bucket, Key=f"{prefix}report.html")
    assert page["ContentType"].startswith("text/html")
    # Without credentials the store cannot be read: exit 3, naming the location.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    denied = herd_report(f"s3://{bucket}/{prefix}")
    assert denied.returncode == 3, denied.stderr
    assert f"s3://{bucket}/{prefix}" in denied.stderr


def test_a_saved_report_and_a_runner_result_file_are_shown(run_dir, tmp_path):
    runner_file = run_dir / "runner-2.json"
    result = herd_report(runner_file, "--no-verdict-exit")
    assert_no_traceback(result)
    assert result.returncode == 0 and "herd run three-run" in result.stdout
    saved = tmp_path / "saved.json"
    herd_report(run_dir, "--report", saved, "-q")
    shown = herd_report(saved, "--no-verdict-exit", "--html", tmp_path / "saved.html")
    assert shown.returncode == 0 and f"ok {REQUESTS}" in shown.stdout
    assert (tmp_path / "saved.html").exists()


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("nowhere/at/all", "nowhere/at/all: no such file or directory"),
        ("lt/my-test", "lt/my-test: no cluster to ask (kubeconfig:"),
        ("ltr/my-run-1", "ltr/my-run-1: no cluster to ask"),
        ("s3://", "s3://"),
        ("ftp://x/y", "ftp://x/y"),
    ],
)
def test_a_bad_source_exits_2_and_says_why(source, says):
    result = herd_report(source)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert any(says in line for line in error_lines(result.stderr)), result.stderr


def test_files_that_are_no_results_exit_2_naming_them(tmp_path, run_dir):
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "deeper" / "ns" / "lt" / "run-1").mkdir(parents=True)
    (tmp_path / "deeper" / "ns" / "lt" / "run-1" / "runner-0.json").write_text("{}")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "runner-0.json").write_text("not json")
    cases = [
        ([junk], f"{junk}: neither a herd report"),
        ([empty], f"{empty}: no runner results (runner-INDEX.json) and no merged.json"),
        ([tmp_path / "deeper"], "it holds runs under it: ns/lt/run-1/"),
        ([broken], "runner-0.json: not JSON"),
        ([run_dir / "runner-0.json", "--merge"], "--merge applies to a run's results"),
        ([run_dir, "--runners", "2"], "runner 2 is not one of 2 runners"),
    ]
    for args, says in cases:
        result = herd_report(*args)
        assert_no_traceback(result)
        assert result.returncode == 2, (args, result.stderr)
        assert says in result.stderr, (args, result.stderr)


def test_an_output_that_cannot_be_written_exits_3(run_dir, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = herd_report(run_dir, "--report", blocked / "merged.json", "-q")
    assert_no_traceback(result)
    assert result.returncode == 3
    assert "could not write --report" in result.stderr
