"""What ``herd run`` says and exits with when a run cannot start, cannot write its
results, or sends nothing that succeeds (issue #12 items 12, 14, 15), against a real
target on 127.0.0.1 that records what reached it."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from herd.api.report import Report
from herd.demo.services import free_port
from tests.cli.helpers import assert_no_traceback, error_lines, herd_run, write_spec
from tests.engine.test_accounting import assert_exact

BURST = {"pattern": "burst", "requests": 4}


# -- Configuration only the environment reveals: exit 2 before any traffic --------------


def test_every_missing_variable_is_named_at_once(fresh_target, tmp_path: Path):
    spec = {
        "target": {
            "url": f"{fresh_target.url}/${{PATH_PART}}",
            "headers": {"Authorization": "Bearer ${API_KEY}", "X-Other": "${API_KEY}"},
            "body": '{"model": "${MODEL}"}',
        },
        "scalingProbe": {"url": f"{fresh_target.url}/health?e=${{ENDPOINT}}"},
        "load": BURST,
    }
    result = herd_run(write_spec(tmp_path, spec), "-q")
    assert_no_traceback(result)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "herd run failed: environment variables not set: "
        "PATH_PART (in spec.target.url); "
        "API_KEY (in spec.target.headers.Authorization, spec.target.headers.X-Other); "
        "MODEL (in spec.target.body); "
        "ENDPOINT (in spec.scalingProbe.url)"
    ]
    assert fresh_target.record() == []


def test_a_variable_that_breaks_the_body_template_is_an_invalid_spec(fresh_target, tmp_path):
    spec = {"target": {"url": f"{fresh_target.url}/w", "body": '{"p": "${PROMPT}"}'}, "load": BURST}
    result = herd_run(write_spec(tmp_path, spec), "-q", env={"PROMPT": "{{ unclosed"})
    assert_no_traceback(result)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line.startswith(
        "herd run failed: spec.target.body: template does not compile (after ${VAR} expansion): "
        "TemplateSyntaxError:"
    )
    assert fresh_target.record() == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("@", "not a valid URL: Invalid URL: host is required"),
        ("127.0.0.1:99999", "not a valid URL: Port out of range 0-65535"),
        ("admin:hunter22@127.0.0.1", "must not carry credentials"),
    ],
)
def test_a_variable_that_breaks_the_url_is_an_invalid_spec(fresh_target, tmp_path, value, reason):
    spec = {"target": {"url": "http://${HOST}/x"}, "load": BURST}
    result = herd_run(write_spec(tmp_path, spec), "-q", env={"HOST": value})
    assert_no_traceback(result)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line.startswith(f"herd run failed: spec.target.url: {reason}")
    assert line.endswith("(after ${VAR} expansion)")
    assert "hunter22" not in result.stderr


def test_the_scaling_probe_is_checked_after_expansion_too(fresh_target, tmp_path: Path):
    spec = {
        "target": {"url": f"{fresh_target.url}/w"},
        "scalingProbe": {"url": "http://${PROBE}/health", "headers": {"Authorization": "${TOKEN}"}},
        "load": BURST,
    }
    env = {"PROBE": "admin:hunter22@127.0.0.1", "TOKEN": "abcd"}
    result = herd_run(write_spec(tmp_path, spec), "-q", env=env)
    assert_no_traceback(result)
    assert result.returncode == 2
    [line] = error_lines(result.stderr)
    assert line.startswith("herd run failed: spec.scalingProbe.url: must not carry credentials")
    assert "hunter22" not in result.stderr
    assert fresh_target.record() == []


def test_a_variable_with_a_newline_cannot_inject_a_header(fresh_target, tmp_path: Path):
    spec = {
        "target": {"url": f"{fresh_target.url}/w", "headers": {"Authorization": "${TOKEN}"}},
        "load": BURST,
    }
    token = "Bearer abcd\r\nX-Injected: yes"
    result = herd_run(write_spec(tmp_path, spec), "-q", env={"TOKEN": token})
    assert_no_traceback(result)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "herd run failed: spec.target.headers.Authorization: must not contain CR, LF or other "
        "control characters (after ${VAR} expansion)"
    ]
    assert fresh_target.record() == []


def test_a_body_whose_sample_render_fails_names_the_body(fresh_target, tmp_path: Path):
    spec = {
        "target": {"url": f"{fresh_target.url}/w", "body": "{{ 1 // request.index }}"},
        "load": BURST,
    }
    result = herd_run(write_spec(tmp_path, spec), "-q")
    assert_no_traceback(result)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "herd run failed: spec.target.body: ZeroDivisionError: integer division or modulo by zero"
    ]
    assert fresh_target.record() == []


# -- Results that cannot be written: exit 3, and nothing else is lost --------------------


def test_a_full_disk_under_the_report_is_exit_3_and_the_summary_still_prints(
    fresh_target, tmp_path: Path
):
    spec = {"target": {"url": f"{fresh_target.url}/w"}, "load": BURST}
    html = tmp_path / "report.html"
    result = herd_run(write_spec(tmp_path, spec), "--report", "/dev/full", "--html", html)
    assert_no_traceback(result)
    assert result.returncode == 3
    assert error_lines(result.stderr)[-1] == (
        "could not write --report: /dev/full: No space left on device"
    )
    assert "verdict: passed" in result.stdout
    assert html.stat().st_size > 0  # the other files are written all the same
    assert len(fresh_target.record()) == 4


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_full_disk_under_the_request_log_never_costs_the_report(
    fresh_target, tmp_path: Path, processes
):
    spec = {
        "target": {"url": f"{fresh_target.url}/w"},
        "load": {"pattern": "burst", "requests": 600},
    }
    report_path = tmp_path / "report.json"
    result = herd_run(
        write_spec(tmp_path, spec),
        "--report",
        report_path,
        "--requests-log",
        "/dev/full",
        "--processes",
        processes,
        "-q",
    )
    assert_no_traceback(result)
    assert result.returncode == 3
    assert error_lines(result.stderr)[-1] == (
        "could not write --requests-log: /dev/full: No space left on device"
    )
    report = Report.model_validate_json(report_path.read_text())
    assert_exact(report)
    assert report.requests.ok == 600 == len(fresh_target.record())


# -- No request succeeded: never "passed" --------------------------------------------------


def test_a_run_in_which_every_connection_was_refused_fails(tmp_path: Path):
    spec = {
        "target": {"url": f"http://127.0.0.1:{free_port()}/x"},
        "load": {"pattern": "burst", "requests": 5},
    }
    report_path = tmp_path / "report.json"
    result = herd_run(write_spec(tmp_path, spec), "--report", report_path)
    assert_no_traceback(result)
    assert result.returncode == 1
    assert "✗ ok > 0  (observed 0; implicit: a run in which no request succeeded fails)" in (
        result.stdout
    )
    assert "verdict: failed" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["requests"]["sent"] == 5 and report["requests"]["ok"] == 0
    assert report["verdict"] == "failed"
    assert report["thresholds"] == [
        {"expr": "ok > 0", "value": 0.0, "passed": False, "implicit": True}
    ]


def test_a_run_whose_sent_requests_all_failed_fails_whatever_its_thresholds(fresh_target, tmp_path):
    spec = {
        "target": {"url": f"{fresh_target.url}/status/503"},
        "load": {"pattern": "rate", "rate": 40, "duration": "5s", "maxDuration": "1s"},
        "thresholds": ["errors < 1000", "never_sent < 1000"],  # both hold
    }
    report_path = tmp_path / "report.json"
    result = herd_run(write_spec(tmp_path, spec), "--report", report_path, "-q")
    assert result.returncode == 1, result.stderr
    report = Report.model_validate_json(report_path.read_text())
    assert_exact(report)
    assert report.requests.never_sent > 0 and report.requests.sent > 0
    assert [(t.expr, t.passed, t.implicit) for t in report.thresholds] == [
        ("errors < 1000", True, False),
        ("never_sent < 1000", True, False),
        ("ok > 0", False, True),
    ]


@pytest.mark.parametrize("route", ["/status/503", None])  # None: every connection refused
def test_a_runner_pod_judges_nothing_its_exit_code_says_it_ran(fresh_target, tmp_path, route):
    # --no-verdict-exit (the operator's runner Jobs): a share in which nothing succeeded,
    # or nothing could be sent, is the merged result's business, not a failed pod that
    # would end the Job's other runners.
    url = f"{fresh_target.url}{route}" if route else f"http://127.0.0.1:{free_port()}/x"
    spec = {"target": {"url": url}, "load": {"pattern": "burst", "requests": 3}}
    report_path, summary_path = tmp_path / "report.json", tmp_path / "summary"
    args = ("--report", report_path, "--summary", summary_path, "-q", "--no-verdict-exit")
    result = herd_run(write_spec(tmp_path, spec), *args)
    assert result.returncode == 0, result.stderr
    report = Report.model_validate_json(report_path.read_text())
    assert report.verdict == "failed" and report.requests.ok == 0
    assert summary_path.read_text().startswith("{")
    assert herd_run(write_spec(tmp_path, spec), "-q").returncode == 1  # without the flag


def test_a_run_with_one_success_passes_without_the_implicit_line(fresh_target, tmp_path):
    spec = {"target": {"url": f"{fresh_target.url}/w"}, "load": {"pattern": "burst", "requests": 1}}
    report_path = tmp_path / "report.json"
    result = herd_run(write_spec(tmp_path, spec), "--report", report_path, "-q")
    assert result.returncode == 0, result.stderr
    assert json.loads(report_path.read_text())["thresholds"] == []


def test_exit_codes_come_from_one_enum():
    from herd.api.exits import ExitCode, exit_meaning, signal_exit
    from herd.engine.errors import ConfigError, SetupError

    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 128]
    assert ConfigError.exit_code is ExitCode.INVALID and SetupError.exit_code is ExitCode.NOT_RUN
    assert signal_exit("SIGTERM") == 128 + signal.SIGTERM
    assert "thresholds failed" not in exit_meaning(1)
    assert exit_meaning(2) == "invalid spec" and exit_meaning(137) == "killed (SIGKILL)"
    assert exit_meaning(4) == "the run was inconclusive"
