"""The HTML report opens offline and shows the run's story."""

from __future__ import annotations

import re

from herd.views.html import render_html
from tests.conftest import run_spec


async def test_html_report_is_self_contained_and_plots_the_run(fresh_target, tmp_path):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/status/503"},
            "load": {"pattern": "rate", "rate": 40, "duration": "1s"},
            "scalingProbe": {"url": f"{fresh_target.url}/health", "interval": "200ms"},
            "thresholds": ["error_rate < 1%"],
        }
    )
    page = render_html(report)
    # Offline: no script or stylesheet is fetched from anywhere.
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=\"http", page)
    assert "plotly" in page.lower()
    for title in (
        "Requests in flight",
        "Latency from intended start",
        "Errors by class",
        "reported by the provider",
        "Objects staged",
    ):
        assert title in page
    assert "http_503" in page  # the error class is plotted and listed
    assert "provider: running" in page  # probe series drawn
    assert ">failed<" in page  # verdict shown


def test_an_inconclusive_verdict_is_never_green_and_says_why():
    from tests.engine.test_units import report_with

    why = "client-limited: the burst took 4.000s to leave the client"
    page = render_html(
        report_with(
            verdict="inconclusive", verdict_reason=why, client_limited=True, diagnostics=[why]
        )
    )
    assert "h1 span { color: #bc4c00; }" in page  # orange, as on the dashboard
    assert "<span>inconclusive</span>" in page
    assert f"<td>inconclusive: {why}</td>" in page
