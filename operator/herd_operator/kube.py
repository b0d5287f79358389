"""The operator's calls to the Kubernetes API: plain dicts in and out.

The ``kubernetes`` client is synchronous, so every call runs in a worker thread and
never blocks the event loop kopf runs on. Failures are sorted by what the edge does
with them:

- 404 on read or delete: the object is absent (``None`` / ``False``), not an error;
- 409 on create: the object already exists, which for herd's deterministic names means
  an earlier attempt succeeded (``create`` returns ``False``);
- 400 and 422: ``Rejected``, the API server refuses the object and will keep refusing it;
- anything that may pass (other 409s, 429, 5xx, 401/403 until RBAC is fixed, timeouts,
  refused connections): ``kopf.TemporaryError``, so kopf retries the handler later.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import kopf
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from herd.api.crd import LOADTEST_PLURAL, RUN_PLURAL
from herd.api.spec import API_GROUP, API_VERSION

MERGE_PATCH = "application/merge-patch+json"
FORBIDDEN_RETRY_SECONDS = 60.0
"""Delay after 401/403: a missing RBAC rule is fixed by a person, not by retrying quickly."""


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str

    def path(self, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        parts += [part for part in (name, sub) if part]
        return "/".join(parts)


LOADTESTS = Resource(API_GROUP, API_VERSION, LOADTEST_PLURAL)
RUNS = Resource(API_GROUP, API_VERSION, RUN_PLURAL)
JOBS = Resource("batch", "v1", "jobs")
PODS = Resource("", "v1", "pods")
CONFIGMAPS = Resource("", "v1", "configmaps")


class Rejected(Exception):
    """The API server refused an object (400/422); its message says why."""


def api_client() -> k8s.ApiClient:
    """A client for the cluster the operator runs in, else the one ``KUBECONFIG`` names."""
    try:
        k8s_config.load_incluster_config()
    except k8s_config.ConfigException:
        k8s_config.load_kube_config()
    return k8s.ApiClient()


def _message(error: k8s.ApiException) -> str:
    try:
        return json.loads(error.body or b"{}").get("message") or str(error.reason)
    except (ValueError, AttributeError):
        return str(error.reason)


def _retry_after(error: k8s.ApiException, default: float) -> float:
    header = (error.headers or {}).get("Retry-After")
    try:
        return max(1.0, float(header)) if header else default
    except ValueError:
        return default


def _failure(error: Exception, what: str, retry_seconds: float) -> Exception:
    """The exception the edge raises for a failed call (see the module docstring)."""
    if isinstance(error, k8s.ApiException):
        message = f"{what}: HTTP {error.status}: {_message(error)}"
        if error.status in (400, 422):
            return Rejected(_message(error))
        if error.status in (401, 403):
            return kopf.TemporaryError(message, delay=FORBIDDEN_RETRY_SECONDS)
        return kopf.TemporaryError(message, delay=_retry_after(error, retry_seconds))
    return kopf.TemporaryError(f"{what}: {type(error).__name__}: {error}", delay=retry_seconds)


class Kube:
    """Get, list, create, patch and delete any resource, as dicts (camelCase, as served)."""

    def __init__(
        self, client: k8s.ApiClient, timeout_seconds: float = 30.0, retry_seconds: float = 5.0
    ) -> None:
        self._client = client
        self._timeout = (min(10.0, timeout_seconds), timeout_seconds)
        self._retry_seconds = retry_seconds
        """Delay before kopf retries after a failure that may pass (timeouts, 5xx, 409)."""

    def _call_sync(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        response = self._client.call_api(
            path,
            method,
            query_params=query or [],
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _preload_content=False,
            _request_timeout=self._timeout,
        )
        document: dict[str, Any] = json.loads(response.data or b"{}")
        return document

    async def _call(
        self, what: str, method: str, path: str, tolerate: tuple[int, ...] = (), **options: Any
    ) -> dict[str, Any] | None:
        """The response, or ``None`` for a status in ``tolerate``."""
        try:
            return await asyncio.to_thread(self._call_sync, method, path, **options)
        except k8s.ApiException as error:
            if error.status in tolerate:
                return None
            raise _failure(error, what, self._retry_seconds) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise _failure(error, what, self._retry_seconds) from error

    async def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        what = f"get {resource.plural} {namespace}/{name}"
        return await self._call(what, "GET", resource.path(namespace, name), tolerate=(404,))

    async def list(
        self, resource: Resource, namespace: str, labels: dict[str, str]
    ) -> list[dict[str, Any]]:
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        what = f"list {resource.plural} in {namespace} ({selector})"
        path = resource.path(namespace)
        listing = await self._call(what, "GET", path, query=[("labelSelector", selector)])
        return (listing or {}).get("items") or []

    async def create(self, resource: Resource, body: dict[str, Any]) -> bool:
        """Create ``body``; ``False`` when an object of that name already exists."""
        meta = body["metadata"]
        what = f"create {resource.plural} {meta.get('namespace')}/{meta['name']}"
        path = resource.path(meta.get("namespace"))
        return await self._call(what, "POST", path, tolerate=(409,), body=body) is not None

    async def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: dict[str, Any],
        subresource: str | None = None,
    ) -> None:
        """A JSON merge patch (for a dict body the ``kubernetes`` client would pick JSON Patch)."""
        what = f"patch {resource.plural} {namespace}/{name} {subresource or ''}".rstrip()
        path = resource.path(namespace, name, subresource)
        await self._call(what, "PATCH", path, body=patch, content_type=MERGE_PATCH)

    async def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        """Delete it and its dependents (a Job's pods); ``False`` when it was already gone."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        what = f"delete {resource.plural} {namespace}/{name}"
        path = resource.path(namespace, name)
        return await self._call(what, "DELETE", path, tolerate=(404,), body=options) is not None
