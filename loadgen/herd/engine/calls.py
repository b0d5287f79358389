"""The HTTP side of a run: one pooled aiohttp session and the per-request call.

One ``ClientSession`` serves the whole run; its connector is sized to the peak
number of requests in flight, so requests never queue behind each other inside
the client (the incident's failure). Should they ever have to (an open loop at
its in-flight cap), the wait for a pool slot is measured and bounded by
``poolTimeout``; a burst also records when each request reached the socket.
The whole-request ``timeout`` is herd's (``deadlines``), not aiohttp's: one timer
for the run instead of one per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.connector import Connection

from herd.engine.burst_release import HeldBurst
from herd.engine.deadlines import Deadlines
from herd.engine.recorder import Recorder
from herd.engine.records import RequestRecord, now
from herd.engine.slots import Slots
from herd.engine.target_policy import TARGET_DENIED, TargetGuard, is_target_denied

log = logging.getLogger(__name__)

# Endpoints that report queueing (RunPod queue endpoints) put these in milliseconds
# in a JSON body; bodies larger than this are not searched for them.
_MAX_JSON_BYTES = 1 << 20
_DELAY_MARKER, _EXECUTION_MARKER = b'"delayTime"', b'"executionTime"'


@dataclass(frozen=True)
class CallSettings:
    method: str
    url: str
    headers: Mapping[str, str]
    worker_header: str | None
    worker_json_path: str | None


class WireStampedResponse(aiohttp.ClientResponse):
    """A response that knows when its request was written: a burst's true spread.

    aiohttp builds the response right after writing the request's headers, so
    ``request_sent_at`` costs one clock read. aiohttp's tracing would cost every
    request a dozen awaited signals and widen the very spread it measures.
    ``sent_over`` is the connection's protocol: a held burst tells by it when the
    request actually left.
    """

    sent_over: object = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.request_sent_at = now()
        super().__init__(*args, **kwargs)

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        self.sent_over = connection.protocol
        return await super().start(connection)


def open_session(
    pool_size: int,
    connect_timeout: float,
    trace_wire: bool = False,
    guard: TargetGuard | None = None,
) -> aiohttp.ClientSession:
    """A session whose pool holds ``pool_size`` connections to the target.

    It bounds connecting only; the ``Caller`` bounds each whole request. With
    ``trace_wire`` its responses tell when their requests went out; with ``guard``
    it connects only where the operator's target policy allows.
    """
    connector = aiohttp.TCPConnector(
        limit=pool_size,
        limit_per_host=0,  # the pool size above already is the bound for the one target
        ttl_dns_cache=300,
        enable_cleanup_closed=True,
        **(guard.connector_options() if guard is not None else {}),
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=connect_timeout,  # the Caller's slots keep aiohttp's pool from queueing
            sock_connect=connect_timeout,
        ),
        response_class=WireStampedResponse if trace_wire else aiohttp.ClientResponse,
        cookie_jar=aiohttp.DummyCookieJar(),  # load, not a browsing session: no state between calls
        raise_for_status=False,
        auto_decompress=True,
    )


def classify_exception(error: BaseException, record: RequestRecord) -> str:
    """A short, stable error class for a request that got no HTTP status."""
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return "pool_timeout" if record.pool_queued else "connect_timeout"
    if is_target_denied(error):
        return TARGET_DENIED
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
        timeout: float,
    ):
        self._session = session
        self._deadlines = Deadlines(timeout)
        # One slot per pooled connection: waiting for a slot is waiting for the pool,
        # measured here for the price of a counter instead of aiohttp's tracing.
        self._slots = Slots(pool_size)
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
        # A burst's connections, opened and corked before its barrier.
        self.held: HeldBurst | None = None

    async def call(self, record: RequestRecord, body: bytes | None) -> None:
        settings = self._settings
        recorder = self._recorder
        record.sent = now()
        recorder.on_sent(record)
        try:
            if self._slots.take_free():
                started = record.sent
            else:
                await self._wait_for_slot(record)
                started = now()
            self._deadlines.start(record, started)
            try:
                response = await self._session.request(
                    settings.method,
                    settings.url,
                    headers=settings.headers,
                    data=body,
                )
                if isinstance(response, WireStampedResponse):
                    record.wire = response.request_sent_at
                    if self.held is not None:
                        record.wire = self.held.left_at(response.sent_over, record.wire)
                record.ttfb = now()
                record.status = status = response.status
                try:
                    content = response.content
                    if content.is_eof():
                        # The body came whole with the headers (a small response): take it
                        # as it is; read()'s chain of coroutines cost 3 µs a request.
                        payload = content.read_nowait()
                    else:
                        # The whole body; reading it to the end releases the connection.
                        payload = await response.read()
                except BaseException:
                    # What ``async with`` does on its way out of a failed response.
                    response.release()
                    await response.wait_for_close()
                    raise
                record.end = now()
                if status >= 400:
                    record.error = f"http_{status}"
                worker_header = settings.worker_header
                if worker_header is not None:
                    record.worker = response.headers.get(worker_header)
                if (
                    payload
                    and (
                        self._json_path is not None
                        or _DELAY_MARKER in payload
                        or _EXECUTION_MARKER in payload
                    )
                    and len(payload) <= _MAX_JSON_BYTES
                ):
                    self._read_json_fields(record, payload)
            finally:
                self._deadlines.finish(record)
                self._slots.release()
        except asyncio.CancelledError:
            record.end = now()
            if not Deadlines.consume_expiry(record):
                record.error = self.abort_class
                recorder.on_done(record)
                raise
            record.error = "timeout"
        except Exception as error:  # every failure is classified and counted, none escapes
            record.end = now()
            if Deadlines.consume_expiry(record):  # aiohttp made its own error of the expiry
                record.error = "timeout"
            else:
                record.error = classify_exception(error, record)
            if record.error == "internal":
                log.warning("request %d failed unexpectedly: %r", record.index, error)
        recorder.on_done(record)

    async def _wait_for_slot(self, record: RequestRecord) -> None:
        """Wait for a pooled connection; TimeoutError (a ``pool_timeout``) past the limit."""
        record.pool_queued = now()
        async with asyncio.timeout(self._pool_timeout):
            await self._slots.wait()
        record.pool_wait = now() - record.pool_queued
        record.pool_queued = 0.0

    def _read_json_fields(self, record: RequestRecord, payload: bytes) -> None:
        wants_worker = record.worker is None and self._json_path is not None
        if not wants_worker and _DELAY_MARKER not in payload and _EXECUTION_MARKER not in payload:
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
