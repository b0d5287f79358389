"""Every planned request leaves the client once: an endpoint that hangs up gets no
second copy (aiohttp resends idempotent requests on a broken connection by default)."""

from __future__ import annotations

import pytest

from herd.engine.calls import open_session
from tests.conftest import run_spec
from tests.engine.test_accounting import assert_exact

HANG_UPS = [
    pytest.param("GET", "/abort", {"pattern": "burst", "requests": 6}, id="burst"),
    pytest.param(
        "GET",
        "/abort",
        {"pattern": "burst", "requests": 6, "preconnect": False},
        id="burst-without-preconnect",
    ),
    pytest.param("GET", "/abort", {"pattern": "rate", "rate": 12, "duration": "500ms"}, id="rate"),
    pytest.param(
        "PUT", "/abort", {"pattern": "concurrency", "concurrency": 2, "requests": 6}, id="put"
    ),
    pytest.param(
        "DELETE", "/reset", {"pattern": "concurrency", "concurrency": 1, "requests": 6}, id="reset"
    ),
]


@pytest.mark.parametrize(("method", "path", "load"), HANG_UPS)
async def test_an_endpoint_that_hangs_up_gets_each_request_once(fresh_target, method, path, load):
    report = await run_spec(
        {"target": {"url": f"{fresh_target.url}{path}", "method": method}, "load": load}
    )
    arrived = len(fresh_target.record())
    assert_exact(report)
    assert arrived == report.requests.sent == report.requests.planned == 6
    assert report.errors == {"disconnected": 6}
    assert report.requests.ok == 0


async def test_the_scaling_probe_polls_an_endpoint_that_hangs_up_once_per_poll(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work"},
            "load": {"pattern": "rate", "rate": 10, "duration": "1s"},
            "scalingProbe": {"url": f"{fresh_target.url}/abort", "interval": "200ms"},
        }
    )
    probe = report.scaling_probe
    assert probe is not None and probe.samples == 0 and probe.failures >= 3
    polls = [entry for entry in fresh_target.record() if entry["path"] == "/abort"]
    assert len(polls) == probe.failures


async def test_the_session_has_aiohttps_retry_turned_off():
    # The behaviour is what the tests above check; this names the switch herd relies
    # on, so an aiohttp that renames or drops it fails here with the reason in view.
    async with open_session(pool_size=1, connect_timeout=1.0) as session:
        assert session._retry_connection is False


async def test_a_redirect_is_counted_and_never_followed(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/redirect"},
            "load": {"pattern": "burst", "requests": 5},
        }
    )
    arrivals = fresh_target.record()
    assert [arrival["path"] for arrival in arrivals] == ["/redirect"] * 5
    assert report.requests.sent == 5
    assert report.status_codes == {"302": 5}
    assert any("redirects (3xx)" in line for line in report.diagnostics)
