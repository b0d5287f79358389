"""The self-check says where an open loop's arrivals waited, and why some never left."""

from __future__ import annotations

from herd.engine.selfcheck import RunShape
from tests.engine.test_units import check, report_with

RATE = RunShape(
    pattern="rate", inline_uploads=False, upload_concurrency=None, mean_in_flight=4, pool_timeout=2
)
CONCURRENCY = RunShape(
    pattern="concurrency", inline_uploads=False, upload_concurrency=None, mean_in_flight=30
)
WAITS = dict(p50=0.5, p90=1.0, p95=1.0, p99=1.5, p999=1.5, min=0.1, max=1.8, mean=0.6)


def rate_report(**changes):
    return report_with(pattern="rate", concurrency__target=None, client__pool_size=4, **changes)


def test_arrivals_dropped_at_the_in_flight_cap_are_flagged_with_where_they_waited():
    report = rate_report(
        requests={"planned": 30, "sent": 22, "ok": 22, "failed": 0, "never_sent": 8},
        never_sent_reasons={"pool_timeout": 5, "load_ended": 3},
        client__pool_wait_seconds=WAITS,
        client__pool_waits=12,
    )
    limited, diagnostics = check(report, RATE)
    assert limited
    cap = diagnostics[0]
    assert cap.startswith("client-limited: arrivals waited for a free connection while ")
    assert "load.maxInFlight (4, also the client's connection pool)" in cap
    assert "12 sent late (waits up to 1.800s, p99 1.500s, counted in their latency)" in cap
    assert "5 never sent because none came free within target.poolTimeout (2s)" in cap
    assert "3 never sent because the load ended first (load_ended)" in cap
    assert "The endpoint received 22 of 30 planned requests" in cap
    assert "8 planned requests were never sent (3 load_ended, 5 pool_timeout)" in diagnostics


def test_a_loaded_cap_without_waits_or_drops_is_not_flagged():
    limited, diagnostics = check(rate_report(), RATE)
    assert not limited and diagnostics == []


def test_arrivals_the_client_was_too_busy_to_send_are_flagged():
    report = rate_report(
        requests={"planned": 30, "sent": 20, "ok": 20, "failed": 0, "never_sent": 10},
        never_sent_reasons={"behind_schedule": 10},
    )
    limited, diagnostics = check(report, RATE)
    assert limited
    assert "fell behind the arrival schedule" in diagnostics[0]
    assert "10 due before the load's end were never sent (behind_schedule)" in diagnostics[0]


def test_closed_loops_stopped_by_their_duration_are_not_blamed_on_the_client():
    report = report_with(
        pattern="concurrency",
        requests={"planned": 30, "sent": 20, "ok": 20, "failed": 0, "never_sent": 10},
        never_sent_reasons={"load_ended": 10},
        concurrency__peak_in_flight=30,
    )
    limited, diagnostics = check(report, CONCURRENCY)
    assert not limited
    assert diagnostics == ["10 planned requests were never sent (10 load_ended)"]
