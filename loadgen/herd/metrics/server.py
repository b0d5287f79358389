"""Serving ``/metrics`` from the run's own event loop while the run goes on.

Served by aiohttp on the loop that runs the load, not by prometheus_client's
server thread: a scrape then reads the recorder between two request events, never
in the middle of one, and takes no lock on the request path.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from herd.engine.errors import SetupError

log = logging.getLogger(__name__)

_SHUTDOWN_TIMEOUT = 1.0  # a scrape in progress when the run ends gets this long


def metrics_app(registry: CollectorRegistry) -> web.Application:
    async def metrics(request: web.Request) -> web.Response:
        # Prometheus asks for OpenMetrics; curl and older scrapers get the text format.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(registry), headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


@asynccontextmanager
async def serving_metrics(registry: CollectorRegistry, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``registry`` at ``http://host:port/metrics`` for the block; yields that URL."""
    runner = web.AppRunner(
        metrics_app(registry),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=_SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            raise SetupError(
                f"cannot serve metrics on {host}:{port}: {error.strerror or error}"
            ) from None
        bound_port = runner.addresses[0][1] if runner.addresses else port
        url = f"http://{host}:{bound_port}/metrics"
        log.info("serving metrics at %s", url)
        yield url
    finally:
        await runner.cleanup()
