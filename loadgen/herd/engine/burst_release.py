"""A burst's requests leaving the client together, not one core's pace apart.

When the barrier opens, the event loop builds and writes one request after another,
30-35 µs each on one core: 1,000 requests would trickle out over 35 ms, and the
endpoint would see a ramp instead of the burst it was sent. So the burst's
connections are opened before the barrier (no handshake after it) and corked
(``TCP_CORK``): what is written after the barrier waits in the kernel until the
loop has written every request, then one ``setsockopt`` per connection lets them
all go, a few microseconds apart.

The cork is Linux's; elsewhere the connections are still opened in advance. The
kernel sends corked data after 200 ms whatever happens, so a burst too large to
write in that time is no worse off than without the cork.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from contextlib import suppress

import aiohttp
from aiohttp.connector import Connection
from yarl import URL

from herd.engine.records import now

log = logging.getLogger(__name__)

_CORK: int | None = getattr(socket, "TCP_CORK", None)


class HeldBurst:
    """Connections opened ahead of a burst, holding its requests until ``let_go``."""

    def __init__(self) -> None:
        self._corked: list[tuple[object, socket.socket]] = []  # (protocol, its socket)
        self._let_go_at: dict[object, float] = {}
        self.opened = 0

    @classmethod
    async def prepare(cls, session: aiohttp.ClientSession, url: str, count: int) -> HeldBurst:
        """Open up to ``count`` connections to ``url``'s server, cork them and leave them
        idle in ``session``'s pool. A connection that cannot be opened is left to its
        request to open (and to fail, counted like any other)."""
        held = cls()
        connector = session.connector
        assert connector is not None
        # Read for its connection key only (scheme, host, port, TLS): the key the
        # session's own requests to ``url`` look for in the pool.
        request = aiohttp.ClientRequest("GET", URL(url), loop=asyncio.get_running_loop())
        outcomes = await asyncio.gather(
            *(connector.connect(request, [], session.timeout) for _ in range(count)),
            return_exceptions=True,
        )
        connections = [outcome for outcome in outcomes if isinstance(outcome, Connection)]
        failed = [outcome for outcome in outcomes if not isinstance(outcome, Connection)]
        for connection in connections:
            held._cork(connection)
            connection.release()  # idle in the pool, for the burst's requests to take
        held.opened = len(connections)
        if failed:
            first = failed[0]
            cause = getattr(first, "os_error", None) or first  # aiohttp wraps the OS error
            log.warning(
                "opened %d of %d connections before the burst (%s: %s); the others' "
                "requests connect after the barrier",
                held.opened,
                count,
                type(cause).__name__,
                getattr(cause, "strerror", None) or cause,
            )
        return held

    def _cork(self, connection: Connection) -> None:
        transport, protocol = connection.transport, connection.protocol
        sock = transport.get_extra_info("socket") if transport is not None else None
        if _CORK is None or sock is None or protocol is None:
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _CORK, 1)
        except OSError:
            return
        self._corked.append((protocol, sock))

    def let_go(self) -> None:
        """Send what every corked connection holds, stamping when each one went."""
        corked, self._corked = self._corked, []
        if _CORK is None:  # nothing was corked
            return
        let_go_at = self._let_go_at
        for protocol, sock in corked:
            with suppress(OSError):  # closed meanwhile: its request opened another
                sock.setsockopt(socket.IPPROTO_TCP, _CORK, 0)
            let_go_at[protocol] = now()

    def left_at(self, protocol: object, written_at: float) -> float:
        """When a request written at ``written_at`` over ``protocol`` left the client."""
        return max(written_at, self._let_go_at.get(protocol, written_at))
