"""Worker ids are short safe tokens: whatever a response carries where they are read,
nothing readable of it reaches a report, summary or request log, and every worker is
still counted once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from herd.engine.worker_ids import WorkerIds, safe_worker_id
from tests.support.recording_target import LEAKY_SECRET

READ_FROM = [
    pytest.param({}, id="header"),
    pytest.param({"header": None, "jsonPath": "$.worker"}, id="json-object"),
    pytest.param({"header": None, "jsonPath": "$.label"}, id="json-long-string"),
]


@pytest.mark.parametrize("worker_id", READ_FROM)
def test_a_secret_in_a_worker_id_never_reaches_the_outputs(fresh_target, tmp_path, worker_id):
    spec = tmp_path / "loadtest.yaml"
    spec.write_text(
        json.dumps(
            {
                "apiVersion": "herd.dev/v1alpha1",
                "kind": "LoadTest",
                "metadata": {"name": "leaky"},
                "spec": {
                    # Four overlapping requests: four workers, each with its own secret.
                    "target": {"url": f"{fresh_target.url}/leaky/0.3", "workerId": worker_id},
                    "load": {"pattern": "burst", "requests": 4},
                },
            }
        )
    )
    outputs = {name: tmp_path / name for name in ("report.json", "summary", "log", "r.html")}
    herd = Path(sys.executable).with_name("herd")
    done = subprocess.run(
        [
            str(herd),
            "run",
            "--processes",
            "1",
            "--report",
            str(outputs["report.json"]),
            "--summary",
            str(outputs["summary"]),
            "--requests-log",
            str(outputs["log"]),
            "--html",
            str(outputs["r.html"]),
            str(spec),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert LEAKY_SECRET not in done.stdout + done.stderr
    for name, path in outputs.items():
        assert LEAKY_SECRET not in path.read_text(), name
    report = json.loads(outputs["report.json"].read_text())
    assert report["workers"]["distinct"] == 4
    assert all(worker.startswith("h-") for worker in report["workers"]["requests"])
    summary = json.loads(outputs["summary"].read_text())
    assert summary["wd"] == 4


def test_plain_ids_pass_unchanged_and_others_become_stable_hashes():
    for plain in ("w0", "8n7s5gq4k3xz1a", "pod-7f9c/worker.2", "10.0.0.7:8080", "a" * 64):
        assert safe_worker_id(plain) == plain
    for unsafe in ("a" * 65, "has space", "-leading-dash", "ünï", "", "tab\there"):
        hashed = safe_worker_id(unsafe)
        assert hashed.startswith("h-") and len(hashed) == 18 and hashed != unsafe
        assert safe_worker_id(unsafe) == hashed  # the same worker stays one worker
    ids = WorkerIds()
    assert ids.from_json({"id": "w1", "password": "x"}) == ids.from_json(
        {"password": "x", "id": "w1"}
    )
    assert ids.from_json({"id": "w1"}) != ids.from_json({"id": "w2"})
    assert ids.from_json(["w1"]).startswith("h-")
    assert ids.from_json(7) == "7"
