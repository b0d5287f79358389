"""The scaling probe reads a health answer whole however it arrives, and gives up on
one longer than it could be, holding no more of it."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from tests.conftest import run_spec
from tests.engine.inline_server import serving

HEALTH = {"workers": {"running": 3, "idle": 1, "initializing": 0}, "jobs": {"inQueue": 2}}


async def test_a_health_answer_that_arrives_in_pieces_is_read_whole(fresh_target):
    data = json.dumps({**HEALTH, "pad": " " * 20_000}).encode()

    async def in_pieces(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(data), 2000):
            await response.write(data[start : start + 2000])
            await asyncio.sleep(0.005)  # each piece its own read
        await response.write_eof()
        return response

    async with serving(in_pieces) as health:
        report = await run_spec(
            {
                "target": {"url": f"{fresh_target.url}/work"},
                "load": {"pattern": "rate", "rate": 10, "duration": "1s"},
                "scalingProbe": {"url": health, "interval": "250ms"},
            }
        )
    probe = report.scaling_probe
    assert probe.failures == 0 and probe.samples >= 3
    assert probe.max_workers_running == 3 and probe.max_in_queue == 2


async def test_a_health_answer_too_long_or_endless_is_a_failed_poll(fresh_target):
    for path in ("/stream", f"/bytes/{2 << 20}"):
        report = await run_spec(
            {
                "target": {"url": f"{fresh_target.url}/work"},
                "load": {"pattern": "rate", "rate": 10, "duration": "1s"},
                "scalingProbe": {"url": f"{fresh_target.url}{path}", "interval": "250ms"},
            }
        )
        probe = report.scaling_probe
        assert probe.samples == 0 and probe.failures >= 3, path
        assert probe.errors == {"too_large": probe.failures}, path
