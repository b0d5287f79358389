"""The Argo CD health checks in docs/argocd-health.md, run with a Lua interpreter on
statuses the operator writes (skipped where no ``lua`` is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "argocd-health.md"
LUA = shutil.which("lua5.4") or shutil.which("lua5.1") or shutil.which("lua")
pytestmark = pytest.mark.skipif(LUA is None, reason="no Lua interpreter installed")


def checks() -> dict[str, str]:
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    data = yaml.safe_load(block.group(1))["data"]
    return {key.rsplit("_", 1)[1]: script for key, script in data.items()}


def lua_value(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_value(k)}] = {lua_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):  # a Lua sequence, indexed from 1 as Argo CD's Lua has it
        return "{" + ", ".join(lua_value(item) for item in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def health_and_message(kind: str, obj: dict) -> tuple[str, str]:
    """What Argo CD would show for ``obj``: its health status and message."""
    program = (
        f"obj = {lua_value(obj)}\n"
        f"local function check()\n{checks()[kind]}\nend\n"
        'local hs = check()\nio.write(hs.status, "\\n", hs.message)\n'
    )
    output = subprocess.run(
        [LUA, "-"], input=program, capture_output=True, text=True, check=True
    ).stdout
    health, message = output.split("\n", 1)
    return health, message


def health(kind: str, obj: dict) -> str:
    return health_and_message(kind, obj)[0]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, "Progressing"),
        ({"phase": "Running"}, "Progressing"),
        ({"phase": "Succeeded", "verdict": "passed"}, "Healthy"),
        ({"phase": "Succeeded", "verdict": "failed"}, "Degraded"),
        ({"phase": "Succeeded", "verdict": "inconclusive"}, "Degraded"),
        ({"phase": "Failed", "message": "runner 2 was OOM-killed"}, "Degraded"),
        ({"phase": "Invalid"}, "Degraded"),
    ],
)
def test_run_health(status, expected):
    assert health("LoadTestRun", {"status": status} if status else {}) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"phase": "Scheduled"}, "Progressing"),
        ({"phase": "Idle"}, "Healthy"),
        ({"phase": "Succeeded", "summary": {"verdict": "passed"}}, "Healthy"),
        ({"phase": "Succeeded", "summary": {"verdict": "failed"}}, "Degraded"),
        ({"phase": "Succeeded", "summary": {"verdict": "inconclusive"}}, "Degraded"),
        ({"phase": "Invalid", "message": "spec.parallelism: …"}, "Degraded"),
    ],
)
def test_loadtest_health(status, expected):
    assert health("LoadTest", {"status": status}) == expected
