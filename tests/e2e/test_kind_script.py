"""tests/e2e/kind.sh cannot run here (no Docker daemon); these keep it honest by review:
it uses the manifests the other tests validate, and its assertions judge status correctly."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e import check_results

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "tests" / "e2e" / "kind.sh").read_text()


def variable(name: str) -> str:
    match = re.search(rf'^{name}="?([^"\n$]+)"?$', SCRIPT, re.M)
    assert match, name
    return match.group(1)


def test_script_applies_the_validated_example_and_values():
    assert 'kubectl -n "$namespace" apply -f examples/sim-rehearsal.yaml' in SCRIPT
    assert "--values tests/e2e/values-kind.yaml" in SCRIPT  # in tests/chart's VALUE_SETS
    docs = {
        d["kind"]: d for d in yaml.safe_load_all((ROOT / "examples/sim-rehearsal.yaml").read_text())
    }
    assert docs["LoadTest"]["metadata"]["name"] == variable("loadtest")
    service = docs["Service"]["metadata"]["name"]
    port_name = docs["Service"]["spec"]["ports"][0]["name"]
    assert f"services/{service}:{port_name}/proxy/_sim/record" in SCRIPT
    values = yaml.safe_load((ROOT / "tests/e2e/values-kind.yaml").read_text())
    assert variable("namespace") in values["runners"]["networkPolicy"]["namespaces"]


def test_script_builds_the_image_name_the_chart_installs():
    chart = yaml.safe_load((ROOT / "charts/herd/Chart.yaml").read_text())
    values = yaml.safe_load((ROOT / "charts/herd/values.yaml").read_text())
    assert 'image="ghcr.io/herd-dev/herd:${app_version}"' in SCRIPT
    assert values["image"]["repository"] == "ghcr.io/herd-dev/herd"
    sed = re.search(r"app_version=\"\$\(sed -n '([^']+)'", SCRIPT).group(1)
    result = subprocess.run(
        ["sed", "-n", sed, str(ROOT / "charts/herd/Chart.yaml")], capture_output=True, text=True
    )
    assert result.stdout.strip() == chart["appVersion"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed to parse the script")
def test_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "tests/e2e/kind.sh")], check=True)


def _cluster_state(ok: int = 20, verdict: str = "passed", sim_workers: int = 4) -> dict:
    spec = yaml.safe_load_all((ROOT / "examples/sim-rehearsal.yaml").read_text())
    loadtest = next(doc for doc in spec if doc["kind"] == "LoadTest")
    planned = loadtest["spec"]["load"]["requests"]
    thresholds = [{"expr": t, "value": 0.0, "passed": True} for t in loadtest["spec"]["thresholds"]]
    run = {
        "metadata": {"name": "sim-rehearsal-g1"},
        "spec": {"loadTestName": "sim-rehearsal", "loadTest": loadtest["spec"]},
        "status": {
            "phase": "Succeeded",
            "verdict": verdict,
            "conditions": [
                {"type": "Succeeded", "status": "True"},
                {"type": "Failed", "status": "False"},
                {"type": "ThresholdsPassed", "status": "True" if verdict == "passed" else "False"},
            ],
            "results": {
                "runnersReported": 2,
                "requests": {"planned": planned, "ok": ok, "failed": planned - ok, "neverSent": 0},
                "latency": {"p95": 7.5},
                "thresholds": thresholds,
                "workers": {"distinct": 4},
            },
        },
    }
    status = {"phase": "Succeeded", "lastRun": "sim-rehearsal-g1", "summary": {"verdict": verdict}}
    record = {
        "summary": {"distinct_workers": sim_workers},
        "requests": [{"path": "/generate"}] * planned + [{"path": "/health"}],
    }
    return {"lt_json": {"status": status}, "run_json": run, "record_json": record}


@pytest.mark.parametrize(
    ("state", "passes"),
    [
        ({}, True),
        ({"verdict": "failed"}, False),
        ({"ok": 19}, False),
        ({"sim_workers": 3}, False),  # herd reported workers the endpoint did not have
    ],
    ids=["passed", "verdict-failed", "a-request-failed", "workers-disagree"],
)
def test_result_checks_judge_status_and_the_sims_record(monkeypatch, capsys, state, passes):
    for name, value in _cluster_state(**state).items():
        monkeypatch.setenv(name, json.dumps(value))
    assert (check_results.main() == 0) is passes, capsys.readouterr().out
