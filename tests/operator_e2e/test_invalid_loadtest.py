"""An invalid LoadTest that the CRD's schema lets through gets a status naming the bad
field, a Warning Event, and no run, ConfigMap or Job."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from herd_operator.kube import CONFIGMAPS, JOBS, LOADTESTS, RUNS, Resource
from tests.operator.schema_tools import validate_against
from tests.operator_e2e.api import eventually
from tests.operator_e2e.apiserver import CRDS
from tests.operator_e2e.conftest import NAMESPACE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest

EVENTS = Resource("", "v1", "events")


def broken_template(url: str) -> dict:
    return burst_spec(url) | {"target": {"url": f"{url}/generate", "body": '{"n": {{ x }'}}


def local_directory(url: str) -> dict:
    uploads = {
        "bucket": "inputs",
        "perRequest": 1,
        "source": {"directory": "./images"},
    }
    return burst_spec(url) | {"uploads": uploads}


@pytest.mark.parametrize(
    ("make_spec", "field"),
    [
        (broken_template, "spec.target.body"),  # the model rejects it
        (local_directory, "spec.uploads.source.directory"),  # valid for herd run, not a pod
    ],
)
async def test_invalid_loadtest_gets_a_status_naming_the_field_and_no_job(
    cluster: Cluster, operator, make_spec, field: str
) -> None:
    body = loadtest("broken", make_spec("http://127.0.0.1:9"))
    # A real API server would accept it too: only the operator can tell.
    crd = yaml.safe_load((CRDS / "loadtests.herd.dev.yaml").read_text())
    validate_against(crd, body)
    await cluster.api.create(LOADTESTS, body)

    async def invalid_status() -> dict:
        obj = await cluster.api.get(LOADTESTS, NAMESPACE, "broken")
        status = (obj or {}).get("status") or {}
        return status if status.get("phase") == "Invalid" else {}

    status = await eventually(invalid_status, 15, "phase Invalid")
    assert status["message"].startswith(f"{field}:")
    assert status["observedGeneration"] == 1

    async def warning() -> list:
        events = await cluster.api.list(EVENTS, NAMESPACE)
        return [event for event in events if event["reason"] == "InvalidSpec"]

    (event,) = await eventually(warning, 10, "an InvalidSpec Event")
    assert event["type"] == "Warning" and field in event["message"]
    assert event["involvedObject"]["name"] == "broken"
    await asyncio.sleep(1.0)  # a few more reconciles: still nothing is started
    for resource in (RUNS, JOBS, CONFIGMAPS):
        assert await cluster.api.list(resource, NAMESPACE) == []
    assert len(await warning()) == 1  # said once, not on every reconcile
