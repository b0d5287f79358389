"""Every dashboard query and alert rule parses with ``promtool``; the rules pass their tests."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.metrics.panels import (
    ALERT_RULES,
    ALERT_TESTS,
    DASHBOARDS,
    fill,
    panel_queries,
    variable_queries,
)
from tests.metrics.servers import binary

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(60)]

ALL = {"namespace": ".*", "loadtest": ".*", "run": ".*"}


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary("promtool", "prometheus"), *args], capture_output=True, text=True, timeout=30
    )


def test_there_is_a_dashboard_with_namespace_loadtest_and_run_variables():
    assert DASHBOARDS
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        names = [variable["name"] for variable in dashboard["templating"]["list"]]
        assert names == ["datasource", "namespace", "loadtest", "run"], path
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_every_dashboard_query_parses(path, tmp_path):
    queries = [*panel_queries(path), *variable_queries(path)]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"herd:dashboard_query_{n}", "expr": fill(expr, ALL, "1m")}
                    for n, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    rules_file = tmp_path / "queries.rules.json"
    rules_file.write_text(json.dumps(rules))  # JSON is YAML
    checked = promtool("check", "rules", str(rules_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(queries)} rules found" in checked.stdout


def test_alert_rules_parse_and_pass_their_unit_tests():
    checked = promtool("check", "rules", str(ALERT_RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(ALERT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
