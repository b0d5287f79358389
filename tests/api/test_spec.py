"""The LoadTest model: defaults users rely on, and errors that name the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from herd.api.durations import format_duration, parse_duration
from herd.api.loading import SpecError, load_loadtest, parse_loadtest
from herd.api.thresholds import parse_threshold

EXAMPLE = {
    "apiVersion": "herd.dev/v1alpha1",
    "kind": "LoadTest",
    "metadata": {"name": "sdxl-burst"},
    "spec": {
        "target": {"url": "https://example.invalid/generate", "body": "{}"},
        "load": {"pattern": "burst", "requests": 30},
    },
}


def with_spec(**changes):
    document = {**EXAMPLE, "spec": {**EXAMPLE["spec"], **changes}}
    return document


def problems(document) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_loadtest(document)
    return caught.value.problems


def test_defaults_users_rely_on():
    spec = parse_loadtest(EXAMPLE).spec
    assert spec.target.effective_method == "POST"  # a body implies POST
    assert spec.target.worker_id.header == "X-Runpod-Worker-Id"
    assert spec.target.timeout == 150.0
    assert spec.load.max_duration == 900.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("150s", 150), ("2m", 120), ("250ms", 0.25), ("1h30m", 5400), ("1.5s", 1.5)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["", "5", "5 s", "-1s", "2x", "s"])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_unknown_field_names_its_path():
    document = with_spec(load={"pattern": "burst", "requests": 3, "requets": 3})
    assert problems(document) == [
        "spec.load.requets: unknown field (check its spelling against the spec reference)"
    ]


def test_cross_field_errors_name_the_field():
    assert problems(with_spec(load={"pattern": "rate", "rate": 10})) == [
        "spec.load.duration: pattern rate needs a duration"
    ]
    assert problems(with_spec(load={"pattern": "burst", "requests": 3, "concurrency": 2})) == [
        "spec.load.concurrency: not used by pattern burst (only by concurrency)"
    ]


def test_bad_values_name_their_fields():
    document = with_spec(
        target={"url": "ftp://x", "timeout": "soon"},
        load={"pattern": "burst", "requests": 0},
        thresholds=["p95 < 2s", "p96 < 1s"],
    )
    found = problems(document)
    assert any(p.startswith("spec.target.url: ") for p in found)
    assert any(p.startswith("spec.target.timeout: invalid duration 'soon'") for p in found)
    assert any(p.startswith("spec.load.requests: ") for p in found)
    assert any(p.startswith("spec.thresholds[1]: unknown metric 'p96'") for p in found)


def test_body_template_syntax_is_checked_up_front():
    found = problems(with_spec(target={"url": "https://x.invalid/", "body": "{{ request.index "}))
    assert found[0].startswith("spec.target.body: template does not parse")


def test_prestage_needs_a_request_count():
    document = with_spec(
        uploads={"bucket": "bkt", "source": {"synthetic": {"sizeBytes": 1}}},
        load={"pattern": "concurrency", "concurrency": 2, "duration": "5s"},
    )
    assert problems(document) == [
        "spec.uploads.mode: prestage needs a known number of requests: "
        "set load.requests or use mode inline"
    ]


@pytest.mark.parametrize(
    ("expr", "metric", "op", "value"),
    [
        ("p95 < 2s", "p95", "<", 2.0),
        ("error_rate < 1%", "error_rate", "<", 0.01),
        ("workers >= 2", "workers", ">=", 2.0),
        ("p99<=250ms", "p99", "<=", 0.25),
    ],
)
def test_thresholds_parse(expr, metric, op, value):
    threshold = parse_threshold(expr)
    assert (threshold.metric, threshold.op, threshold.value) == (metric, op, value)


def test_cli_exits_2_and_prints_every_problem(tmp_path: Path):
    path = tmp_path / "lt.yaml"
    path.write_text(
        "apiVersion: herd.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: x}\n"
        "spec:\n  target: {url: 'http://127.0.0.1:9/'}\n  load: {pattern: rate, rate: -1}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "herd.cli", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "spec.load.rate" in result.stderr


def test_a_file_must_hold_one_loadtest(tmp_path: Path):
    path = tmp_path / "two.yaml"
    path.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(SpecError, match="expected one LoadTest document, found 2"):
        load_loadtest(path)


def test_results_store_names_bucket_prefix_endpoint_and_region():
    spec = parse_loadtest(
        with_spec(
            results={
                "s3": {
                    "bucket": "team-results",
                    "prefix": "load/tests/",
                    "endpoint": "http://127.0.0.1:9000",
                    "region": "eu-ro-1",
                }
            }
        )
    ).spec
    assert spec.results is not None
    assert (spec.results.s3.bucket, spec.results.s3.prefix) == ("team-results", "load/tests/")
    assert spec.results.s3.endpoint == "http://127.0.0.1:9000"
    assert spec.results.s3.region == "eu-ro-1"
    default = parse_loadtest(with_spec(results={"s3": {"bucket": "team-results"}})).spec
    assert default.results is not None and default.results.s3.prefix == "herd-results/"


def test_results_store_errors_name_the_field_and_refuse_credentials():
    assert problems(
        with_spec(results={"s3": {"bucket": "b", "prefix": "a/../b", "endpoint": "ftp://x"}})
    ) == [
        "spec.results.s3.bucket: String should match pattern "
        "'^[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]$'",
        "spec.results.s3.prefix: no empty, '.' or '..' parts (between slashes)",
        "spec.results.s3.endpoint: must be an http:// or https:// URL",
    ]
    found = problems(
        with_spec(results={"s3": {"bucket": "team-results", "secretAccessKey": "abc123"}})
    )
    assert len(found) == 1
    assert found[0].startswith("spec.results.s3.secretAccessKey: credentials never go in the spec")
    assert "abc123" not in found[0]
