"""``herd operator`` at its most verbose prints no credential: not the API token it
holds, not a password written into a LoadTest's URL, nothing shaped like a key."""

from __future__ import annotations

import json
import re
from pathlib import Path

from herd_operator.kube import LOADTESTS, RUNS, Resource
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, STARTUP_ALLOWANCE, Cluster
from tests.operator_e2e.loadtests import burst_spec, loadtest
from tests.operator_e2e.operators import start_operator_process

EVENTS = Resource("", "v1", "events")
API_TOKEN = "sk-hunt-kube-token-4b7e0c2d9a"
PASSWORD = "literal-hunt-pass-e3a915"
CREDENTIAL_SHAPES = re.compile(
    r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}|credential=|signature=|authorization:", re.IGNORECASE
)


async def test_operator_debug_log_and_runner_output_hold_no_credential(
    cluster: Cluster, fresh_target, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig-with-token"
    kubeconfig.write_text(cluster.kubeconfig.read_text().replace("not-checked", API_TOKEN))
    log = tmp_path / "operator.log"
    operator = start_operator_process(kubeconfig, STARTUP_ALLOWANCE, log, options=("-vv",))
    try:
        await operator.wait_ready()
        url = fresh_target.url.replace("http://", f"http://herd:{PASSWORD}@")
        await cluster.api.create(LOADTESTS, loadtest("hunt", burst_spec(url, requests=3)))

        async def settled() -> dict:
            """Refused (a URL password may be) or run to its end."""
            status = ((await cluster.api.get(LOADTESTS, NAMESPACE, "hunt")) or {}).get("status")
            if (status or {}).get("phase") == "Invalid":
                return status
            run = ((await cluster.api.get(RUNS, NAMESPACE, "hunt-g1")) or {}).get("status")
            return run if (run or {}).get("phase") in ("Succeeded", "Failed") else {}

        await eventually(settled, 40, "the LoadTest refused or its run finished")
    finally:
        operator.stop()

    outputs = {"operator log": log.read_text(errors="replace")}
    assert " DEBUG kopf" in outputs["operator log"]  # kopf's debug output was on
    for name, resource in (("LoadTest", LOADTESTS), ("run", RUNS)):
        objects = await cluster.api.list(resource, NAMESPACE)
        outputs[f"{name} status"] = json.dumps([obj.get("status") for obj in objects])
    events = await cluster.api.list(EVENTS, NAMESPACE)
    outputs["events"] = json.dumps([event.get("message") for event in events])
    for path in sorted((tmp_path / "nodes").rglob("*")):
        if path.is_file() and path.suffix != ".yaml":  # the LoadTest itself is the input
            outputs[str(path.relative_to(tmp_path))] = path.read_text(errors="replace")

    found = []
    for where, text in outputs.items():
        found += [f"{where}: {value}" for value in (API_TOKEN, PASSWORD) if value in text]
        found += [f"{where}: {match[0]}" for match in CREDENTIAL_SHAPES.finditer(text)]
    assert found == []
