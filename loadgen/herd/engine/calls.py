"""The HTTP side of a run: one pooled aiohttp session and the per-request call.

One ``ClientSession`` serves the whole run; its connector is sized to the peak
number of requests in flight, so requests never queue behind each other inside
the client (the incident's failure). Should they ever have to (an open loop at
its in-flight cap), the wait for a pool slot is measured and bounded by
``poolTimeout``; a burst also records when each request reached the socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from herd.engine.recorder import Recorder
from herd.engine.records import RequestRecord, now

log = logging.getLogger(__name__)

# Endpoints that report queueing (RunPod queue endpoints) put these in milliseconds
# in a JSON body; bodies larger than this are not searched for them.
_MAX_JSON_BYTES = 1 << 20
_QUEUE_MARKERS = (b'"delayTime"', b'"executionTime"')


@dataclass(frozen=True)
class CallSettings:
    method: str
    url: str
    headers: Mapping[str, str]
    worker_header: str | None
    worker_json_path: str | None


def _wire_trace() -> aiohttp.TraceConfig:
    """Records when each request's headers hit the socket (a burst's true spread).

    Tracing costs every request a handful of awaited signals whether anyone listens or
    not, so only bursts — bounded in size, where the spread is the measurement — use it.
    """
    trace = aiohttp.TraceConfig()

    async def headers_sent(_session, context, _params) -> None:
        record = context.trace_request_ctx
        if record is not None:
            record.wire = now()

    trace.on_request_headers_sent.append(headers_sent)
    return trace


def open_session(
    pool_size: int, timeout: float, connect_timeout: float, trace_wire: bool = False
) -> aiohttp.ClientSession:
    """A session whose pool holds ``pool_size`` connections to the target."""
    connector = aiohttp.TCPConnector(
        limit=pool_size,
        limit_per_host=0,  # the pool size above already is the bound for the one target
        ttl_dns_cache=300,
        enable_cleanup_closed=True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=timeout,
            connect=connect_timeout,  # the Caller's slots keep aiohttp's pool from queueing
            sock_connect=connect_timeout,
        ),
        trace_configs=[_wire_trace()] if trace_wire else None,
        cookie_jar=aiohttp.DummyCookieJar(),  # load, not a browsing session: no state between calls
        raise_for_status=False,
        auto_decompress=True,
    )


def classify_exception(error: BaseException, record: RequestRecord) -> str:
    """A short, stable error class for a request that got no HTTP status."""
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return "pool_timeout" if record.pool_queued else "connect_timeout"
    if isinstance(error, aiohttp.ClientConnectorError):
        return "connect"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "disconnected"
    if isinstance(error, TimeoutError):  # total timeout, sock_read, ServerTimeoutError
        return "pool_timeout" if record.pool_queued else "timeout"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "payload"
    if isinstance(error, aiohttp.ClientResponseError):
        return "protocol"
    if isinstance(error, aiohttp.ClientOSError | OSError):
        return "io"
    if isinstance(error, aiohttp.ClientError):
        return "client_error"
    return "internal"


class Caller:
    """Sends requests to the target and reports each one to the recorder."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: CallSettings,
        recorder: Recorder,
        pool_size: int,
        pool_timeout: float,
    ):
        self._session = session
        # One slot per pooled connection: waiting for a slot is waiting for the pool,
        # measured here for the price of a semaphore instead of aiohttp's tracing.
        self._slots = asyncio.Semaphore(pool_size)
        self._pool_timeout = pool_timeout
        self._settings = settings
        self._recorder = recorder
        self._json_path = None
        if settings.worker_json_path:
            from jsonpath_ng import parse as parse_json_path

            self._json_path = parse_json_path(settings.worker_json_path)
        # Set by the dispatcher just before it cancels requests, so aborted
        # requests carry the reason (drain timeout or max duration).
        self.abort_class = "aborted"

    async def call(self, record: RequestRecord, body: bytes | None) -> None:
        settings = self._settings
        recorder = self._recorder
        record.sent = now()
        recorder.on_sent(record)
        try:
            await self._take_slot(record)
            try:
                async with self._session.request(
                    settings.method,
                    settings.url,
                    headers=settings.headers,
                    data=body,
                    trace_request_ctx=record,
                ) as response:
                    record.ttfb = now()
                    record.status = response.status
                    payload = await response.read()
                    record.end = now()
                    if response.status >= 400:
                        record.error = f"http_{response.status}"
                    worker_header = settings.worker_header
                    if worker_header is not None:
                        record.worker = response.headers.get(worker_header)
                    if payload and len(payload) <= _MAX_JSON_BYTES:
                        self._read_json_fields(record, payload)
            finally:
                self._slots.release()
        except asyncio.CancelledError:
            record.end = now()
            record.error = self.abort_class
            recorder.on_done(record)
            raise
        except Exception as error:  # every failure is classified and counted, none escapes
            record.end = now()
            record.error = classify_exception(error, record)
            if record.error == "internal":
                log.warning("request %d failed unexpectedly: %r", record.index, error)
        recorder.on_done(record)

    async def _take_slot(self, record: RequestRecord) -> None:
        """Wait for a pooled connection; TimeoutError (a ``pool_timeout``) past the limit."""
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns without suspending
            return
        record.pool_queued = now()
        async with asyncio.timeout(self._pool_timeout):
            await self._slots.acquire()
        record.pool_wait = now() - record.pool_queued
        record.pool_queued = 0.0

    def _read_json_fields(self, record: RequestRecord, payload: bytes) -> None:
        wants_worker = record.worker is None and self._json_path is not None
        if not wants_worker and not any(marker in payload for marker in _QUEUE_MARKERS):
            return
        try:
            document = json.loads(payload)
        except ValueError:
            return
        if not isinstance(document, dict):
            return
        if wants_worker:
            matches = self._json_path.find(document)
            if matches and matches[0].value is not None:
                record.worker = str(matches[0].value)
        record.delay = _milliseconds(document.get("delayTime"))
        record.execution = _milliseconds(document.get("executionTime"))


def _milliseconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return value / 1000.0
    return None
