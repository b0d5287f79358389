"""Real simulated endpoints on 127.0.0.1, time-compressed, and a small HTTP client for them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from herd.sim import SimConfig, SimServer, start_server

WORKER_HEADER = "X-Runpod-Worker-Id"
# Milliseconds instead of seconds; idle and queue limits long enough not to fire by accident.
FAST: dict[str, Any] = {
    "service_time": 0.1,
    "cold_start": 0.2,
    "scale_up_after": 0.05,
    "scale_check_interval": 0.01,
    "idle_timeout": 5.0,
    "max_queue_wait": 5.0,
    "execution_timeout": 5.0,
    "seed": 7,
}
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class Observed:
    """What a client saw."""

    status: int
    worker: str | None  # the worker-id header
    body: dict[str, Any]
    elapsed: float


class SimClient:
    def __init__(self, session: aiohttp.ClientSession, server: SimServer) -> None:
        self.session = session
        self.server = server
        self.url = server.url

    async def call(
        self, path: str = "/predict", method: str = "POST", service_time: float | None = None
    ) -> Observed:
        payload = {"input": {"service_time": service_time}} if service_time is not None else {}
        started = time.monotonic()
        async with self.session.request(method, self.url + path, json=payload) as response:
            body = await response.json()
            return Observed(
                response.status,
                response.headers.get(WORKER_HEADER),
                body,
                time.monotonic() - started,
            )

    async def burst(self, count: int, **kwargs: Any) -> list[Observed]:
        return list(await asyncio.gather(*(self.call(**kwargs) for _ in range(count))))

    async def record(self) -> dict[str, Any]:
        async with self.session.get(self.url + "/_sim/record") as response:
            assert response.status == 200
            return await response.json()

    async def health(self) -> dict[str, Any]:
        async with self.session.get(self.url + "/health") as response:
            assert response.status == 200
            return await response.json()

    async def reset(self) -> None:
        async with self.session.post(self.url + "/_sim/reset") as response:
            assert response.status == 200

    async def wait_for_health(
        self, condition: Callable[[dict[str, Any]], bool], timeout: float = 3.0
    ) -> dict[str, Any]:
        """Poll /health until ``condition`` holds; fail with the last answer after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            health = await self.health()
            if condition(health):
                return health
            if time.monotonic() > deadline:
                raise AssertionError(f"/health never matched within {timeout}s; last: {health}")
            await asyncio.sleep(0.01)


def live_workers(health: dict[str, Any]) -> int:
    workers = health["workers"]
    return workers["initializing"] + workers["ready"]


@pytest.fixture
async def start_sim() -> AsyncIterator[Callable[..., Awaitable[SimClient]]]:
    """Start a simulated endpoint with FAST settings plus overrides; all stopped afterwards."""
    servers: list[SimServer] = []
    session = aiohttp.ClientSession(timeout=CLIENT_TIMEOUT)

    async def start(**overrides: Any) -> SimClient:
        server = await start_server(SimConfig(**{**FAST, **overrides}), "127.0.0.1", 0)
        servers.append(server)
        return SimClient(session, server)

    try:
        yield start
    finally:
        await session.close()
        for server in servers:
            await server.close()
