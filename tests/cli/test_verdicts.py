"""The verdict ``herd run`` gives a run its own client limited, as the demo's incident
replay does: each call uploads its own object through a pool of 2 slow uploads, so the
calls trickle out. Real S3 (moto behind a proxy that makes PUTs slow), a real target,
``herd run`` in its own process; the exit code is what a pipeline sees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herd.api.exits import ExitCode
from herd.api.report import Report
from herd.api.verdicts import SELF_CHECK_RULES
from herd.demo.services import FAKE_AWS_ENV
from tests.cli.helpers import assert_no_traceback, herd_run, write_spec
from tests.support.s3_fault_proxy import S3FaultProxy, s3_fault_proxy
from tests.support.servers import REPO, RecordingTarget
from tests.support.staging import BODY, uploads_to

pytestmark = pytest.mark.timeout(90)

REQUESTS = 12
SLOW_PUT = 0.1  # seconds per upload: 12 uploads 2 at a time spread the calls over ~0.6 s


@pytest.fixture(scope="module")
def slow_s3(s3_server) -> Iterator[S3FaultProxy]:
    with s3_fault_proxy(s3_server.url) as proxy:
        proxy.configure(put_delay=SLOW_PUT)
        yield proxy


def incident_replay(
    target: RecordingTarget, s3: S3FaultProxy, bucket: str, thresholds: list[str]
) -> dict[str, Any]:
    """The demo's incident replay, smaller: inline uploads through 2 slots, one burst."""
    return {
        "target": {"url": f"{target.url}/work", "body": BODY},
        "uploads": uploads_to(s3.url, bucket, perRequest=1, concurrency=2, mode="inline"),
        "load": {"pattern": "burst", "requests": REQUESTS},
        "thresholds": thresholds,
    }


def run(tmp_path: Path, spec: dict[str, Any]) -> tuple[Report, Any]:
    report_path = tmp_path / "report.json"
    result = herd_run(
        write_spec(tmp_path, spec), "--report", report_path, "--processes", "1", env=FAKE_AWS_ENV
    )
    assert_no_traceback(result)
    return Report.model_validate(json.loads(report_path.read_text())), result


@pytest.mark.parametrize(
    "thresholds", [["error_rate < 1%"], ["p95 < 1ms"]], ids=["thresholds-hold", "threshold-fails"]
)
def test_a_client_limited_run_is_inconclusive_and_exits_4(
    fresh_target, slow_s3, bucket, tmp_path, thresholds
):
    """Whatever its thresholds say: they held on a trickle, or failed on latency the
    calls spent waiting for their own uploads. Neither is the endpoint's doing."""
    report, result = run(tmp_path, incident_replay(fresh_target, slow_s3, bucket, thresholds))
    assert len(fresh_target.record()) == REQUESTS == report.requests.ok  # all were answered
    assert report.verdict == "inconclusive"
    assert result.returncode == ExitCode.INCONCLUSIVE == 4, result.stderr
    assert report.client_limited and "inline_uploads" in report.self_check.limited_by
    assert report.verdict_reason.startswith("client-limited: calls waited for their own S3")
    assert report.diagnostics[0] == report.verdict_reason
    printed = " ".join(result.stdout.split())
    assert "verdict: inconclusive (neither passed nor failed" in printed


@pytest.mark.parametrize(
    ("thresholds", "verdict", "code"),
    [(["error_rate < 1%"], "passed", ExitCode.PASSED), (["p95 < 1ms"], "failed", ExitCode.FAILED)],
    ids=["thresholds-hold", "threshold-fails"],
)
def test_a_spec_that_ignores_the_self_check_is_judged_on_its_thresholds_and_says_so(
    fresh_target, slow_s3, bucket, tmp_path, thresholds, verdict, code
):
    """A test that means to measure the client names every rule it ignores; each rule
    that fired is still reported, as ignored by the spec."""
    spec = incident_replay(fresh_target, slow_s3, bucket, thresholds)
    spec["selfCheck"] = {"ignore": list(SELF_CHECK_RULES)}
    report, result = run(tmp_path, spec)
    assert (report.verdict, result.returncode) == (verdict, code), result.stderr
    assert not report.client_limited and report.self_check.limited_by == []
    assert "inline_uploads" in report.self_check.ignored
    ignored = [line for line in report.diagnostics if line.startswith("self-check rule ")]
    assert len(ignored) == len(report.self_check.ignored)
    assert any(
        line.startswith(
            "self-check rule inline_uploads ignored by the spec (spec.selfCheck.ignore): "
            "calls waited for their own S3 uploads"
        )
        for line in ignored
    ), ignored
    assert "self-check rule inline_uploads ignored by the spec" in " ".join(result.stdout.split())


def test_an_unknown_self_check_rule_is_an_invalid_spec_naming_the_field(tmp_path, fresh_target):
    spec = {
        "target": {"url": f"{fresh_target.url}/work"},
        "load": {"pattern": "burst", "requests": 1},
        "selfCheck": {"ignore": ["cpu", "everything"]},
    }
    result = herd_run(write_spec(tmp_path, spec))
    assert_no_traceback(result)
    assert result.returncode == ExitCode.INVALID
    assert "spec.selfCheck.ignore[1]" in result.stderr
    assert fresh_target.record() == []


def test_exit_code_4_is_documented_beside_the_others():
    shown = " ".join(herd_run("--help").stdout.split())
    assert "4 inconclusive (herd's own client limited the run, or a process was lost" in shown
    assert "0 passed, 1 failed, 4 inconclusive, 3 nothing sent" in shown
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "`3` the run could not execute" in readme and "`4` inconclusive: herd's own" in readme
