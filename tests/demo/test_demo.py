"""``herd demo`` tells the incident's story, and its numbers are the endpoint's own."""

from __future__ import annotations

import json

import pytest

from herd.demo.run import run_demo, write_reports


@pytest.mark.slow
async def test_demo_replays_the_incident_then_fixes_it(tmp_path):
    incident, fixed = await run_demo()
    write_reports([incident, fixed], tmp_path)

    # As the incident's script did it: calls trickled in, one worker, queue timeouts.
    assert incident.report.client_limited
    assert any("waited for their own S3 uploads" in line for line in incident.report.diagnostics)
    assert incident.report.workers.distinct == 1
    assert incident.report.errors.get("http_400", 0) >= 1
    assert incident.truth.arrival_spread > 10
    # Its thresholds cannot judge the endpoint on a trickle: inconclusive, never passed.
    assert incident.report.verdict == "inconclusive"
    assert "waited for their own S3 uploads" in incident.report.verdict_reason

    # With herd: staged first, released together, scaled out, nothing failed.
    assert not fixed.report.client_limited, fixed.report.diagnostics
    assert fixed.report.requests.failed == 0
    assert fixed.report.workers.distinct >= 4
    assert fixed.truth.arrival_spread < 0.1
    assert fixed.report.verdict == "passed", fixed.report.verdict_reason

    for run in (incident, fixed):
        # herd's numbers are exactly what the endpoint recorded.
        assert run.report.workers.requests == run.truth.requests_per_worker
        assert run.report.workers.distinct == run.truth.distinct_workers
        assert run.report.status_codes == run.truth.status_counts
        assert run.report.scaling_probe.samples > 0
        written = json.loads((tmp_path / f"{run.report.loadtest}.json").read_text())
        assert written["requests"] == run.report.requests.model_dump()
        assert (tmp_path / f"{run.report.loadtest}.html").stat().st_size > 100_000
