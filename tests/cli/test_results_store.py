"""``herd run --results``: each runner's full report lands in a results store (a real
S3 API, the moto server) under the layout, after a normal end, a SIGTERM, and for a
multi-process runner; a store that fails is retried a bounded number of times, exits 3
and keeps the local files; no credential reaches the output or the store."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from herd.api.report import Report
from herd.demo.services import FAKE_AWS_ENV
from herd.results.runner_result import RunnerResult
from tests.cli.helpers import assert_no_traceback, error_lines, herd_run, write_spec
from tests.conftest import s3_client
from tests.support.s3_fault_proxy import KeyFault, s3_fault_proxy
from tests.support.servers import REPO

SECRET = FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"]


def aws(endpoint: str) -> dict[str, str]:
    """The environment of a runner that reaches the store at ``endpoint``."""
    return {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL_S3": endpoint}


def stored(s3_server, bucket: str) -> dict[str, bytes]:
    client = s3_client(s3_server.url)
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listing
    }


def burst(target, requests: int = 6, **spec) -> dict:
    return {
        "target": {"url": f"{target.url}/"},
        "load": {"pattern": "burst", "requests": requests},
        **spec,
    }


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        raw = text if isinstance(text, bytes) else text.encode()
        assert SECRET.encode() not in raw
        assert SECRET.encode() not in (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else b"")


def test_a_run_stores_its_full_report_and_gzipped_requests_log(
    fresh_target, s3_server, bucket, tmp_path
):
    started = time.time()
    result = herd_run(
        write_spec(tmp_path, burst(fresh_target)),
        "--results", f"s3://{bucket}/team/load",
        "--run-id", "r1",
        "--report", tmp_path / "report.json",
        "--requests-log", tmp_path / "requests.jsonl",
        "--processes", "1",
        env=aws(s3_server.url),  # no endpoint in the spec: the SDK's variable
    )  # fmt: skip
    ended = time.time()
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    objects = stored(s3_server, bucket)
    prefix = "team/load/default/cli/r1/"
    assert sorted(objects) == [prefix + "runner-0.json", prefix + "runner-0.requests.jsonl.gz"]
    runner = RunnerResult.model_validate_json(objects[prefix + "runner-0.json"])
    report_file = json.loads((tmp_path / "report.json").read_text())
    assert runner.report.model_dump(mode="json") == report_file
    assert runner.report.requests.ok == 6 == len(fresh_target.record())
    assert runner.loadtest["metadata"]["name"] == "cli"
    recorder = runner.run_state["recorder"]
    assert recorder["ok"] == 6
    # The clock offset puts the state's monotonic times on the wall clock.
    assert started - 1 <= recorder["start"] + runner.clock_offset <= ended
    log = gzip.decompress(objects[prefix + "runner-0.requests.jsonl.gz"])
    assert log == (tmp_path / "requests.jsonl").read_bytes() and len(log.splitlines()) == 6
    location = f"s3://{bucket}/{prefix}runner-0.json"
    assert f"herd run: results stored at {location}" in error_lines(result.stderr)
    assert_no_secret(result.stdout, result.stderr, *objects.values())


def test_two_runners_of_one_run_store_two_results_under_the_spec_location(
    fresh_target, s3_server, bucket, tmp_path
):
    results = {"s3": {"bucket": bucket, "prefix": "p", "endpoint": s3_server.url}}
    spec_file = write_spec(tmp_path, burst(fresh_target, requests=8, results=results))
    runs = [
        herd_run(
            *(spec_file, "--run-id", "shared", "--runner-index", str(index), "--runners", "2"),
            *("--processes", str(processes), "-q"),
            env=FAKE_AWS_ENV,
        )
        for index, processes in ((0, 1), (1, 2))  # runner 1 as two processes
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert run.stderr == "" and run.stdout == ""  # --quiet
    objects = stored(s3_server, bucket)
    assert sorted(objects) == [
        "p/default/cli/shared/runner-0.json",
        "p/default/cli/shared/runner-1.json",
    ]
    reports = [RunnerResult.model_validate_json(data).report for data in objects.values()]
    assert [(r.runner, r.runners, r.run_id) for r in reports] == [
        (0, 2, "shared"),
        (1, 2, "shared"),
    ]
    assert sum(r.requests.ok for r in reports) == 8 == len(fresh_target.record())
    runner_1 = RunnerResult.model_validate_json(objects["p/default/cli/shared/runner-1.json"])
    assert runner_1.run_state["recorder"]["ok"] == runner_1.report.requests.ok == 4


def test_the_flag_wins_over_the_spec(fresh_target, s3_server, bucket, tmp_path):
    results = {"s3": {"bucket": bucket, "prefix": "from-spec", "endpoint": s3_server.url}}
    spec_file = write_spec(tmp_path, burst(fresh_target, requests=2, results=results))
    run = herd_run(spec_file, "--results", tmp_path / "local", "--run-id", "r", "--processes", "1")
    assert run.returncode == 0, run.stderr
    assert stored(s3_server, bucket) == {}
    local = tmp_path / "local" / "default" / "cli" / "r" / "runner-0.json"
    assert RunnerResult.model_validate_json(local.read_bytes()).report.requests.ok == 2
    assert f"results stored at {local}" in run.stderr


def test_sigterm_mid_run_still_stores_the_result(fresh_target, s3_server, bucket, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/10"},
        "load": {"pattern": "rate", "rate": 5, "duration": "60s", "drainTimeout": "1s"},
    }
    command = [sys.executable, "-m", "herd.cli", "run", str(write_spec(tmp_path, spec))]
    command += ["--results", f"s3://{bucket}/", "--run-id", "stop", "--processes", "1", "-q"]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **aws(s3_server.url)},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(fresh_target.record()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=40)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    runner = RunnerResult.model_validate_json(
        stored(s3_server, bucket)["default/cli/stop/runner-0.json"]
    )
    assert runner.report.stopped == "SIGTERM"
    assert runner.report.requests.sent >= 2


def test_max_duration_still_stores_the_result(fresh_target, s3_server, bucket, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/10"},
        "load": {"pattern": "burst", "requests": 2, "maxDuration": "1s"},
    }
    result = herd_run(
        write_spec(tmp_path, spec),
        *("--results", f"s3://{bucket}/", "--run-id", "cut", "--processes", "1", "-q"),
        env=aws(s3_server.url),
    )
    assert result.returncode == 1, result.stderr  # the verdict's exit: every request aborted
    runner = RunnerResult.model_validate_json(
        stored(s3_server, bucket)["default/cli/cut/runner-0.json"]
    )
    assert runner.report.stopped == "max_duration"
    assert runner.report.errors == {"max_duration": 2}


@pytest.mark.parametrize("verdict_exit", ["--verdict-exit", "--no-verdict-exit"])
def test_a_store_that_keeps_failing_is_retried_a_bounded_number_of_times_then_exit_3(
    fresh_target, s3_server, bucket, tmp_path, verdict_exit
):
    with s3_fault_proxy(s3_server.url) as proxy:
        proxy.configure(key_faults=(KeyFault(r"runner-0\.json$", 503, "SlowDown"),))
        result = herd_run(
            write_spec(tmp_path, burst(fresh_target, requests=3)),
            "--results", f"s3://{bucket}/p",
            "--run-id", "down", verdict_exit,
            "--report", tmp_path / "report.json",
            "--processes", "1",
            env=aws(proxy.url),
        )  # fmt: skip
        puts = proxy.stats().put_keys
    assert result.returncode == 3, result.stderr
    assert_no_traceback(result)
    assert puts == ["p/default/cli/down/runner-0.json"] * 4  # four attempts, no more
    lines = error_lines(result.stderr)
    location = f"s3://{bucket}/p/default/cli/down/runner-0.json"
    assert [line for line in lines if line.startswith("retrying --results")] == [
        line for line in lines if f"{location}: SlowDown (HTTP 503)" in line and "retrying" in line
    ]
    assert len([line for line in lines if line.startswith("retrying --results")]) == 3
    assert (
        f"could not write --results: {location}: SlowDown (HTTP 503) (gave up after 4 attempts)"
        in lines
    )
    assert Report.model_validate_json((tmp_path / "report.json").read_text()).requests.ok == 3
    assert_no_secret(result.stdout, result.stderr)


def test_a_store_that_cannot_be_used_stops_the_run_before_any_traffic(
    fresh_target, s3_server, aws_env, tmp_path
):
    spec_file = write_spec(tmp_path, burst(fresh_target, requests=2))
    missing = herd_run(
        spec_file, "--results", "s3://no-such-bucket-for-herd/p", env=aws(s3_server.url)
    )
    assert missing.returncode == 3, missing.stderr
    assert error_lines(missing.stderr) == [
        "cannot write --results: s3://no-such-bucket-for-herd/p/: NoSuchBucket (HTTP 404)"
    ]
    down = herd_run(spec_file, "--results", "s3://bucket/p", env=aws("http://127.0.0.1:9"))
    assert down.returncode == 3, down.stderr
    assert error_lines(down.stderr) == [
        "cannot write --results: s3://bucket/p/: cannot connect to http://127.0.0.1:9"
    ]
    assert fresh_target.record() == []
    assert_no_secret(missing.stderr, down.stderr)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("s3://Not_A_Bucket/p", "bucket: String should match pattern"),
        ("gs://bucket/p", "a results location is s3://bucket/prefix or a directory"),
    ],
)
def test_a_results_location_that_cannot_be_one_is_invalid_input(
    fresh_target, tmp_path, location, reason
):
    result = herd_run(write_spec(tmp_path, burst(fresh_target, requests=1)), "--results", location)
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"invalid option: --results: '{location}': ") and reason in line
    assert fresh_target.record() == []
