"""What the tests (and the controllers they play) send to the API stand-in: plain HTTP,
as ``kubectl`` would, plus a bounded wait for the cluster to reach a state."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from herd_operator.kube import Resource

T = TypeVar("T")
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status


class Api:
    """JSON over HTTP to the API server at ``url`` (its own session, on the caller's loop)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        await self._session.close()

    async def _send(self, method: str, path: str, **options: Any) -> Any:
        async with self._session.request(method, self.url + path, **options) as response:
            body = await response.json(content_type=None)
            if response.status >= 400:
                raise ApiError(response.status, body)
            return body

    async def get(self, resource: Resource, namespace: str | None, name: str) -> dict | None:
        try:
            return await self._send("GET", resource.path(namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list(
        self, resource: Resource, namespace: str | None = None, selector: str = ""
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": selector} if selector else {}
        listing = await self._send("GET", resource.path(namespace), params=params)
        return listing["items"]

    async def create(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        return await self._send("POST", resource.path(body["metadata"].get("namespace")), json=body)

    async def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: dict[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        path = resource.path(namespace, name, subresource)
        return await self._send("PATCH", path, json=patch, headers=MERGE_PATCH)

    async def delete(self, resource: Resource, namespace: str, name: str) -> None:
        await self._send("DELETE", resource.path(namespace, name))


async def eventually(
    check: Callable[[], Awaitable[T] | T], timeout: float, what: str, interval: float = 0.1
) -> T:
    """The first truthy result of ``check`` (sync or async), polled for ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not within {timeout:.0f}s: {what} (last seen: {last!r})")
