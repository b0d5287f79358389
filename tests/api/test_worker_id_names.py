"""A worker id may not be read from where credentials live: the spec names the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.test_spec import problems, with_spec


def worker_id(**fields) -> dict:
    return with_spec(target={"url": "https://example.invalid/", "workerId": fields})


@pytest.mark.parametrize(
    "header",
    [
        "Set-Cookie",
        "cookie",
        "Authorization",
        "Proxy-Authorization",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "X-Api-Key",
        "X-Auth-Token",
        "X-Amz-Security-Token",
        "X-Session-Id",
        "X-Db-Password",
        "X-Client-Secret",
        "X-Credentials",
    ],
)
def test_a_credential_bearing_header_is_refused(header):
    [problem] = problems(worker_id(header=header))
    assert problem.startswith("spec.target.workerId.header: ")
    assert "credential" in problem


@pytest.mark.parametrize(
    "path",
    ["$.db.password", "$.apiKey", "$['session_id']", "$.auth.token", "$.dbPassword", "$.secret"],
)
def test_a_json_path_to_a_credential_is_refused(path):
    [problem] = problems(worker_id(header=None, jsonPath=path))
    assert problem.startswith("spec.target.workerId.jsonPath: ")
    assert "credential" in problem


@pytest.mark.parametrize(
    "fields",
    [
        {"header": "X-Runpod-Worker-Id"},
        {"header": "X-Request-Id"},
        {"header": "Fly-Request-Id"},
        {"header": "Server"},
        {"jsonPath": "$.workerId"},
        {"jsonPath": "$.output.worker_id"},
        {"jsonPath": "$.keystone"},
        {"jsonPath": "$.author"},
    ],
)
def test_ordinary_worker_id_sources_are_accepted(fields):
    from herd.api.loading import parse_loadtest

    parse_loadtest(worker_id(**fields))


def test_herd_run_exits_2_naming_the_field(tmp_path):
    spec = tmp_path / "loadtest.yaml"
    spec.write_text(json.dumps(worker_id(header="Set-Cookie")))
    herd = Path(sys.executable).with_name("herd")
    done = subprocess.run([str(herd), "run", str(spec)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "spec.target.workerId.header" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
