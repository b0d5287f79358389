"""Bad input to ``herd run`` explains itself: exit 2 and one line per problem, printed as
written (never read as Rich markup), never a traceback (issue #12 items 11, 12, 15)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from herd.cli.main import cli
from tests.cli.helpers import assert_no_traceback, herd_run, loadtest_document, write_spec

TARGET = {"url": "http://127.0.0.1:9/x"}  # never called: every case fails validation
BURST = {"pattern": "burst", "requests": 2}


def invoke(*args: str, stdin: bytes | None = None):
    """``herd run`` in this process: enough for what fails before any run starts."""
    result = CliRunner().invoke(cli, ["run", *args], input=stdin)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result


def test_a_threshold_with_markup_characters_is_printed_as_written(tmp_path: Path):
    path = write_spec(tmp_path, {"target": TARGET, "load": BURST, "thresholds": ["p95 < [/]"]})
    result = invoke(str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "invalid LoadTest: spec.thresholds[0]: bad value in 'p95 < [/]': invalid duration "
        "'[/]'; write e.g. 150s, 2m, 250ms or 1h30m"
    ]


def test_a_regex_in_a_message_keeps_every_character(tmp_path: Path):
    uploads = {"bucket": "Bad_Bucket", "source": {"synthetic": {"sizeBytes": 1}}}
    path = write_spec(tmp_path, {"target": TARGET, "load": BURST, "uploads": uploads})
    result = invoke(str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "invalid LoadTest: spec.uploads.bucket: String should match pattern "
        "'^[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]$'"
    ]


def test_a_binary_file_is_an_invalid_spec(tmp_path: Path):
    path = tmp_path / "lt.yaml"
    path.write_bytes(bytes(range(256)))
    result = invoke(str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"invalid LoadTest: {path}: not UTF-8 text (byte 128): a LoadTest is a YAML file"
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://@", "host is required"),
        ("http://127.0.0.1:99999/x", "Port out of range"),
        ("http://[::1/x", "Invalid IPv6 URL"),
        ("http://user:pass@127.0.0.1:9/x", "must not carry credentials"),
    ],
)
def test_a_url_the_http_client_would_refuse_is_an_invalid_spec(tmp_path: Path, url, reason):
    path = write_spec(tmp_path, {"target": {"url": url}, "load": BURST})
    result = invoke(str(path))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("invalid LoadTest: spec.target.url: ") and reason in line
    assert "pass@" not in line


def test_a_missing_file_says_so(tmp_path: Path):
    result = invoke(str(tmp_path / "nothing.yaml"))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"cannot read the LoadTest file: {tmp_path / 'nothing.yaml'}: No such file or directory"
    ]


def test_stdin_is_read_when_the_file_is_a_dash():
    document = loadtest_document({"target": TARGET, "load": {"pattern": "burst"}})
    result = invoke("-", stdin=yaml.safe_dump(document).encode())
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "invalid LoadTest: spec.load.requests: pattern burst needs the number of requests"
    ]


def test_bad_yaml_on_stdin_names_stdin():
    result = invoke("-", stdin=b"a: [")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("invalid LoadTest: - (stdin): not valid YAML: ")


def test_an_unwritable_report_is_refused_before_any_traffic(tmp_path: Path):
    path = write_spec(tmp_path, {"target": TARGET, "load": BURST})
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke(str(path), "--report", str(blocker / "report.json"), "-q")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [f"cannot write --report: {blocker}: File exists"]


def test_the_process_path_gives_the_same_answer(tmp_path: Path):
    """One real ``herd run`` (its own interpreter, stderr not a terminal): no traceback,
    one line, the documented code."""
    path = tmp_path / "lt.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    result = herd_run(path)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"invalid LoadTest: {path}: not UTF-8 text (byte 0): a LoadTest is a YAML file"
    ]
