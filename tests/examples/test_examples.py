"""Every example in examples/ (and every LoadTest in the install docs) is accepted by the CRD
schema and the API model, runs in a cluster under the chart's default caps, and builds valid
runner manifests; the in-cluster rehearsal passes its thresholds against the real herd sim."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from herd import __version__
from herd.api.loading import parse_loadtest
from herd.demo.services import child_server, free_port
from herd_operator.caps import cap_problems, caps_from_environment
from herd_operator.configmap import build_runner_configmap
from herd_operator.job import build_runner_job
from herd_operator.objects import read_run
from tests.operator.schema_tools import validate_against

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
KUBERNETES = "1.30"
CRDS = {
    path.name.split(".")[0]: yaml.safe_load(path.read_text())
    for path in (ROOT / "crds").glob("*.yaml")
}
# The chart's default caps, as its Deployment hands them to the operator (HERD_MAX_*).
DEFAULT_CAPS = caps_from_environment(
    {
        f"HERD_MAX_{key.removeprefix('max').upper()}": str(value)
        for key, value in yaml.safe_load((ROOT / "charts/herd/values.yaml").read_text())[
            "limits"
        ].items()
    }
)
DOCS_WITH_LOADTESTS = ["first-load-test.md", "gitops.md", "troubleshooting.md"]


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def doc_loadtests() -> dict[str, dict]:
    """The LoadTests shown in the docs' yaml blocks, by doc and position."""
    found = {}
    for name in DOCS_WITH_LOADTESTS:
        text = (ROOT / "docs" / name).read_text()
        for index, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
            for doc in yaml.safe_load_all(block):
                if isinstance(doc, dict) and doc.get("kind") == "LoadTest":
                    found[f"{name}[{index}]"] = doc
    return found


LOADTESTS = {
    **{
        f"{path.name}": doc
        for path in example_files()
        for doc in documents(path)
        if doc["kind"] == "LoadTest"
    },
    **doc_loadtests(),
}


def run_of(loadtest: dict) -> dict:
    """The LoadTestRun the operator would create for ``loadtest`` (as the API returns it)."""
    name = loadtest["metadata"]["name"]
    return {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTestRun",
        "metadata": {
            "name": f"{name}-g1",
            "namespace": "load-tests",
            "uid": "0b7c1f9e-4f7e-4c38-9d55-2f1d2a0c6e11",
            "creationTimestamp": "2030-05-04T12:00:00Z",
            "labels": {"herd.dev/loadtest": name},
        },
        "spec": {"loadTestName": name, "trigger": "apply", "loadTest": loadtest["spec"]},
    }


def test_examples_exist_and_each_is_listed_in_the_readme():
    readme = (EXAMPLES / "README.md").read_text()
    assert len(example_files()) >= 6
    for path in example_files():
        assert f"`{path.name}`" in readme, f"{path.name} is missing from examples/README.md"
    assert len(doc_loadtests()) >= 3, "the docs show LoadTests the tests should check"


@pytest.mark.parametrize("name", sorted(LOADTESTS))
def test_loadtest_passes_the_crd_schema_and_the_model(name):
    loadtest = LOADTESTS[name]
    validate_against(CRDS["loadtests"], loadtest)
    parse_loadtest(loadtest)  # raises SpecError naming each bad field


@pytest.mark.parametrize("name", sorted(LOADTESTS))
def test_loadtest_runs_in_a_cluster_with_valid_runner_manifests(name):
    body = run_of(LOADTESTS[name])
    validate_against(CRDS["loadtestruns"], body)
    run = read_run(body)  # also what herd run accepts but runner pods cannot do
    for manifest in (build_runner_job(run), build_runner_configmap(run)):
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


@pytest.mark.parametrize("name", sorted(LOADTESTS))
def test_loadtest_fits_the_charts_default_caps(name):
    spec = parse_loadtest(LOADTESTS[name]).spec
    assert DEFAULT_CAPS.max_requests is not None and DEFAULT_CAPS.max_parallelism is not None
    assert cap_problems(spec, DEFAULT_CAPS) == []


@pytest.mark.parametrize("name", sorted(LOADTESTS))
def test_secrets_come_from_the_environment_not_the_file(name):
    loadtest = LOADTESTS[name]
    for section in (loadtest["spec"]["target"], loadtest["spec"].get("scalingProbe") or {}):
        for header, value in (section.get("headers") or {}).items():
            if header.lower() in ("authorization", "x-api-key"):
                assert "${" in value, f"{name}: {header} holds a literal secret"
    for var in loadtest["spec"].get("runner", {}).get("env", []):
        if re.search(r"KEY|TOKEN|SECRET|PASSWORD", var["name"]):
            assert "valueFrom" in var, f"{name}: {var['name']} must come from a Secret"


@pytest.mark.parametrize(
    "path", [p for p in example_files() if any(d["kind"] != "LoadTest" for d in documents(p))]
)
def test_other_objects_in_examples_are_valid_and_hardened(path):
    for doc in documents(path):
        if doc["kind"] == "LoadTest":
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for container in pod["containers"]:
                assert container["image"].endswith(f":{__version__}"), "image of this herd"
                assert "command" not in container, "args keep tini as PID 1"
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True
                assert context["allowPrivilegeEscalation"] is False
                assert context["capabilities"]["drop"] == ["ALL"]


def sim_rehearsal() -> tuple[list[str], dict, str]:
    """The example's herd sim settings (its Deployment's args) and LoadTest."""
    docs = {doc["kind"]: doc for doc in documents(EXAMPLES / "sim-rehearsal.yaml")}
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["herd", "sim"]
    return container["args"][2:], docs["LoadTest"], "http://herd-sim:8080"


def first_load_test() -> tuple[list[str], dict, str]:
    """docs/first-load-test.md's `herd sim` command line and LoadTest."""
    text = (ROOT / "docs" / "first-load-test.md").read_text()
    command = re.search(r"\.venv/bin/herd sim (.*?) &", text)
    assert command, "the doc's herd sim command line"
    return (
        command.group(1).split(),
        doc_loadtests()["first-load-test.md[0]"],
        "http://127.0.0.1:8080",
    )


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("setup", [sim_rehearsal, first_load_test], ids=lambda f: f.__name__)
def test_rehearsal_passes_its_thresholds_against_its_herd_sim(tmp_path, setup):
    """What tests/e2e asserts in kind, here on 127.0.0.1: the same sim settings and the same
    LoadTest (run by one runner instead of two); likewise the first-load-test walkthrough."""
    sim_args, loadtest, address = setup()
    settings, args = [], iter(sim_args)
    for arg in args:  # everything but where it listens
        if arg in ("--host", "--port"):
            next(args)
        elif not arg.startswith(("--host=", "--port=")):
            settings.append(arg)
    port = free_port()
    command = [sys.executable, "-m", "herd.cli", "sim", "--port", str(port), *settings]
    local = json.loads(json.dumps(loadtest).replace(address, f"http://127.0.0.1:{port}"))
    spec_file, report_file = tmp_path / "loadtest.yaml", tmp_path / "report.json"
    spec_file.write_text(yaml.safe_dump(local))
    with child_server(command, port, "/health") as sim:
        result = subprocess.run(
            [sys.executable, "-m", "herd.cli", "run", str(spec_file), "--report", str(report_file)],
            capture_output=True,
            text=True,
            timeout=150,
        )
        with urllib.request.urlopen(f"{sim.url}/_sim/record", timeout=10) as response:
            record = json.load(response)
    report = json.loads(report_file.read_text())
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    assert report["verdict"] == "passed"
    planned = local["spec"]["load"]["requests"]
    assert report["requests"]["ok"] == planned
    assert report["client_limited"] is False, report["diagnostics"]
    # The checks tests/e2e/check_results.py makes against the sim in the cluster.
    assert len([r for r in record["requests"] if r["path"] == "/generate"]) == planned
    assert report["workers"]["distinct"] == record["summary"]["distinct_workers"]
