"""Holding a runner's connections to the operator's target policy (``herd.api.policy``).

The operator checks the hosts a spec names, but a name can resolve to a metadata address,
``${VAR}`` can hide a host, and a redirect can point anywhere. So the runner checks twice:

- up front (``refusals``): every host the run will call, after ``${VAR}``, resolved: a run
  whose target only resolves to denied addresses is refused before any traffic (exit 2);
- at every connection: the connector's resolver refuses denied names and drops denied
  addresses, and its socket factory refuses to open a socket to a denied address (IP
  literals never reach a resolver). A refused request fails as ``target_denied``.

Both hooks are aiohttp's public connector options (``resolver``, ``socket_factory``).
"""

from __future__ import annotations

import asyncio
import socket
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from herd.api.policy import TargetPolicy, as_address, url_host

TARGET_DENIED = "target_denied"
"""The error class of a request whose connection the policy refused."""
_RESOLVE_SECONDS = 5.0  # the up-front look-up; a slower DNS is left to the connection check
_APPROVED_ADDRESSES = 4096  # resolved addresses of allowed names, remembered for sockets


class TargetDenied(OSError):
    """A connection the runner's target policy refuses.

    The message is the same for every refusal: aiohappyeyeballs keeps the exception
    itself only when all attempts failed alike, so the class survives several addresses.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("refused by the runner's target policy (HERD_RUNNER_POLICY)")
        self.detail = detail


def is_target_denied(error: BaseException) -> bool:
    """``error`` (as aiohttp raises it) is a connection the policy refused."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return isinstance(error.os_error, TargetDenied)
    return isinstance(error, TargetDenied)


class _GuardedResolver(AbstractResolver):
    def __init__(self, guard: TargetGuard) -> None:
        self._guard = guard
        self._inner = ThreadedResolver()  # aiohttp's default: the system's getaddrinfo

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        policy = self._guard.policy
        refusal = policy.refuse_name(host)
        if refusal is not None:
            raise TargetDenied(refusal.reason)
        resolved = await self._inner.resolve(host, port, family)
        kept = []
        for result in resolved:
            address = as_address(result["host"])
            if address is None or policy.refuse_address(address, host) is None:
                kept.append(result)
                self._guard.approve(result["host"])
        if not kept:
            raise TargetDenied(f"every address of {host} is refused")
        return kept

    async def close(self) -> None:
        await self._inner.close()


class TargetGuard:
    """One run's policy, as connector options and an up-front check."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self._approved: OrderedDict[str, None] = OrderedDict()

    def approve(self, host: str) -> None:
        """An address an allowed name resolved to may be connected to (allow lists)."""
        self._approved[host] = None
        self._approved.move_to_end(host)
        while len(self._approved) > _APPROVED_ADDRESSES:
            self._approved.popitem(last=False)

    def resolver(self) -> AbstractResolver:
        """A resolver for a connector (or aiobotocore's ``connector_args``)."""
        return _GuardedResolver(self)

    def socket_for(self, addr_info: AddrInfoType) -> socket.socket:
        """aiohttp's ``socket_factory``: refuse a socket to a denied address."""
        family, type_, proto, _, sockaddr = addr_info
        host = str(sockaddr[0])
        address = as_address(host)
        refusal = self.policy.refuse_address(address) if address is not None else None
        # An address an allowed name resolved to is held to the deny list only.
        if refusal is not None and (refusal.listed == "deny" or host not in self._approved):
            raise TargetDenied(refusal.reason)
        return socket.socket(family=family, type=type_, proto=proto)

    def connector_options(self) -> dict[str, Any]:
        """Keyword arguments for ``aiohttp.TCPConnector``."""
        return {"resolver": self.resolver(), "socket_factory": self.socket_for}

    async def refusals(self, urls: Mapping[str, str]) -> list[str]:
        """Each of ``urls`` (by the field that names it) the policy refuses, with why.

        A host whose look-up fails or is slow is not refused here: the connection check
        still holds it, and an endpoint that is not up yet may be on its way."""
        problems = []
        for field, url in urls.items():
            host = url_host(url)
            if host is None:
                continue
            static = self.policy.refuse_host(host)
            refusal = static.reason if static is not None else None
            if refusal is None and as_address(host) is None:
                refusal = await self._refuse_resolved(host)
            if refusal is not None:
                problems.append(
                    f"{field}: host {host} is refused by the runner's target policy: {refusal}"
                )
        return problems

    async def _refuse_resolved(self, host: str) -> str | None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(_RESOLVE_SECONDS):
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError):
            return None
        refusals = [
            self.policy.refuse_address(address, host)
            for address in {as_address(str(info[4][0])) for info in infos}
            if address is not None
        ]
        if refusals and all(refusal is not None for refusal in refusals):
            return "; ".join(sorted(refusal.reason for refusal in refusals if refusal))
        return None
