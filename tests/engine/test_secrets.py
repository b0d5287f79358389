"""Secrets expand into requests and nowhere else."""

from __future__ import annotations

import logging

from tests.engine.test_accounting import run_herd_cli

SECRET = "sk-live-0123456789abcdef-not-for-logs"


def test_header_secret_reaches_the_target_and_never_the_output(fresh_target, tmp_path):
    spec = {
        "target": {
            "url": f"{fresh_target.url}/status/401",
            "headers": {"Authorization": "Bearer ${HERD_TEST_KEY}"},
            "body": '{"key": "${HERD_TEST_KEY}"}',
        },
        "load": {"pattern": "burst", "requests": 3},
    }
    process = run_herd_cli(spec, tmp_path, "-vv", env={"HERD_TEST_KEY": SECRET})
    stdout, stderr = process.communicate(timeout=30)
    record = fresh_target.record()
    assert [entry["authorization"] for entry in record] == [f"Bearer {SECRET}"] * 3
    assert SECRET in record[0]["body"]
    report = (tmp_path / "report.json").read_text()
    for text in (stdout, stderr, report):
        assert SECRET not in text
    assert '"http_401": 3' in report


def test_missing_variable_is_an_invalid_spec_naming_the_field(fresh_target, tmp_path):
    spec = {
        "target": {
            "url": fresh_target.url,
            "headers": {"Authorization": "Bearer ${HERD_UNSET_KEY}"},
        },
        "load": {"pattern": "burst", "requests": 1},
    }
    process = run_herd_cli(spec, tmp_path)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "spec.target.headers.Authorization" in stderr
    assert "HERD_UNSET_KEY" in stderr
    assert fresh_target.record() == []


def test_redactor_scrubs_log_records():
    from herd.engine.env_expansion import Redactor, expand

    redactor = Redactor()
    assert expand("Bearer ${K}", {"K": SECRET}, redactor, "f") == f"Bearer {SECRET}"
    assert expand("$${K} stays", {}, redactor, "f") == "${K} stays"
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "token %s", (SECRET,), None)
    redactor.logging_filter().filter(record)
    assert SECRET not in record.getMessage()
