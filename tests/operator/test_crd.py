"""The CRDs: generated from the models, up to date, structural, valid for Kubernetes 1.30,
and accepting exactly the LoadTests the models accept."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from herd.api.crd import crd_documents, loadtest_crd, loadtestrun_crd
from herd.api.loading import parse_loadtest
from tests.operator.fixtures import FULL_SPEC, MINIMAL_SPEC, loadtest, run_body
from tests.operator.schema_tools import structural_problems, validate_against

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = "1.30"


def schema_of(crd: dict) -> dict:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def readme_loadtest() -> dict:
    """The LoadTest users see first: the README's example."""
    text = (ROOT / "README.md").read_text()
    block = re.search(
        r"```yaml\n(apiVersion: herd.dev/v1alpha1\nkind: LoadTest\n.*?)```", text, re.S
    )
    assert block, "README has no LoadTest example"
    return yaml.safe_load(block.group(1))


EXAMPLES = {
    "minimal": loadtest(MINIMAL_SPEC),
    "full": loadtest(FULL_SPEC),
    "readme": readme_loadtest(),
    "rate-stages": loadtest(
        {
            "target": {"url": "https://endpoint.example/"},
            "load": {"pattern": "rate", "stages": [{"duration": "1m", "target": 20}]},
        }
    ),
    "concurrency": loadtest(
        {
            "target": {"url": "https://endpoint.example/", "method": "GET"},
            "load": {"pattern": "concurrency", "concurrency": 8, "duration": "30s"},
            "parallelism": 2,
            "runner": {"resources": {"requests": {"cpu": 1, "memory": "256Mi"}}},
        }
    ),
}


def test_checked_in_crds_match_a_fresh_generation():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, (
        f"crds/ is stale ({result.stdout.strip()}): run .venv/bin/python scripts/generate.py"
    )


@pytest.mark.parametrize("name", sorted(crd_documents()))
def test_checked_in_file_is_the_generated_document(name):
    assert yaml.safe_load((ROOT / "crds" / name).read_text()) == crd_documents()[name]


@pytest.mark.parametrize("crd", [loadtest_crd(), loadtestrun_crd()], ids=["LoadTest", "Run"])
def test_crd_is_valid_for_kubernetes_strict(crd):
    kubernetes_validate.validate(crd, KUBERNETES, strict=True)


@pytest.mark.parametrize("crd", [loadtest_crd(), loadtestrun_crd()], ids=["LoadTest", "Run"])
def test_schema_is_structural(crd):
    assert structural_problems(schema_of(crd)) == []


def test_structural_checker_catches_what_the_api_server_refuses():
    assert structural_problems({"type": "object", "properties": {"a": {}}}) == [".a: no type"]
    assert structural_problems({"$ref": "#/x"})[0].endswith("not allowed")
    bad_union = {"type": "string", "anyOf": [{"type": "string", "description": "x"}]}
    assert len(structural_problems(bad_union)) == 2
    both = {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}
    assert structural_problems(both) == [": properties beside additionalProperties"]


def test_names_and_scope():
    spec = loadtest_crd()["spec"]
    assert loadtest_crd()["metadata"]["name"] == "loadtests.herd.dev"
    assert spec["group"] == "herd.dev" and spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == ["lt"] and spec["names"]["plural"] == "loadtests"
    assert spec["versions"][0]["name"] == "v1alpha1"
    assert spec["versions"][0]["subresources"] == {"status": {}}
    run = loadtestrun_crd()["spec"]
    assert run["names"]["kind"] == "LoadTestRun" and run["names"]["shortNames"] == ["ltr"]
    assert run["versions"][0]["subresources"] == {"status": {}}


@pytest.mark.parametrize("crd", [loadtest_crd(), loadtestrun_crd()], ids=["LoadTest", "Run"])
def test_printer_columns_show_the_headline_numbers(crd):
    columns = {c["name"]: c for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert list(columns)[:5] == ["Phase", "P95", "Errors", "Workers", "Verdict"]
    assert columns["Age"]["type"] == "date"
    status = schema_of(crd)["properties"]["status"]
    for column in columns.values():
        path = column["jsonPath"].lstrip(".").split(".")
        if path[0] != "status":
            continue
        node = status
        for part in path[1:]:
            node = node["properties"][part]  # every column points at a real status field
        assert node["type"] == column["type"]


def test_schema_keeps_descriptions_defaults_enums_and_durations():
    spec = schema_of(loadtest_crd())["properties"]["spec"]
    target = spec["properties"]["target"]["properties"]
    assert target["timeout"] == {
        "description": target["timeout"]["description"],
        "type": "string",
        "default": "2m30s",  # as written on the wire, not 150.0 seconds
        "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$",
    }
    assert "Whole-request timeout" in target["timeout"]["description"]
    assert target["method"]["enum"][:2] == ["GET", "POST"] and target["method"]["nullable"]
    load = spec["properties"]["load"]["properties"]
    assert load["rate"]["minimum"] == 0 and load["rate"]["exclusiveMinimum"] is True
    schedule = spec["properties"]["schedule"]["properties"]
    assert schedule["concurrencyPolicy"]["enum"] == ["Forbid", "Allow", "Replace"]
    assert schedule["concurrencyPolicy"]["default"] == "Forbid"
    runner = spec["properties"]["runner"]
    assert runner["default"] == {}  # so the API server fills in the runner's defaults
    requests = runner["properties"]["resources"]["properties"]["requests"]
    assert requests["default"] == {"cpu": "1", "memory": "512Mi"}
    assert requests["additionalProperties"]["x-kubernetes-int-or-string"] is True
    assert spec["properties"]["parallelism"]["default"] == 1


def test_free_form_only_where_the_model_is_free_form():
    text = yaml.safe_dump(schema_of(loadtest_crd()))
    assert text.count("x-kubernetes-preserve-unknown-fields") == 1  # spec.runner.affinity
    affinity = schema_of(loadtest_crd())["properties"]["spec"]["properties"]["runner"][
        "properties"
    ]["affinity"]
    assert affinity["x-kubernetes-preserve-unknown-fields"] is True


def test_run_spec_is_immutable_and_status_fields_are_optional():
    spec = schema_of(loadtestrun_crd())["properties"]["spec"]
    assert spec["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"
    snapshot = {k: v for k, v in spec["properties"]["loadTest"].items() if k != "description"}
    loadtest_spec = schema_of(loadtest_crd())["properties"]["spec"]
    assert snapshot == {k: v for k, v in loadtest_spec.items() if k != "description"}
    for crd in (loadtest_crd(), loadtestrun_crd()):
        assert "required" not in yaml.safe_dump(schema_of(crd)["properties"]["status"])


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_validates_against_schema_and_models(name):
    document = EXAMPLES[name]
    validate_against(loadtest_crd(), document)
    parse_loadtest(document)


def test_run_objects_validate_against_the_run_schema():
    validate_against(loadtestrun_crd(), run_body(FULL_SPEC))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"load": {"pattern": "spike", "requests": 3}}, "spike"),
        ({"load": {"pattern": "burst", "requests": 0}}, "0"),
        ({"target": {"url": "https://x", "timeout": "soon"}}, "soon"),
        ({"parallelism": 0}, "0"),
        ({"tresholds": []}, "tresholds"),
        ({"runner": {"resources": {"limits": {"memory": "lots"}}}}, "lots"),
        ({"schedule": {"cron": "* * * * *", "concurrencyPolicy": "Sometimes"}}, "Sometimes"),
    ],
)
def test_schema_rejects_what_the_api_server_would(change, where):
    document = loadtest({**MINIMAL_SPEC, **change})
    with pytest.raises(jsonschema.ValidationError) as caught:
        validate_against(loadtest_crd(), document)
    assert where in str(caught.value.message)


def test_names_too_long_for_derived_names_are_refused():
    with pytest.raises(jsonschema.ValidationError):
        validate_against(loadtest_crd(), loadtest(name="x" * 64))
