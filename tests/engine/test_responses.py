"""Responses that break off: each is its own error class, and the connection it broke
is given up without holding the next request back."""

from __future__ import annotations

import itertools

from aiohttp import web

from tests.conftest import run_spec
from tests.engine.inline_server import serving


async def test_a_body_cut_short_is_a_payload_error_and_the_loop_carries_on():
    turns = itertools.count()

    async def every_other_body_breaks_off(request: web.Request) -> web.StreamResponse:
        if next(turns) % 2:
            return web.Response(text="ok")
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b"x" * 10)
        request.transport.close()  # 90 bytes short
        return response

    async with serving(every_other_body_breaks_off) as url:
        report = await run_spec(
            {
                "target": {"url": url},
                "load": {"pattern": "concurrency", "concurrency": 1, "requests": 6},
            }
        )
    assert report.errors == {"payload": 3}
    assert report.requests.ok == 3
    assert report.status_codes == {"200": 6}
