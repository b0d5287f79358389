"""The dashboard's Verdict panel: inconclusive is shown in its own colour, never green.

Grafana colours each series of the stat panel by the first override whose regular
expression matches its name (``{{run}}/{{runner}}: {{verdict}}``), else by the default:
only ``passed`` may be green, so a verdict the overrides do not name cannot look like one.
"""

from __future__ import annotations

import json
import re

import pytest

from herd.api.verdicts import VERDICTS
from tests.metrics.panels import DASHBOARDS


def verdict_panel(path):
    (panel,) = [p for p in json.loads(path.read_text())["panels"] if p["title"] == "Verdict"]
    return panel


def colour_of(panel: dict, series_name: str) -> str:
    """The fixed colour Grafana gives the series (its regex matchers match the whole name)."""
    config = panel["fieldConfig"]
    for override in config["overrides"]:
        matcher = override["matcher"]
        assert matcher["id"] == "byRegexp"
        if re.fullmatch(matcher["options"], series_name):
            (colour,) = [p["value"] for p in override["properties"] if p["id"] == "color"]
            return colour["fixedColor"]
    return config["defaults"]["color"]["fixedColor"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_each_verdict_has_its_colour_and_only_passed_is_green(path):
    panel = verdict_panel(path)
    (target,) = panel["targets"]
    assert target["legendFormat"] == "{{run}}/{{runner}}: {{verdict}}"
    assert "herd_run_verdict" in target["expr"] and target["expr"].endswith("== 1")
    colours = {verdict: colour_of(panel, f"lt-g1/0: {verdict}") for verdict in VERDICTS}
    assert colours == {"passed": "green", "failed": "red", "inconclusive": "orange"}
    assert colour_of(panel, "lt-g1/0: some-future-verdict") != "green"
    assert panel["options"]["textMode"] == "name"  # the verdict's word, not the value 1
