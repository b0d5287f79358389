"""A target endpoint for tests that keeps its own record of what arrived.

Runs as its own process (``python -m tests.support.recording_target --port N``)
so its clock readings and its event loop are independent of the load generator
under test. Arrival times are ``time.monotonic()``, which on Linux is one clock
for every process, so tests can compare them with their own readings.

Routes:
  GET  /_record             everything that arrived, as JSON
  GET  /health              RunPod-shaped health: busy slots as running workers
  POST /_reset              forget it
  ANY  /status/{code}       answer with that status after the service time
  ANY  /sleep/{seconds}     answer 200 after that long
  ANY  /queue               answer like a queue endpoint: JSON with delayTime,
                            executionTime (ms) and workerId
  ANY  /{anything else}     answer 200 after the service time
Every answered request carries ``X-Runpod-Worker-Id``: the lowest-numbered
"worker" slot free when it arrived (w0, w1, …), so N overlapping requests see N
distinct workers and sequential ones see one.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiohttp import web

WORKER_HEADER = "X-Runpod-Worker-Id"
_BODY_KEEP = 8192


class Target:
    def __init__(self, service_time: float):
        self.service_time = service_time
        self.arrivals: list[dict] = []
        self.busy: set[int] = set()

    def take_worker(self) -> int:
        slot = 0
        while slot in self.busy:
            slot += 1
        self.busy.add(slot)
        return slot

    async def handle(self, request: web.Request) -> web.StreamResponse:
        arrival = time.monotonic()
        entry = {
            "seq": len(self.arrivals),
            "arrival": arrival,
            "method": request.method,
            "path": request.path,
            "authorization": request.headers.get("Authorization"),
        }
        self.arrivals.append(entry)
        body = await request.read()
        entry["body"] = body[:_BODY_KEEP].decode(errors="replace")
        slot = self.take_worker()
        worker = f"w{slot}"
        entry["worker"] = worker
        try:
            status, delay, payload = 200, self.service_time, None
            parts = request.path.strip("/").split("/")
            if parts[0] == "status" and len(parts) > 1:
                status = int(parts[1])
            elif parts[0] == "sleep" and len(parts) > 1:
                delay = float(parts[1])
            await asyncio.sleep(delay)
            if parts[0] == "queue":
                payload = {
                    "id": f"job-{entry['seq']}",
                    "status": "COMPLETED",
                    "delayTime": 25,
                    "executionTime": int(delay * 1000),
                    "workerId": worker,
                }
                response = web.json_response(payload, status=status)
            else:
                response = web.json_response({"seq": entry["seq"]}, status=status)
                response.headers[WORKER_HEADER] = worker
            entry["status"] = status
            entry["service_time"] = delay
            return response
        finally:
            entry["end"] = time.monotonic()
            self.busy.discard(slot)

    async def health(self, _request: web.Request) -> web.Response:
        """RunPod's health shape; not recorded as an arrival."""
        busy = len(self.busy)
        return web.json_response(
            {
                "jobs": {"inQueue": 0, "inProgress": busy, "completed": 0, "failed": 0},
                "workers": {"idle": 0, "running": busy, "initializing": 0},
            }
        )

    async def record(self, _request: web.Request) -> web.Response:
        return web.json_response(self.arrivals)

    async def reset(self, _request: web.Request) -> web.Response:
        self.arrivals.clear()
        return web.json_response({"ok": True})


def build_app(service_time: float) -> web.Application:
    target = Target(service_time)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/_record", target.record)
    app.router.add_get("/health", target.health)
    app.router.add_post("/_reset", target.reset)
    app.router.add_route("*", "/{tail:.*}", target.handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--service-time", type=float, default=0.05)
    args = parser.parse_args()
    web.run_app(
        build_app(args.service_time),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
        backlog=4096,
        shutdown_timeout=0.5,  # tests stop it with requests still sleeping
    )


if __name__ == "__main__":
    main()
