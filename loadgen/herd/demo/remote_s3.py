"""A stand-in for a remote S3 region: a loopback proxy that adds latency to moto.

moto on loopback answers a 512 KiB PUT in a few milliseconds; the incident's
store was across the internet, where each upload took hundreds. The demo puts
this proxy in front of moto so uploads take as long as they did for real, and
the difference between a bounded, prestaged burst and calls dispatched as
uploads finish shows as it did in production.

Run as ``python -m herd.demo.remote_s3 --upstream URL --port N --latency 0.3``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
_SESSION = web.AppKey("session", aiohttp.ClientSession)


def build_app(upstream: str, latency: float) -> web.Application:
    async def session_context(app: web.Application) -> AsyncIterator[None]:
        app[_SESSION] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
        )
        yield
        await app[_SESSION].close()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(latency)
        # Keep the client's Host header: the request is signed for it.
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Host"] = request.headers.get("Host", "")
        async with request.app[_SESSION].request(
            request.method,
            upstream + request.path_qs,
            headers=headers,
            data=body,
            allow_redirects=False,
            skip_auto_headers={"Content-Type"},
        ) as answer:
            payload = await answer.read()
            reply_headers = {
                k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            return web.Response(status=answer.status, headers=reply_headers, body=payload)

    app = web.Application(client_max_size=1024**3)
    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds added per request")
    args = parser.parse_args()
    web.run_app(
        build_app(args.upstream.rstrip("/"), args.latency),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
        shutdown_timeout=0.5,
    )


if __name__ == "__main__":
    main()
