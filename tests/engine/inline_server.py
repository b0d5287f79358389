"""An HTTP server on the test's own event loop, for responses the recording target
cannot give (a stalled body, a body cut short)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serving(handler) -> AsyncIterator[str]:
    """An HTTP server on this loop answering every path with ``handler``; ``hang()``
    in a handler waits until the server stops."""
    app = web.Application()
    app[_STOPPING] = stopping = asyncio.Event()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        stopping.set()
        await runner.cleanup()


_STOPPING = web.AppKey("stopping", asyncio.Event)


async def hang(request: web.Request) -> None:
    await request.app[_STOPPING].wait()
