"""A loopback server that holds every request for a while: for in-flight memory.

``python bench/slow_server.py PORT HOLD_SECONDS``
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


def main() -> None:
    port, hold = int(sys.argv[1]), float(sys.argv[2])

    async def handle(_request: web.Request) -> web.Response:
        await asyncio.sleep(hold)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        print=None,
        access_log=None,
        backlog=16384,
        shutdown_timeout=0.5,
    )


if __name__ == "__main__":
    main()
