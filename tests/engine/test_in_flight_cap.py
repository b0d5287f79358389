"""The open loop's in-flight cap is its connection pool (issue #12, item 4).

In pattern rate, ``load.maxInFlight`` is both the cap and the HTTP pool's size, so
an arrival due while it is full waits for a pooled connection: at most
``target.poolTimeout`` from its due time, else it is never sent (``pool_timeout``).
The wait of those that got one is reported as pool wait, counts in their latency,
and the self-check says the client, not the endpoint, set the pace. A request is
``sent`` only once it has a connection: the target's count equals ``sent``.
"""

from __future__ import annotations

import time

from tests.conftest import run_spec
from tests.engine.test_accounting import assert_exact

POOL_TIMEOUT = 0.3
MARGIN = 0.5  # share of a bound a loaded machine may add


async def test_arrivals_that_get_no_connection_in_time_are_never_sent(fresh_target):
    # 10/s into a 1 s endpoint with 2 connections: about one arrival in five finds one
    # within 0.3 s; the others give up at their pool timeout.
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/1", "poolTimeout": f"{POOL_TIMEOUT}s"},
            "load": {
                "pattern": "rate",
                "rate": 10,
                "duration": "2s",
                "maxInFlight": 2,
                "drainTimeout": "2s",
            },
        }
    )
    assert_exact(report)
    requests = report.requests
    assert requests.sent == len(fresh_target.record()) == requests.ok
    reasons = report.never_sent_reasons
    assert set(reasons) <= {"pool_timeout", "load_ended"}
    assert reasons["pool_timeout"] >= 10, reasons
    # Those that got a connection waited for it: reported as pool wait, within the
    # pool timeout, and part of their latency (counted from the due time).
    client = report.client
    assert client.pool_size == 2
    assert 1 <= client.pool_waits < requests.sent
    assert client.pool_wait_seconds.max <= POOL_TIMEOUT * (1 + MARGIN)
    assert report.latency_seconds.max >= 1.0 + client.pool_wait_seconds.max
    # ... and not as the client's own lateness.
    assert client.scheduling_lag_seconds.p50 < client.pool_wait_seconds.p50
    assert report.client_limited
    cap = [line for line in report.diagnostics if "load.maxInFlight (2" in line]
    assert cap, report.diagnostics
    assert f"{reasons['pool_timeout']} never sent" in cap[0]
    assert "target.poolTimeout (0.3s)" in cap[0]


async def test_a_run_below_the_cap_never_waits_for_a_connection(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work", "poolTimeout": "100ms"},
            "load": {"pattern": "rate", "rate": 50, "duration": "1s", "maxInFlight": 10},
        }
    )
    assert_exact(report)
    assert report.requests.ok == 50 == len(fresh_target.record())
    assert report.client.pool_waits == 0 and report.client.pool_wait_seconds is None
    assert report.never_sent_reasons == {}
    assert not report.client_limited, report.diagnostics


async def test_a_request_that_is_never_called_gives_its_connection_back(fresh_target):
    # Odd requests fail to render; with one connection, each must hand it on.
    report = await run_spec(
        {
            "target": {
                "url": f"{fresh_target.url}/work",
                "body": "{% if request.index % 2 %}{{ missing }}{% endif %}ok",
                "poolTimeout": "100ms",
            },
            "load": {"pattern": "rate", "rate": 20, "duration": "1s", "maxInFlight": 1},
        }
    )
    assert_exact(report)
    assert report.never_sent_reasons == {"template_error": 10}
    assert report.requests.ok == 10 == len(fresh_target.record())


async def test_a_client_too_busy_to_keep_up_still_ends_with_the_load(fresh_target):
    # Each body takes ~5 ms of CPU to render: the client cannot issue 1,000/s,
    # and what it has not sent by the load's end is never sent, not sent late.
    started = time.monotonic()
    report = await run_spec(
        {
            "target": {
                "url": f"{fresh_target.url}/work",
                "body": "{% for i in range(100000) %}{% endfor %}{{ request.index }}",
            },
            "load": {"pattern": "rate", "rate": 1000, "duration": "1s", "drainTimeout": "1s"},
        }
    )
    wall = time.monotonic() - started
    assert wall < (1 + 1) * (1 + MARGIN)
    assert_exact(report)
    assert report.requests.sent == len(fresh_target.record())
    assert set(report.never_sent_reasons) == {"behind_schedule"}, report.never_sent_reasons
    assert report.requests.never_sent > 0  # how many depends on the machine's speed
    assert report.client_limited
    assert any("fell behind the arrival schedule" in line for line in report.diagnostics)
