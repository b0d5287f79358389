"""A fault-injecting S3 reverse proxy for tests, placed between herd and the moto server.

It answers object PUTs with real S3-style XML errors (throttling, permanent
errors for chosen keys), makes them slow, and counts them on the wire: total
object PUTs and the peak number in flight at once. Everything else (presigned
GETs, DeleteObjects, listings) is forwarded to moto byte for byte: path, query,
headers (Host included, so a SigV4 signature stays valid) and body as received.

It runs as its own process (``python -m tests.support.s3_fault_proxy --port N
--upstream URL``), like the recording target, for two reasons: its added
latency and its in-flight count are measured on an event loop that herd's load
cannot delay, so the numbers describe herd and not the proxy; and herd's own
event-loop-lag and client-limited diagnostics stay free of the proxy's work.
Its clock is ``time.monotonic()``, one clock for every process on Linux.

Control routes live under ``/_proxy/`` (no S3 bucket name can contain ``_``):
  POST /_proxy/configure   JSON ``FaultPlan``; also resets the counters
  POST /_proxy/reset       no faults, no latency, counters at zero
  GET  /_proxy/stats       JSON ``ProxyStats``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from herd.demo.services import LOOPBACK, ServerProcess, child_server, free_port
from tests.support.servers import REPO

_CONTROL = "/_proxy/"
_MAX_BODY = 64 * 1024 * 1024
# Per-connection headers (RFC 9110 section 7.6.1) and ones the proxy must recompute.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",  # the proxy already read the body; the upstream must not wait for 100-continue
}
_STATUS_TEXT = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Slow Down",
}


@dataclass(frozen=True)
class KeyFault:
    """Answer PUTs of keys matching ``pattern`` (a regex searched in the key) with an error."""

    pattern: str
    status: int
    code: str
    times: int | None = None
    """How many PUTs get the error before the key behaves again; None: always."""


@dataclass(frozen=True)
class FaultPlan:
    """What the proxy does to object PUTs; GETs, DELETEs and the rest pass untouched."""

    slowdown_first: int = 0
    """The first N object PUTs (any key) get ``503 SlowDown``."""
    put_delay: float = 0.0
    """Seconds added to every object PUT, faulted or not, while it counts as in flight."""
    key_faults: tuple[KeyFault, ...] = ()
    """Checked in order after the SlowDown budget is spent; the first match with
    errors left answers."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultPlan:
        faults = tuple(KeyFault(**fault) for fault in data.get("key_faults", ()))
        for fault in faults:
            re.compile(fault.pattern)
        return cls(
            slowdown_first=int(data.get("slowdown_first", 0)),
            put_delay=float(data.get("put_delay", 0.0)),
            key_faults=faults,
        )


@dataclass
class ProxyStats:
    """What reached the proxy since the last configure/reset."""

    puts_total: int = 0
    """Object PUTs received, faulted ones included."""
    puts_in_flight: int = 0
    peak_puts_in_flight: int = 0
    """Most object PUTs the proxy was handling at one moment."""
    faults_served: dict[str, int] = field(default_factory=dict)
    """Injected errors by S3 error code."""
    put_keys: list[str] = field(default_factory=list)
    """Keys of the object PUTs, in arrival order (a retry appears again)."""
    forwarded: int = 0
    """Requests of any kind passed on to the upstream."""
    last_put_end: float | None = None
    """``time.monotonic()`` when the latest object PUT was answered."""


def object_key(request: web.Request) -> str | None:
    """The key of a path-style object PUT (``/bucket/key``); None for anything else.

    Sub-resource PUTs (``?tagging``, ``?acl``, multipart parts) are not uploads of
    an object body; botocore's own ``x-id`` marker is allowed.
    """
    if request.method != "PUT" or set(request.query) - {"x-id"}:
        return None
    parts = request.path.lstrip("/").split("/", 1)
    if len(parts) < 2 or not parts[1]:
        return None
    return parts[1]


def s3_error(status: int, code: str, key: str) -> web.Response:
    """An error answer shaped like S3's, so SDKs parse the code as they would from S3."""
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code>"
        f"<Message>{_STATUS_TEXT.get(status, 'Error')} (injected by s3_fault_proxy)</Message>"
        f"<Key>{key}</Key><RequestId>{request_id}</RequestId>"
        f"<HostId>s3-fault-proxy</HostId></Error>"
    )
    return web.Response(
        status=status,
        body=body.encode(),
        headers={"Content-Type": "application/xml", "x-amz-request-id": request_id},
    )


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = URL(upstream)
        self.plan = FaultPlan()
        self.stats = ProxyStats()
        self._fault_uses: list[int] = []
        self._session: aiohttp.ClientSession | None = None

    def configure(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.stats = ProxyStats()
        self._fault_uses = [0] * len(plan.key_faults)

    async def start(self, _app: web.Application) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256),
            auto_decompress=False,  # pass bodies on exactly as the upstream sent them
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def stop(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    def _injected_fault(self, key: str) -> tuple[int, str] | None:
        stats, plan = self.stats, self.plan
        throttled = stats.faults_served.get("SlowDown", 0)
        if throttled < plan.slowdown_first:
            return 503, "SlowDown"
        for number, fault in enumerate(plan.key_faults):
            if not re.search(fault.pattern, key):
                continue
            if fault.times is not None and self._fault_uses[number] >= fault.times:
                continue
            self._fault_uses[number] += 1
            return fault.status, fault.code
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = object_key(request)
        if key is None:
            return await self._forward(request, await request.read())
        stats = self.stats  # a reconfigure mid-request must not corrupt the new counters
        stats.puts_total += 1
        stats.put_keys.append(key)
        stats.puts_in_flight += 1
        stats.peak_puts_in_flight = max(stats.peak_puts_in_flight, stats.puts_in_flight)
        try:
            body = await request.read()
            if self.plan.put_delay > 0:
                await asyncio.sleep(self.plan.put_delay)
            fault = self._injected_fault(key)
            if fault is not None:
                status, code = fault
                stats.faults_served[code] = stats.faults_served.get(code, 0) + 1
                return s3_error(status, code, key)
            return await self._forward(request, body)
        finally:
            stats.puts_in_flight -= 1
            stats.last_put_end = time.monotonic()

    async def _forward(self, request: web.Request, body: bytes) -> web.StreamResponse:
        assert self._session is not None
        headers = CIMultiDict(
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP
        )
        # raw_path is the path and query exactly as received: re-encoding could
        # change the canonical request a signature was computed over.
        url = URL(str(self.upstream.with_path("")) + request.raw_path, encoded=True)
        self.stats.forwarded += 1
        try:
            async with self._session.request(
                request.method,
                url,
                headers=headers,  # Host included: as herd signed it
                data=body or None,
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                answer_headers = CIMultiDict(
                    (name, value)
                    for name, value in upstream.headers.items()
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length"
                )
                if request.method == "HEAD":
                    length = upstream.headers.get("Content-Length")
                    if length is not None:
                        answer_headers["Content-Length"] = length
                    return web.Response(status=upstream.status, headers=answer_headers)
                return web.Response(status=upstream.status, headers=answer_headers, body=payload)
        except (aiohttp.ClientError, TimeoutError) as error:
            return web.Response(status=502, text=f"s3_fault_proxy: upstream failed: {error!r}")

    async def control_configure(self, request: web.Request) -> web.Response:
        self.configure(FaultPlan.from_json(await request.json()))
        return web.json_response({"ok": True})

    async def control_reset(self, _request: web.Request) -> web.Response:
        self.configure(FaultPlan())
        return web.json_response({"ok": True})

    async def control_stats(self, _request: web.Request) -> web.Response:
        return web.json_response(asdict(self.stats))


def build_app(upstream: str) -> web.Application:
    proxy = FaultProxy(upstream)
    app = web.Application(client_max_size=_MAX_BODY)
    app.on_startup.append(proxy.start)
    app.on_cleanup.append(proxy.stop)
    app.router.add_post(f"{_CONTROL}configure", proxy.control_configure)
    app.router.add_post(f"{_CONTROL}reset", proxy.control_reset)
    app.router.add_get(f"{_CONTROL}stats", proxy.control_stats)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    return app


# -- the test side: start the proxy process and talk to its control routes ------


@dataclass
class S3FaultProxy:
    """A running proxy process, as the tests see it."""

    server: ServerProcess

    @property
    def url(self) -> str:
        """The S3 endpoint to give herd instead of moto's."""
        return self.server.url

    def configure(
        self,
        *,
        slowdown_first: int = 0,
        put_delay: float = 0.0,
        key_faults: tuple[KeyFault, ...] = (),
    ) -> None:
        """Replace the fault plan and zero the counters."""
        plan = FaultPlan(slowdown_first, put_delay, tuple(key_faults))
        self._post("configure", plan.to_json())

    def reset(self) -> None:
        self._post("reset", {})

    def stats(self) -> ProxyStats:
        with urllib.request.urlopen(f"{self.url}{_CONTROL}stats", timeout=10) as response:
            return ProxyStats(**json.load(response))

    def _post(self, route: str, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.url}{_CONTROL}{route}",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()


@contextlib.contextmanager
def s3_fault_proxy(upstream: str) -> Iterator[S3FaultProxy]:
    """Run a proxy in front of ``upstream`` (moto's URL) for the duration of the block."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.support.s3_fault_proxy",
        "--port",
        str(port),
        "--upstream",
        upstream,
    ]
    with child_server(
        command, port, f"{_CONTROL}stats", env={"PYTHONPATH": str(REPO)}, cwd=str(REPO)
    ) as server:
        yield S3FaultProxy(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the S3 server to forward to")
    args = parser.parse_args()
    web.run_app(
        build_app(args.upstream),
        host=LOOPBACK,
        port=args.port,
        print=None,
        access_log=None,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
