"""Scaling as a user sees it over HTTP: bursts scale out, a trickle stays on one worker,
idle workers go away but never below min_workers, and /health tells the truth meanwhile."""

from __future__ import annotations

import asyncio

from tests.sim.conftest import SimClient, live_workers


async def test_burst_scales_out_and_headers_match_the_record(start_sim) -> None:
    client: SimClient = await start_sim(max_workers=6)
    responses = await client.burst(6)

    assert [r.status for r in responses] == [200] * 6
    workers = {r.worker for r in responses}
    assert len(workers) >= 3, f"a burst of 6 with room for 6 workers used only {workers}"
    record = await client.record()
    by_seq = {entry["seq"]: entry for entry in record["requests"]}
    for response in responses:
        assert response.worker == response.body["worker"]
        assert by_seq[response.body["request"]]["worker"] == response.worker
    assert record["summary"]["distinct_workers"] == len(workers)


async def test_burst_never_exceeds_max_workers(start_sim) -> None:
    client: SimClient = await start_sim(max_workers=2, service_time=0.05)
    responses = await client.burst(8)

    assert [r.status for r in responses] == [200] * 8
    summary = (await client.record())["summary"]
    assert summary["max_live_workers"] == 2
    assert summary["workers_started"] == 2
    assert sum(summary["requests_per_worker"].values()) == 8


async def test_requests_one_after_another_stay_on_one_worker(start_sim) -> None:
    # The incident's trickle: each request waits for the previous one, so a single worker
    # (even while it cold-starts past scale_up_after) serves them all.
    client: SimClient = await start_sim(max_workers=5)
    responses = [await client.call() for _ in range(6)]

    assert [r.status for r in responses] == [200] * 6
    assert len({r.worker for r in responses}) == 1
    record = await client.record()
    assert record["summary"]["workers_started"] == 1
    first, *rest = record["requests"]
    assert first["dispatched"] - first["arrival"] >= 0.19  # paid the 0.2 s cold start
    assert all(entry["dispatched"] - entry["arrival"] < 0.05 for entry in rest)


async def test_idle_workers_stop_but_not_below_min_workers(start_sim) -> None:
    client: SimClient = await start_sim(
        min_workers=1, max_workers=3, idle_timeout=0.2, cold_start=0.05, service_time=0.15
    )
    await client.burst(3)
    assert (await client.record())["summary"]["max_live_workers"] >= 2

    await client.wait_for_health(lambda health: live_workers(health) == 1, timeout=3.0)
    await asyncio.sleep(0.5)  # well past idle_timeout: the last one must stay
    health = await client.health()
    assert health["workers"]["idle"] == 1 and live_workers(health) == 1
    record = await client.record()
    still_up = [w for w in record["workers"] if w["stopped_at"] is None]
    assert len(still_up) == 1
    for worker in record["workers"]:
        if worker["stopped_at"] is not None:
            assert worker["stopped_at"] > worker["ready_at"]


async def test_min_workers_are_ready_at_start_without_cold_start(start_sim) -> None:
    client: SimClient = await start_sim(min_workers=2, max_workers=2, cold_start=1.0)
    health = await client.health()
    assert health["workers"] == {
        "idle": 2,
        "initializing": 0,
        "ready": 2,
        "running": 0,
        "throttled": 0,
        "unhealthy": 0,
    }

    responses = await client.burst(2)
    assert len({r.worker for r in responses}) == 2
    assert all(r.elapsed < 0.5 for r in responses)  # far below the 1 s cold start
    record = await client.record()
    assert all(w["ready_at"] == w["started_at"] for w in record["workers"])
    assert all(e["dispatched"] - e["arrival"] < 0.05 for e in record["requests"])


async def test_health_counts_follow_the_run(start_sim) -> None:
    client: SimClient = await start_sim(max_workers=1, cold_start=0.4, service_time=0.15)
    requests = [asyncio.create_task(client.call()) for _ in range(3)]
    try:
        waiting = await client.wait_for_health(lambda h: h["jobs"]["inQueue"] == 3)
        assert waiting["workers"]["initializing"] == 1
        assert waiting["workers"]["ready"] == 0
        assert waiting["jobs"]["inProgress"] == 0

        busy = await client.wait_for_health(lambda h: h["workers"]["running"] == 1)
        assert busy["jobs"]["inProgress"] == 1
        assert busy["jobs"]["inQueue"] + busy["jobs"]["completed"] == 2
        assert busy["workers"]["ready"] == 1 and busy["workers"]["initializing"] == 0
    finally:
        responses = await asyncio.gather(*requests)

    assert [r.status for r in responses] == [200] * 3
    health = await client.health()
    assert health["jobs"] == {
        "completed": 3,
        "failed": 0,
        "inProgress": 0,
        "inQueue": 0,
        "retried": 0,
    }
    assert health["workers"]["idle"] == 1
