"""The ground-truth record agrees exactly with what clients saw, stays bounded, and resets."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import aiohttp

from herd.sim import SimConfig, start_server
from tests.sim.conftest import SimClient, live_workers


async def test_record_equals_what_clients_observed_exactly(start_sim) -> None:
    client: SimClient = await start_sim(
        max_workers=2,
        cold_start=0.05,
        service_time=0.05,
        max_queue_wait=0.15,
        execution_timeout=0.2,
    )
    burst = [client.call(service_time=0.3 if i % 4 == 0 else None) for i in range(10)]
    observed = list(await asyncio.gather(*burst))
    observed += [await client.call(path=f"/step/{i}", method="GET") for i in range(3)]
    observed.append(await client.call(service_time=0.3))  # certainly a 524

    statuses = Counter(str(r.status) for r in observed)
    assert {"200", "400", "524"} <= set(statuses), statuses
    per_worker = Counter(r.worker for r in observed if r.worker is not None)

    record = await client.record()
    summary = record["summary"]
    assert summary["total_requests"] == len(observed)
    assert summary["status_counts"] == dict(statuses)
    assert summary["requests_per_worker"] == dict(per_worker)
    assert summary["distinct_workers"] == len(per_worker)
    assert summary["max_live_workers"] <= 2
    assert sum(w["served"] for w in record["workers"]) == sum(per_worker.values())

    entries = {entry["seq"]: entry for entry in record["requests"]}
    for response in observed:
        if "request" in response.body:
            entry = entries[response.body["request"]]
            assert (entry["status"], entry["worker"]) == (response.status, response.worker)
    for entry in record["requests"]:
        assert entry["arrival"] <= (entry["dispatched"] or entry["arrival"]) <= entry["ended"]
    health = await client.health()
    assert health["jobs"]["completed"] == statuses["200"]
    assert health["jobs"]["failed"] == statuses["400"] + statuses["524"]


async def test_record_keeps_details_up_to_the_limit_and_counts_the_rest(start_sim) -> None:
    client: SimClient = await start_sim(record_limit=2, cold_start=0.0, service_time=0.01)
    responses = [await client.call() for _ in range(5)]

    record = await client.record()
    assert [entry["seq"] for entry in record["requests"]] == [1, 2]
    assert record["requests_detail"] == {
        "limit": 2,
        "recorded": 2,
        "dropped": 3,
        "truncated": True,
    }
    assert record["summary"]["total_requests"] == 5
    assert record["summary"]["status_counts"] == {"200": 5}
    assert record["summary"]["requests_per_worker"] == {responses[0].worker: 5}


async def test_reset_clears_the_record_and_restarts_the_pool(start_sim) -> None:
    client: SimClient = await start_sim(min_workers=1, max_workers=3, service_time=0.05)
    await client.burst(4)
    before = await client.record()
    assert before["summary"]["workers_started"] >= 2

    await client.reset()
    record = await client.record()
    assert record["summary"]["total_requests"] == 0
    assert record["requests"] == []
    [warm] = record["workers"]
    assert warm["ready_at"] == warm["started_at"]
    assert (await client.health())["workers"]["idle"] == 1

    response = await client.call()
    assert response.status == 200 and response.body["request"] == 1
    assert response.worker == warm["id"]


async def test_reset_answers_requests_in_flight(start_sim) -> None:
    client: SimClient = await start_sim(cold_start=1.0)
    pending = asyncio.create_task(client.call())
    await client.wait_for_health(lambda health: health["jobs"]["inQueue"] == 1)
    await client.reset()

    response = await asyncio.wait_for(pending, timeout=2.0)
    assert response.status == 503
    assert response.body == {"error": "simulation reset"}
    assert live_workers(await client.health()) == 0
    assert (await client.record())["summary"]["total_requests"] == 0


async def test_same_seed_gives_the_same_worker_ids(start_sim) -> None:
    first: SimClient = await start_sim(seed=11, cold_start=0.0, service_time=0.01)
    second: SimClient = await start_sim(seed=11, cold_start=0.0, service_time=0.01)
    one, two = await first.call(), await second.call()
    assert one.worker == two.worker
    assert one.worker is not None and re.fullmatch(r"[a-z0-9]{14}", one.worker)


async def test_shutdown_answers_in_flight_requests_and_leaves_no_tasks() -> None:
    config = SimConfig(cold_start=0.0, service_time=30.0, max_workers=1, seed=1)
    server = await start_server(config, "127.0.0.1", 0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def call() -> int:
            async with session.post(server.url + "/predict") as response:
                await response.read()
                return response.status

        calls = [asyncio.create_task(call()) for _ in range(2)]  # one processing, one queued
        deadline = asyncio.get_running_loop().time() + 3
        while server.simulation.health()["jobs"]["inQueue"] < 1:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        await asyncio.wait_for(server.close(), timeout=3.0)
        results = await asyncio.gather(*calls, return_exceptions=True)

    assert all(r == 503 or isinstance(r, aiohttp.ClientError) for r in results), results
    assert asyncio.all_tasks() == {asyncio.current_task()}
