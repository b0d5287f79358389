"""A burst's connections are opened before its barrier and its requests leave together.

The server here is a bare HTTP/1.1 responder on 127.0.0.1 that notes, per
connection, when it was accepted and when each request's bytes arrived: what a
load balancer in front of an autoscaling endpoint would see.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field

import aiohttp
import pytest

from herd.engine.burst_release import HeldBurst
from herd.engine.calls import open_session
from herd.engine.records import now
from tests.conftest import run_spec

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@dataclass
class Seen:
    accepted: list[float] = field(default_factory=list)
    requests: list[float] = field(default_factory=list)  # when each request's head arrived
    accepted_wall: list[float] = field(default_factory=list)  # time.time(), for release times


class _Responder(asyncio.Protocol):
    def __init__(self, seen: Seen):
        self._seen = seen
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._seen.accepted.append(now())
        self._seen.accepted_wall.append(time.time())

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while b"\r\n\r\n" in self._buffer:  # bodiless requests: the head is the request
            _, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
            self._seen.requests.append(now())
            self._transport.write(_RESPONSE)


@pytest.fixture
async def responder():
    seen = Seen()
    server = await asyncio.get_running_loop().create_server(
        lambda: _Responder(seen), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/", seen
    finally:
        server.close()
        await server.wait_closed()


async def test_a_burst_takes_only_connections_opened_before_its_barrier(responder):
    url, seen = responder
    report = await run_spec({"target": {"url": url}, "load": {"pattern": "burst", "requests": 200}})
    assert report.requests.ok == 200 == len(seen.requests)
    assert len(seen.accepted) == 200
    assert max(seen.accepted) < min(seen.requests)  # no handshake after the barrier


async def test_without_preconnect_each_request_opens_its_connection_after_the_barrier(responder):
    url, seen = responder
    spec = {"target": {"url": url}, "load": {"pattern": "burst", "requests": 200}}
    spec["load"]["preconnect"] = False
    report = await run_spec(spec)
    assert report.requests.ok == 200 == len(seen.requests) == len(seen.accepted)
    assert max(seen.accepted) > min(seen.requests)  # connecting went on while requests arrived


async def test_for_a_fixed_release_time_connections_open_shortly_before_it(responder, monkeypatch):
    """Runners of one run wait for a shared release time while the others start up: the
    burst's connections must not idle through that wait (keep-alive timeouts close them)."""
    from herd.engine import run

    monkeypatch.setattr(run, "_PREPARE_AHEAD", 0.3)
    url, seen = responder
    release_at = time.time() + 1.5
    spec = {"target": {"url": url}, "load": {"pattern": "burst", "requests": 20}}
    report = await run_spec(spec, release_at=release_at)
    assert report.requests.ok == 20 == len(seen.accepted)
    assert min(seen.accepted_wall) >= release_at - 0.3 - 0.05  # not right after staging
    assert max(seen.accepted) < min(seen.requests)  # and still all before the barrier


@pytest.mark.skipif(not hasattr(socket, "TCP_CORK"), reason="TCP_CORK is Linux's")
async def test_held_requests_wait_in_the_kernel_until_let_go(responder):
    url, seen = responder
    async with open_session(20, connect_timeout=5, trace_wire=True) as session:
        held = await HeldBurst.prepare(session, url, 20)
        assert held.opened == 20 and len(seen.accepted) == 20

        async def one() -> aiohttp.ClientResponse:
            async with session.get(url) as response:
                await response.read()
                return response

        calls = [asyncio.ensure_future(one()) for _ in range(20)]
        await asyncio.sleep(0.02)  # every request written; the kernel holds them (up to 200 ms)
        assert seen.requests == []
        let_go = now()
        held.let_go()
        responses = await asyncio.wait_for(asyncio.gather(*calls), timeout=10)
    assert len(seen.requests) == 20 and min(seen.requests) >= let_go
    # Each request's departure is when its connection was let go, not when it was written.
    departures = [held.left_at(r.sent_over, r.request_sent_at) for r in responses]
    assert all(let_go <= left <= min(seen.requests) + 1 for left in departures)
    assert all(left > r.request_sent_at for left, r in zip(departures, responses, strict=True))


async def test_connections_that_cannot_be_opened_are_left_to_their_requests():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    async with open_session(5, connect_timeout=5) as session:
        held = await HeldBurst.prepare(session, url, 5)
    assert held.opened == 0
    report = await run_spec({"target": {"url": url}, "load": {"pattern": "burst", "requests": 5}})
    assert report.requests.model_dump() == {
        "planned": 5,
        "sent": 5,
        "ok": 0,
        "failed": 5,
        "never_sent": 0,
        "unknown": 0,
    }
    assert report.errors == {"connect": 5}
