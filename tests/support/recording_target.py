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
  ANY  /abort               close the connection without answering (FIN)
  ANY  /reset               reset the connection without answering (RST)
  ANY  /bytes/{n}           answer a body of n bytes, streamed (Content-Length set)
  ANY  /stream              answer an endless chunked body
  ANY  /gzip/{n}            answer n zero bytes gzip-compressed (Content-Encoding: gzip)
  ANY  /leaky[/{seconds}]   after that long (default 0), answer with a long,
                            secret-looking worker id in the header and a JSON body
                            whose ``worker`` is an object holding a secret and whose
                            ``label`` is the secret itself, all distinct per worker
  ANY  /redirect            answer 302 to /landed (a client that follows it sends a
                            second request nobody planned)
  ANY  /{anything else}     answer 200 after the service time
Every answered request carries ``X-Runpod-Worker-Id``: the lowest-numbered
"worker" slot free when it arrived (w0, w1, …), so N overlapping requests see N
distinct workers and sequential ones see one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import socket
import struct
import time
import zlib

from aiohttp import web

WORKER_HEADER = "X-Runpod-Worker-Id"
_BODY_KEEP = 8192
_CHUNK = b"x" * (64 * 1024)
# What /leaky puts in worker ids: tests look for it in reports and summaries.
LEAKY_SECRET = "s3cr3t-" + "Zq9" * 30


def _gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed, compressed a block at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = []
    while size > 0:
        parts.append(compressor.compress(block[: min(size, len(block))]))
        size -= len(block)
    parts.append(compressor.flush())
    return b"".join(parts)


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
            if parts[0] in _SPECIAL:
                entry["status"] = {"abort": None, "reset": None, "redirect": 302}.get(parts[0], 200)
                return await _SPECIAL[parts[0]](request, parts, worker)
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


async def _abort(request: web.Request, _parts: list[str], _worker: str) -> web.StreamResponse:
    """Hang up on the request, having read it: a server that crashed mid-request."""
    request.transport.close()
    raise ConnectionResetError("hung up on purpose")


async def _reset(request: web.Request, _parts: list[str], _worker: str) -> web.StreamResponse:
    sock = request.transport.get_extra_info("socket")
    # Linger 0: close() sends RST instead of FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.transport.abort()
    raise ConnectionResetError("reset on purpose")


async def _bytes(request: web.Request, parts: list[str], worker: str) -> web.StreamResponse:
    size = int(parts[1])
    response = web.StreamResponse(headers={WORKER_HEADER: worker, "Content-Length": str(size)})
    await response.prepare(request)
    while size > 0:
        chunk = _CHUNK if size >= len(_CHUNK) else _CHUNK[:size]
        await response.write(chunk)
        size -= len(chunk)
    await response.write_eof()
    return response


async def _stream(request: web.Request, _parts: list[str], worker: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={WORKER_HEADER: worker})
    response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        while True:  # until the client goes away
            await response.write(_CHUNK)
    return response


async def _gzip(request: web.Request, parts: list[str], worker: str) -> web.StreamResponse:
    body = _cached_gzip(int(parts[1]))
    response = web.StreamResponse(
        headers={
            WORKER_HEADER: worker,
            "Content-Encoding": "gzip",
            "Content-Length": str(len(body)),
        }
    )
    await response.prepare(request)
    await response.write(body)
    await response.write_eof()
    return response


@functools.lru_cache(maxsize=4)
def _cached_gzip(size: int) -> bytes:
    return _gzip_of_zeros(size)


async def _leaky(request: web.Request, parts: list[str], worker: str) -> web.StreamResponse:
    await asyncio.sleep(float(parts[1]) if len(parts) > 1 else 0.0)
    secret = f"{LEAKY_SECRET}-{worker}"
    payload = {"worker": {"id": worker, "password": secret}, "label": secret}
    return web.json_response(payload, headers={WORKER_HEADER: secret})


async def _redirect(_request: web.Request, _parts: list[str], worker: str) -> web.StreamResponse:
    """Send the client elsewhere: herd must count the 302, not follow it."""
    return web.Response(status=302, headers={"Location": "/landed", WORKER_HEADER: worker})


_SPECIAL = {
    "abort": _abort,
    "redirect": _redirect,
    "reset": _reset,
    "bytes": _bytes,
    "stream": _stream,
    "gzip": _gzip,
    "leaky": _leaky,
}


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
