"""``herd run --metrics-port/--pushgateway``: mistakes stop the run before any load."""

from __future__ import annotations

import socket

import pytest

from tests.engine.test_accounting import run_herd_cli

pytestmark = pytest.mark.timeout(30)


def _spec(echo_url: str) -> dict:
    return {
        "target": {"url": f"{echo_url}/answer", "body": "{}"},
        "load": {"pattern": "burst", "requests": 3},
    }


def test_a_pushgateway_that_is_not_a_url_is_an_invalid_run(echo, tmp_path):
    process = run_herd_cli(_spec(echo.url), tmp_path, "--pushgateway", "pushgateway:9091", "-q")
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2, stderr
    assert "pushgateway: expected http(s)://host[:port]" in stderr


def test_a_metrics_port_in_use_stops_the_run_before_any_load(echo, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = run_herd_cli(
            _spec(echo.url),
            tmp_path,
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(port),
            "-q",
        )
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 3, stderr
    assert f"cannot serve metrics on 127.0.0.1:{port}" in stderr
