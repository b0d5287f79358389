"""Queue and execution timeouts answer like RunPod; /runsync reports the times it really took."""

from __future__ import annotations

import io

import aiohttp

from tests.sim.conftest import WORKER_HEADER, SimClient


async def test_queue_wait_beyond_limit_is_400_and_recorded(start_sim) -> None:
    client: SimClient = await start_sim(max_workers=1, cold_start=1.0, max_queue_wait=0.1)
    response = await client.call()

    assert response.status == 400
    assert response.body == {"error": "no workers available"}
    assert response.worker is None
    assert 0.09 <= response.elapsed < 0.5
    record = await client.record()
    [entry] = record["requests"]
    assert (entry["status"], entry["worker"], entry["dispatched"]) == (400, None, None)
    assert record["summary"]["status_counts"] == {"400": 1}
    assert (await client.health())["jobs"]["failed"] == 1


async def test_queued_behind_a_busy_worker_times_out(start_sim) -> None:
    client: SimClient = await start_sim(
        max_workers=1, cold_start=0.0, service_time=0.3, max_queue_wait=0.1
    )
    first, second = await client.burst(2)

    assert sorted([first.status, second.status]) == [200, 400]
    record = await client.record()
    assert record["summary"]["status_counts"] == {"200": 1, "400": 1}
    assert record["summary"]["workers_started"] == 1


async def test_processing_beyond_execution_timeout_is_524(start_sim) -> None:
    client: SimClient = await start_sim(cold_start=0.0, execution_timeout=0.1)
    slow = await client.call(service_time=0.4)
    quick = await client.call(service_time=0.02)

    assert slow.status == 524
    assert slow.worker is not None  # a worker handled it, so it names itself
    assert slow.elapsed < 0.35  # answered at the timeout, not when processing would end
    assert quick.status == 200
    record = await client.record()
    assert [e["status"] for e in record["requests"]] == [524, 200]
    assert record["requests"][0]["worker"] == slow.worker


async def test_runsync_reports_queue_and_execution_times_of_the_record(start_sim) -> None:
    client: SimClient = await start_sim(cold_start=0.15, service_time=0.1)
    jobs = []
    for _ in range(2):  # the first waits for a cold start, the second finds a warm worker
        async with client.session.post(client.url + "/runsync", json={"input": {}}) as response:
            assert response.status == 200
            jobs.append((response.headers[WORKER_HEADER], await response.json()))

    record = await client.record()
    for (header, job), entry in zip(jobs, record["requests"], strict=True):
        assert job["status"] == "COMPLETED" and job["id"].startswith("sync-")
        assert job["workerId"] == header == entry["worker"]
        assert job["output"] == {"ok": True, "worker": header, "request": entry["seq"]}
        queue_ms = (entry["dispatched"] - entry["arrival"]) * 1000
        execution_ms = (entry["ended"] - entry["dispatched"]) * 1000
        assert abs(job["delayTime"] - queue_ms) <= 2
        assert abs(job["executionTime"] - execution_ms) <= 2
        assert 95 <= job["executionTime"] < 300
    assert jobs[0][1]["delayTime"] >= 140  # the 150 ms cold start
    assert jobs[1][1]["delayTime"] < 50
    assert jobs[0][1]["id"] != jobs[1][1]["id"]


async def test_runsync_queue_timeout_is_400(start_sim) -> None:
    client: SimClient = await start_sim(cold_start=1.0, max_queue_wait=0.1)
    async with client.session.post(client.url + "/runsync", json={}) as response:
        assert response.status == 400
        assert await response.json() == {"error": "no workers available"}


async def test_request_body_is_read_before_queuing(start_sim) -> None:
    client: SimClient = await start_sim(cold_start=0.0, service_time=0.01)
    body = io.BytesIO(b"x" * (3 * 1024 * 1024))  # more than aiohttp's 1 MiB default limit
    async with client.session.put(client.url + "/upload", data=body) as response:
        assert response.status == 200
        assert response.headers[WORKER_HEADER] == (await response.json())["worker"]
    [entry] = (await client.record())["requests"]
    assert (entry["method"], entry["path"], entry["status"]) == ("PUT", "/upload", 200)


async def test_oversized_body_is_refused_before_queuing(start_sim) -> None:
    client: SimClient = await start_sim(max_body_bytes=1024)
    async with client.session.post(client.url + "/predict", data=b"x" * 4096) as response:
        assert response.status == 413
    assert (await client.record())["summary"]["total_requests"] == 0


async def test_health_and_sim_routes_are_not_recorded(start_sim) -> None:
    client: SimClient = await start_sim()
    await client.health()
    await client.record()
    async with aiohttp.ClientSession() as other:
        async with other.get(client.url + "/health") as response:
            assert response.status == 200
    assert (await client.record())["summary"]["total_requests"] == 0
