"""``herd run`` loads only what a load needs: not the Kubernetes client, not kopf.

Each costs a runner process about 40 MB and a second of start-up, and a laptop install
(issue #17) will not have them. ``-X importtime`` lists every module the run imported.
"""

from __future__ import annotations

import subprocess
import sys

from tests.cli.helpers import write_spec

OPERATOR_ONLY = ("kubernetes", "kopf")


def test_a_local_run_imports_no_operator_machinery(fresh_target, tmp_path):
    spec = {"target": {"url": f"{fresh_target.url}/"}, "load": {"pattern": "burst", "requests": 2}}
    command = [sys.executable, "-X", "importtime", "-m", "herd.cli", "run", "-q"]
    command += ["--processes", "1", str(write_spec(tmp_path, spec))]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert len(fresh_target.record()) == 2  # the run happened
    loaded = sorted(name for name in imported if name.split(".")[0] in OPERATOR_ONLY)
    assert loaded == []


def test_herd_report_imports_no_operator_machinery(tmp_path):
    saved = tmp_path / "nothing-here"
    saved.mkdir()
    command = [sys.executable, "-X", "importtime", "-m", "herd.cli", "report", str(saved)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no runner results" in result.stderr  # it read the source
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "herd.results.source" in imported
    assert sorted(name for name in imported if name.split(".")[0] in OPERATOR_ONLY) == []
