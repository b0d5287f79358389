"""Shared fixtures: real servers on 127.0.0.1 and a quick way to run a LoadTest."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from herd.api.loading import parse_loadtest
from herd.api.report import Report
from herd.demo.services import FAKE_AWS_ENV, moto_s3_server
from herd.engine.run import LoadRun, RunOptions
from tests.support.servers import recording_target


@pytest.fixture(scope="session")
def s3_server():
    with moto_s3_server() as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return FAKE_AWS_ENV


@pytest.fixture
def bucket(s3_server, aws_env) -> str:
    """A fresh, empty bucket on the moto server."""
    name = f"herd-test-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server.url).create_bucket(Bucket=name)
    return name


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="module")
def target():
    """A recording target answering after 50 ms; reset before each use."""
    with recording_target(service_time=0.05) as server:
        yield server


@pytest.fixture
def fresh_target(target):
    target.reset()
    return target


def loadtest(spec: dict[str, Any], name: str = "test") -> Any:
    return parse_loadtest(
        {
            "apiVersion": "herd.dev/v1alpha1",
            "kind": "LoadTest",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


async def run_spec(spec: dict[str, Any], **options: Any) -> Report:
    options.setdefault("handle_signals", False)
    return await LoadRun(loadtest(spec), RunOptions(**options)).execute()
