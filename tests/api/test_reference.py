"""docs/spec-reference.md and ``kubectl explain`` explain every field of the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herd.api.crd import loadtest_crd, loadtestrun_crd
from herd.api.reference import reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def fields(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    nested = schema.get("items") if schema.get("type") == "array" else schema
    for name, child in (nested or {}).get("properties", {}).items():
        child_path = f"{path}{'[]' if nested is not schema else ''}.{name}"
        yield child_path, child
        yield from fields(child, child_path)


def version_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]["properties"]


@pytest.mark.parametrize(
    ("kind", "crd"), [("LoadTest", loadtest_crd), ("LoadTestRun", loadtestrun_crd)]
)
def test_every_field_has_a_description_for_kubectl_explain(kind, crd):
    schema = version_schema(crd())
    undocumented = [
        path
        for root in ("spec", "status")
        for path, child in fields(schema[root], root)
        if not child.get("description")
    ]
    assert undocumented == [], f"{kind}: document these fields in loadgen/herd/api/"


def test_the_reference_lists_every_field_of_the_crds():
    reference = reference_markdown()
    for crd in (loadtest_crd(), loadtestrun_crd()):
        schema = version_schema(crd)
        for root in ("spec", "status"):
            for path, _ in fields(schema[root], root):
                assert f"| `{path}` |" in reference, path


def test_the_checked_in_reference_is_current():
    assert (ROOT / "docs" / "spec-reference.md").read_text() == reference_markdown(), (
        "docs/spec-reference.md is stale: run .venv/bin/python scripts/generate.py"
    )
