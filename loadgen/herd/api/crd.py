"""The CustomResourceDefinitions of ``herd.dev``, generated from the API models.

``scripts/generate.py`` writes them to ``crds/``; a test fails when the checked-in
files differ from a fresh generation, so the models stay the single source of truth.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from herd.api.openapi import structural_schema
from herd.api.runs import RUN_KIND, LoadTestRunSpec
from herd.api.spec import API_GROUP, API_VERSION, KIND, LoadTestSpec
from herd.api.status import LoadTestRunStatus, LoadTestStatus

CATEGORY = "herd"
LOADTEST_PLURAL = "loadtests"
RUN_PLURAL = "loadtestruns"

# Object names become Job and pod names; a DNS label keeps every derived name valid.
_NAME_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
    },
}

_SUMMARY_COLUMNS: list[dict[str, Any]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {
        "name": "P95",
        "type": "string",
        "jsonPath": ".status.summary.p95",
        "description": "95th percentile latency, from each request's intended start",
    },
    {
        "name": "Errors",
        "type": "string",
        "jsonPath": ".status.summary.errorRate",
        "description": "(failed + never sent) / planned",
    },
    {
        "name": "Workers",
        "type": "integer",
        "jsonPath": ".status.summary.workers",
        "description": "Distinct endpoint workers that answered",
    },
    {"name": "Verdict", "type": "string", "jsonPath": ".status.summary.verdict"},
]
_AGE_COLUMN: dict[str, Any] = {
    "name": "Age",
    "type": "date",
    "jsonPath": ".metadata.creationTimestamp",
}


def _status_schema(model: type[BaseModel]) -> dict[str, Any]:
    # The operator writes status in several patches (and kopf keeps its own notes
    # there), so no status field is required at the schema level.
    schema: dict[str, Any] = _without_required(structural_schema(model))
    return schema


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_required(value) for key, value in node.items() if key != "required"}
    if isinstance(node, list):
        return [_without_required(item) for item in node]
    return node


def _object_schema(
    description: str, spec: dict[str, Any], status: dict[str, Any]
) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": _NAME_SCHEMA,
            "spec": spec,
            "status": status,
        },
        "required": ["spec"],
    }


def _crd(
    kind: str,
    plural: str,
    short_names: list[str],
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{API_GROUP}",
            "labels": {"app.kubernetes.io/name": "herd", "app.kubernetes.io/part-of": "herd"},
        },
        "spec": {
            "group": API_GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def loadtest_crd() -> dict[str, Any]:
    """``LoadTest`` (``lt``): what to test, how hard, when, and what counts as passing."""
    schema = _object_schema(
        "A load test of an autoscaling endpoint. Each execution is a LoadTestRun.",
        structural_schema(LoadTestSpec),
        _status_schema(LoadTestStatus),
    )
    columns = [
        *_SUMMARY_COLUMNS,
        {"name": "Last Run", "type": "string", "jsonPath": ".status.lastRun", "priority": 1},
        {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule.cron", "priority": 1},
        _AGE_COLUMN,
    ]
    return _crd(KIND, LOADTEST_PLURAL, ["lt"], schema, columns)


def loadtestrun_crd() -> dict[str, Any]:
    """``LoadTestRun`` (``ltr``): one execution, with an immutable snapshot of the spec."""
    spec = structural_schema(LoadTestRunSpec)
    spec["x-kubernetes-validations"] = [
        {
            "rule": "self == oldSelf",
            "message": "a LoadTestRun's spec is immutable; start a new run instead",
        }
    ]
    schema = _object_schema(
        "One execution of a LoadTest: a snapshot of its spec, the runner Job, and the "
        "merged results.",
        spec,
        _status_schema(LoadTestRunStatus),
    )
    columns = [
        *_SUMMARY_COLUMNS,
        {"name": "LoadTest", "type": "string", "jsonPath": ".spec.loadTestName", "priority": 1},
        {"name": "Trigger", "type": "string", "jsonPath": ".spec.trigger", "priority": 1},
        _AGE_COLUMN,
    ]
    return _crd(RUN_KIND, RUN_PLURAL, ["ltr"], schema, columns)


def crd_documents() -> dict[str, dict[str, Any]]:
    """Every CRD, by the file name it is written to under ``crds/``."""
    return {
        f"{LOADTEST_PLURAL}.{API_GROUP}.yaml": loadtest_crd(),
        f"{RUN_PLURAL}.{API_GROUP}.yaml": loadtestrun_crd(),
    }
