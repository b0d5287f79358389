"""A target that answers what each request's body asks for: status, delay and worker id.

Runs as its own process (``python -m tests.metrics.echo_target --port N``), so one
run can mix outcomes: the LoadTest's body template decides per request index.
Body: ``{"status": 503, "sleep": 0.01, "worker": "w3"}`` (all optional).
Also serves a RunPod-shaped ``GET /health`` for the scaling probe: an endpoint that
does not scale (one running worker, two jobs always queued, busy requests in
progress), and ``GET /ready`` for startup.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

WORKER_HEADER = "X-Runpod-Worker-Id"


def build_app() -> web.Application:
    busy = 0

    async def answer(request: web.Request) -> web.Response:
        nonlocal busy
        asked = json.loads(await request.read() or b"{}")
        busy += 1
        try:
            await asyncio.sleep(float(asked.get("sleep", 0.0)))
        finally:
            busy -= 1
        headers = {WORKER_HEADER: asked["worker"]} if "worker" in asked else {}
        return web.json_response(
            {"ok": True}, status=int(asked.get("status", 200)), headers=headers
        )

    async def health(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "jobs": {"inQueue": 2, "inProgress": busy},
                "workers": {"idle": 0, "running": 1, "initializing": 0},
            }
        )

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_post("/answer", answer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(
        build_app(),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
        shutdown_timeout=0.5,
    )


if __name__ == "__main__":
    main()
