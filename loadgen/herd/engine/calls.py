"""The HTTP side of a run: one pooled aiohttp session and the per-request call.

One ``ClientSession`` serves the whole run; its connector is sized to the peak
number of requests in flight, so requests never queue behind each other inside
the client (the incident's failure). Should they ever have to (an open loop at
its in-flight cap), the wait for a pool slot is measured and bounded by
``poolTimeout``; a burst also records when each request reached the socket.
The whole-request ``timeout`` is herd's (``deadlines``), not aiohttp's: one timer
for the run instead of one per request. Every request is sent once (aiohttp's own
retry is off), and every body is read to its end but held only up to
``keepResponseBytes``: what the endpoint sees and sends is what herd counts.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.connector import Connection

from herd.api.spec import DEFAULT_KEEP_RESPONSE_BYTES
from herd.engine.burst_release import HeldBurst
from herd.engine.deadlines import Deadlines
from herd.engine.errors import SetupError
from herd.engine.recorder import Recorder
from herd.engine.records import RequestRecord, now
from herd.engine.slots import Slots
from herd.engine.target_policy import TARGET_DENIED, TargetGuard, is_target_denied
from herd.engine.worker_ids import WorkerIds

log = logging.getLogger(__name__)

# Endpoints that report queueing (RunPod queue endpoints) put these in milliseconds
# in a JSON body.
_DELAY_MARKER, _EXECUTION_MARKER = b'"delayTime"', b'"executionTime"'
# Body bytes read at most before the read gives other requests the event loop.
_READ_BEFORE_YIELDING = 1 << 20
# The endpoint's side closed the connection: reset, or gone while herd was writing.
_HUNG_UP = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


@dataclass(frozen=True)
class CallSettings:
    method: str
    url: str
    headers: Mapping[str, str]
    worker_header: str | None
    worker_json_path: str | None
    keep_body_bytes: int = DEFAULT_KEEP_RESPONSE_BYTES
    """Bodies up to this size are held (for their JSON fields); longer ones only counted."""


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
    session = aiohttp.ClientSession(
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
    return without_retries(session)


def without_retries(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """``session``, made to send every request once, whatever happens to it.

    aiohttp sends an idempotent request (GET, PUT, DELETE, …) a second time when its
    connection breaks before the response; the endpoint would get load nobody planned
    and herd would count one request. aiohttp has no public switch for it
    (aio-libs/aiohttp#10790); its own test client turns the retry off with this flag,
    present since aiohttp 3.11. tests/engine/test_no_retries.py checks against an
    endpoint that hangs up that each request arrives once.
    """
    if not hasattr(session, "_retry_connection"):
        raise SetupError(
            f"aiohttp {aiohttp.__version__} has no way known to herd to turn off its "
            "request retries; install the aiohttp version herd was released with"
        )
    session._retry_connection = False
    return session


def classify_exception(error: BaseException) -> str:
    """A short, stable error class for a request that got no HTTP status (a request that
    waited for a pooled connection in vain was never sent: ``Caller.call`` counts it)."""
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return "connect_timeout"
    if is_target_denied(error):
        return TARGET_DENIED
    if isinstance(error, aiohttp.ClientConnectorError):
        return "connect"
    if isinstance(error, aiohttp.ServerDisconnectedError) or (
        isinstance(error, aiohttp.ClientOSError) and error.errno in _HUNG_UP
    ):
        return "disconnected"
    if isinstance(error, TimeoutError):  # total timeout, sock_read, ServerTimeoutError
        return "timeout"
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
        self._worker_ids = WorkerIds()
        self._json_path = None
        if settings.worker_json_path:
            from jsonpath_ng.parser import parse as parse_json_path

            self._json_path = parse_json_path(settings.worker_json_path)
        # Set by the dispatcher just before it cancels requests, so aborted
        # requests carry the reason (drain timeout or max duration).
        self.abort_class = "aborted"
        # A burst's connections, opened and corked before its barrier.
        self.held: HeldBurst | None = None

    @property
    def slots(self) -> Slots:
        """The pool's slots, for an issuer that takes them itself (the open loop)."""
        return self._slots

    async def call(self, record: RequestRecord, body: bytes | None, has_slot: bool = False) -> None:
        """Send one request; ``has_slot``: the caller already took its pool slot."""
        settings = self._settings
        recorder = self._recorder
        # Counted sent only once it has a connection: one that waited in vain never
        # reached the endpoint.
        if not has_slot and not self._slots.take_free():
            try:
                await self._wait_for_slot(record)
            except asyncio.CancelledError:
                recorder.on_never_sent(self.abort_class)
                raise
            except TimeoutError:
                recorder.on_never_sent("pool_timeout")
                return
        record.sent = now()
        recorder.on_sent(record)
        try:
            self._deadlines.start(record, record.sent)
            try:
                response = await self._session.request(
                    settings.method,
                    settings.url,
                    headers=settings.headers,
                    data=body,
                    # A followed redirect is a second request nobody planned, perhaps to
                    # another host: the 3xx is the endpoint's answer and is counted as such.
                    allow_redirects=False,
                )
                if isinstance(response, WireStampedResponse):
                    record.wire = response.request_sent_at
                    if self.held is not None:
                        record.wire = self.held.left_at(response.sent_over, record.wire)
                record.ttfb = now()
                record.status = status = response.status
                keep = settings.keep_body_bytes
                try:
                    content = response.content
                    if content.is_eof():
                        # The body came whole with the headers (a small response): take it
                        # as it is; read()'s chain of coroutines cost 3 µs a request.
                        # aiohttp's flow control bounds what can arrive this way.
                        payload = content.read_nowait()
                        record.body_bytes = len(payload)
                        if len(payload) > keep:
                            record.body_cut = True
                            payload = b""
                    else:
                        payload = await _read_body(content, keep, record)
                        await response.wait_for_close()  # the request's own writer too
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
                    worker = response.headers.get(worker_header)
                    if worker is not None:
                        record.worker = self._worker_ids.from_header(worker)
                if payload and (
                    self._json_path is not None
                    or _DELAY_MARKER in payload
                    or _EXECUTION_MARKER in payload
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
                record.error = classify_exception(error)
            if record.error == "internal":
                log.warning("request %d failed unexpectedly: %r", record.index, error)
        recorder.on_done(record)

    async def _wait_for_slot(self, record: RequestRecord) -> None:
        """Wait for a pooled connection; TimeoutError (a ``pool_timeout``) past the limit."""
        queued = now()
        async with asyncio.timeout(self._pool_timeout):
            await self._slots.wait()
        record.pool_wait = now() - queued

    def _read_json_fields(self, record: RequestRecord, payload: bytes) -> None:
        json_path = self._json_path if record.worker is None else None
        if json_path is None and _DELAY_MARKER not in payload and _EXECUTION_MARKER not in payload:
            return
        try:
            document = json.loads(payload)
        except ValueError:
            return
        if not isinstance(document, dict):
            return
        if json_path is not None:
            matches = json_path.find(document)
            if matches and matches[0].value is not None:
                record.worker = self._worker_ids.from_json(matches[0].value)
        record.delay = _milliseconds(document.get("delayTime"))
        record.execution = _milliseconds(document.get("executionTime"))


async def _read_body(content: aiohttp.StreamReader, keep: int, record: RequestRecord) -> bytes:
    """Read a body to its end as it arrives, counting its bytes into ``record`` (so a
    body that breaks off or outlasts the timeout is counted as far as it came): the
    body if it is at most ``keep`` bytes long, else nothing. What was held is let go
    the moment the body outgrows ``keep``: memory stays bounded whatever arrives."""
    held: list[bytes] = []
    size = 0
    pause_at = _READ_BEFORE_YIELDING
    while chunk := await content.readany():
        size += len(chunk)
        record.body_bytes = size
        if size >= pause_at:
            # A compressed body is inflated as fast as it is read, without a wait on
            # the socket: let the other requests have the loop now and then.
            pause_at = size + _READ_BEFORE_YIELDING
            await asyncio.sleep(0)
        if size <= keep:
            held.append(chunk)
        elif not record.body_cut:
            record.body_cut = True
            held.clear()
    return b"" if record.body_cut else b"".join(held)


def _milliseconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return value / 1000.0
    return None
