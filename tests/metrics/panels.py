"""The shipped dashboards' queries, with Grafana's variables filled in for a test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.support.servers import REPO

DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
ALERT_RULES = REPO / "alerts" / "herd.rules.yaml"
ALERT_TESTS = REPO / "alerts" / "herd.rules.test.yaml"

_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


def panel_queries(path: Path) -> Iterator[tuple[str, str]]:
    """``("<panel title> <refId>", expr)`` for every target of every panel."""
    for panel in json.loads(path.read_text())["panels"]:
        for target in panel.get("targets", []):
            yield f"{panel['title']} {target['refId']}", target["expr"]


def variable_queries(path: Path) -> Iterator[tuple[str, str]]:
    """Template variables' ``label_values(selector, label)`` as PromQL: ``count by (label)``."""
    for variable in json.loads(path.read_text())["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = _LABEL_VALUES.match(variable["definition"])
        assert match, f"{variable['name']}: only label_values(...) variables are checked"
        yield variable["name"], f"count by ({match['label']}) ({match['selector']})"


def fill(expr: str, variables: Mapping[str, str], rate_interval: str) -> str:
    """Replace ``$name`` as Grafana would (regex values for ``=~``) and ``$__rate_interval``."""
    expr = expr.replace("$__rate_interval", rate_interval)
    for name, value in variables.items():
        expr = expr.replace(f"${name}", value)
    assert "$" not in expr, f"unfilled variable in {expr}"
    return expr
