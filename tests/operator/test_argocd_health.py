"""The Argo CD health checks (argocd/*.lua, which the chart renders and the docs show),
run with a Lua interpreter on statuses the operator writes (skipped where no ``lua`` is
installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "argocd-health.md"
CHECKS = ROOT / "argocd"
LUA = shutil.which("lua5.4") or shutil.which("lua5.1") or shutil.which("lua")
needs_lua = pytest.mark.skipif(LUA is None, reason="no Lua interpreter installed (lua5.4)")
KEY = "resource.customizations.health.herd.dev_"


def checks() -> dict[str, str]:
    """Kind -> its health check's Lua, from argocd/herd.dev_KIND.lua."""
    return {path.stem.rsplit("_", 1)[1]: path.read_text() for path in CHECKS.glob("*.lua")}


def doc_blocks() -> list[dict]:
    return [
        yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    ]


def test_the_docs_and_the_chart_carry_the_checks_as_they_are():
    from tests.chart.rendering import render

    expected = {KEY + kind: script for kind, script in checks().items()}
    assert set(expected) == {KEY + "LoadTest", KEY + "LoadTestRun"}
    config_map, argo_cd_values = doc_blocks()[:2]
    assert config_map["data"] == expected  # the argocd-cm one applies by hand
    assert argo_cd_values["configs"]["cm"] == expected  # the argo-cd chart's values
    rendered = render({"argocd": {"healthChecks": {"enabled": True}}})
    argocd_cm = [
        o for o in rendered if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "argocd-cm"
    ]
    assert len(argocd_cm) == 1 and argocd_cm[0]["data"] == expected
    assert argocd_cm[0]["metadata"]["namespace"] == "argocd"
    assert argocd_cm[0]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert not [o for o in render({}) if o["metadata"]["name"] == "argocd-cm"]  # opt-in


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
@needs_lua
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
@needs_lua
def test_loadtest_health(status, expected):
    assert health("LoadTest", {"status": status}) == expected
