"""The operator's HTTP endpoint for Prometheus (``/metrics``) and readiness (``/readyz``).

Liveness is kopf's own probe endpoint (``--liveness``): it answers while the event loop
runs the operator. Readiness here turns true once kopf has finished starting up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def _app(registry: CollectorRegistry, ready: asyncio.Event | threading.Event) -> web.Application:
    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def readyz(_request: web.Request) -> web.Response:
        if ready.is_set():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="starting\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/readyz", readyz)
    return app


@contextlib.asynccontextmanager
async def serving_metrics(
    host: str, port: int, registry: CollectorRegistry, ready: asyncio.Event | threading.Event
) -> AsyncIterator[int]:
    """Serve ``/metrics`` and ``/readyz`` on ``host:port`` (0: any free port, yielded)."""
    runner = web.AppRunner(_app(registry, ready), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
