"""The simulated endpoint over HTTP: RunPod-style routes, plus ``/_sim/*`` for tests.

- ``GET /health``: RunPod's health shape.
- ``POST /runsync``: queue-style; answers with a RunPod job (delayTime, executionTime in ms).
- ``GET /_sim/record``, ``POST /_sim/reset``: the ground truth, and a fresh start.
- anything else: load-balancing style; a worker answers ``{"ok": true, ...}`` and names
  itself in the worker-id header.

A JSON body ``{"input": {"service_time": X}}`` makes that one request take X seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from herd.sim.config import SimConfig
from herd.sim.simulation import Outcome, Simulation

SIMULATION = web.AppKey("herd_sim_simulation", Simulation)
# Bodies are only parsed for the service_time override up to this size, so a load test
# sending large payloads does not stall the event loop on JSON decoding.
OVERRIDE_PARSE_LIMIT = 1024 * 1024
SHUTDOWN_TIMEOUT = 5.0


def build_app(config: SimConfig, clock: Callable[[], float] = time.monotonic) -> web.Application:
    app = web.Application(client_max_size=config.max_body_bytes)
    app[SIMULATION] = Simulation(config, clock)
    app.router.add_get("/health", _health)
    app.router.add_get("/_sim/record", _record)
    app.router.add_post("/_sim/reset", _reset)
    app.router.add_post("/runsync", _runsync)
    app.router.add_route("*", "/{tail:.*}", _load_balanced)
    app.cleanup_ctx.append(_autoscaler)
    # Shutdown waits for handlers; answer the ones still queued or processing at once.
    app.on_shutdown.append(_close_simulation)
    return app


@dataclass
class SimServer:
    """A running simulated endpoint; ``port`` is the bound one, also when asked for port 0."""

    runner: web.AppRunner
    host: str
    port: int
    simulation: Simulation

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()

    async def __aenter__(self) -> SimServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def start_server(config: SimConfig, host: str = "127.0.0.1", port: int = 0) -> SimServer:
    app = build_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    return SimServer(runner, host, bound_port, app[SIMULATION])


async def serve_until_signalled(
    config: SimConfig, host: str, port: int, announce: Callable[[SimServer], None]
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with await start_server(config, host, port) as server:
            announce(server)
            await stop.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _autoscaler(app: web.Application) -> AsyncIterator[None]:
    simulation = app[SIMULATION]
    simulation.start()
    task = asyncio.create_task(simulation.run_autoscaler(), name="herd-sim-autoscaler")
    yield
    simulation.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_simulation(app: web.Application) -> None:
    app[SIMULATION].close()


async def _health(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATION].health())


async def _record(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATION].record.to_json())


async def _reset(request: web.Request) -> web.Response:
    request.app[SIMULATION].reset()
    return web.json_response({"reset": True})


async def _load_balanced(request: web.Request) -> web.Response:
    simulation = request.app[SIMULATION]
    body = await request.read()
    outcome = await simulation.submit(request.method, request.path, requested_service_time(body))
    if outcome.status != 200:
        return _respond(simulation, outcome, {"error": outcome.error})
    return _respond(simulation, outcome, _output(outcome))


async def _runsync(request: web.Request) -> web.Response:
    simulation = request.app[SIMULATION]
    body = await request.read()
    job_id = simulation.new_job_id()
    outcome = await simulation.submit(request.method, request.path, requested_service_time(body))
    if outcome.status != 200:
        return _respond(simulation, outcome, {"error": outcome.error})
    job = {
        "id": job_id,
        "status": "COMPLETED",
        "delayTime": round(outcome.queue_wait * 1000),
        "executionTime": round(outcome.execution * 1000),
        "workerId": outcome.worker_id,
        "output": _output(outcome),
    }
    return _respond(simulation, outcome, job)


def requested_service_time(body: bytes) -> float | None:
    """X from a JSON body ``{"input": {"service_time": X}}``; None when absent or unusable."""
    if not body or len(body) > OVERRIDE_PARSE_LIMIT or body.lstrip()[:1] != b"{":
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    job_input = document.get("input") if isinstance(document, dict) else None
    value = job_input.get("service_time") if isinstance(job_input, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _output(outcome: Outcome) -> dict[str, Any]:
    return {"ok": True, "worker": outcome.worker_id, "request": outcome.seq}


def _respond(simulation: Simulation, outcome: Outcome, payload: dict[str, Any]) -> web.Response:
    headers = {}
    if outcome.worker_id is not None:
        headers[simulation.config.worker_id_header] = outcome.worker_id
    return web.json_response(payload, status=outcome.status, headers=headers)
