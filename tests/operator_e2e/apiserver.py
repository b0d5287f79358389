"""A Kubernetes API stand-in: kmock's ``KubernetesEmulator`` with the gaps herd needs filled.

kmock stores objects and serves discovery, list, watch, get, create, patch and delete
over real HTTP, keeping objects as plain JSON. This subclass adds what the API server
(not a controller) does and what kopf, the ``kubernetes`` client and ``kubectl`` rely on:

- metadata the server owns: ``uid``, ``generation`` (bumped when anything but metadata
  and status changes), ``creationTimestamp``, ``generateName``, and ``resourceVersion``
  as one counter across all writes, deletions included;
- watches that resume from a ``resourceVersion`` (kopf lists, then watches from the
  list's version), with nothing lost or repeated between the list and the watch;
- the status subresource: ``/status`` patches change only status, other writes never do;
- finalizers: a DELETE marks the object, the last finalizer's removal deletes it;
- ``labelSelector`` on lists, ``kind`` on list responses, and ``Table`` responses with the
  CRD's printer columns for ``kubectl get``;
- discovery of ``namespaces`` (kopf waits for it even cluster-wide) and no short names
  on subresources (kubectl warns of ambiguity otherwise);
- garbage collection of owned objects when their owner goes (the kube-controller-
  manager's job, but every cleanup the operator relies on goes through it);
- ``faults``: errors to answer instead, for admission refusals and outages.

Known gap left open: ``GET /api/v1/namespaces`` does not parse in kmock, so kopf runs
cluster-wide here.
"""

from __future__ import annotations

import asyncio
import copy
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock
import yaml
from kmock._internal import aiobus, dicts  # kmock's bus and patching, as its emulator uses

from herd_operator.status_patch import merge_patch
from tests.operator_e2e.tables import AGE_ONLY, table, wants_table

CRDS = Path(__file__).resolve().parents[2] / "crds"
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
BUILTINS: dict[str, dict[str, Any]] = {
    "v1/pods": {"kind": "Pod", "subresources": {"status"}},
    "v1/configmaps": {"kind": "ConfigMap"},
    "v1/events": {"kind": "Event"},
    "v1/namespaces": {"kind": "Namespace", "namespaced": False},
    "batch/v1/jobs": {"kind": "Job", "subresources": {"status"}},
    "apiextensions.k8s.io/v1/customresourcedefinitions": {
        "kind": "CustomResourceDefinition",
        "namespaced": False,
    },
}
CRD_RESOURCE = kmock.resource("apiextensions.k8s.io/v1/customresourcedefinitions")


def rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def matches_selector(labels: dict[str, str], selector: str | None) -> bool:
    """Equality and existence requirements, comma-separated (what herd and kopf send)."""
    for requirement in filter(None, (part.strip() for part in (selector or "").split(","))):
        key, op, value = re.fullmatch(r"(!?[^!=]+)(!=|==|=)?(.*)", requirement).groups()  # type: ignore[union-attr]
        if op is None:
            if (key.lstrip("!") in labels) == key.startswith("!"):
                return False
        elif (labels.get(key) == value) != (op != "!="):
            return False
    return True


def _with_data(request: kmock.Request, data: Any) -> kmock.Request:
    # kmock finds its reactions by the identity of the request it recorded, so the request
    # is changed in place rather than copied.
    object.__setattr__(request, "data", data)
    return request


def _essence(obj: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in ("metadata", "status")}


@dataclass
class Fault:
    """Answer the next ``times`` matching requests with an error instead of serving them."""

    action: kmock.action
    resource: str
    status: int
    message: str
    subresource: str | None = None
    times: int = 1

    def matches(self, request: kmock.Request) -> bool:
        return (
            self.times > 0
            and request.action == self.action
            and request.resource == kmock.resource(self.resource)
            and request.subresource == self.subresource
        )


@attrs.mutable(weakref_slot=True)
class _RecordingBus(aiobus.Bus[Any]):
    """A resource's watch events, also kept with their revisions for resuming watches."""

    server: HerdApiServer | None = None
    history: list[tuple[int, Any]] = attrs.field(factory=list)

    async def put(self, *items: Any) -> None:
        assert self.server is not None
        await super().put(*(self.server._record(self, item) for item in items))


class _Buses(dict):
    def __init__(self, server: HerdApiServer) -> None:
        super().__init__()
        self.server = server

    def __missing__(self, resource: kmock.resource) -> _RecordingBus:
        bus = self[resource] = _RecordingBus(server=self.server)
        return bus


@attrs.define(kw_only=True)
class HerdApiServer(kmock.KubernetesEmulator):
    """The emulator plus what a real API server does for herd's resources."""

    faults: list[Fault] = attrs.field(factory=list, init=False)
    """Errors to answer instead (admission refusals, outages), e.g. a 422 for a Job."""
    _revision: int = attrs.field(default=0, init=False)
    _listed_revision: int = attrs.field(default=0, init=False)
    _writes: asyncio.Lock = attrs.field(factory=asyncio.Lock, init=False)
    _columns: dict[kmock.resource, list[dict[str, Any]]] = attrs.field(factory=dict, init=False)
    _kinds: dict[kmock.resource, str] = attrs.field(factory=dict, init=False)
    _with_status: set[kmock.resource] = attrs.field(factory=set, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._buses = _Buses(self)
        for key, info in BUILTINS.items():
            self._declare(kmock.resource(key), **{"namespaced": True, "verbs": VERBS, **info})

    def _declare(self, resource: kmock.resource, **info: Any) -> None:
        self.resources[resource] = kmock.ResourceInfo(**info)
        self._kinds[resource] = info["kind"]
        if "status" in info.get("subresources", ()):
            self._with_status.add(resource)

    def install_crd(self, crd: dict[str, Any]) -> None:
        """Serve a CRD's resource, as the API server does once the CRD is applied."""
        spec, names = crd["spec"], crd["spec"]["names"]
        for version in spec["versions"]:
            resource = kmock.resource(spec["group"], version["name"], names["plural"])
            self._declare(
                resource,
                kind=names["kind"],
                singular=names["singular"],
                shortnames=set(names.get("shortNames", [])),
                categories=set(names.get("categories", [])),
                namespaced=spec["scope"] == "Namespaced",
                subresources=set(version.get("subresources", {})),
                verbs=VERBS,
            )
            self._columns[resource] = version.get("additionalPrinterColumns", [])
        stored = copy.deepcopy(crd)
        stored["metadata"].update(self._new_metadata())
        self.objects[CRD_RESOURCE, None, crd["metadata"]["name"]] = stored

    def install_crds(self, folder: Path = CRDS) -> None:
        for path in sorted(folder.glob("*.yaml")):
            self.install_crd(yaml.safe_load(path.read_text()))

    # --- revisions -------------------------------------------------------------------------

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _new_metadata(self) -> dict[str, Any]:
        return {
            "uid": str(uuid.uuid4()),
            "resourceVersion": self._next_revision(),
            "generation": 1,
            "creationTimestamp": rfc3339_now(),
        }

    def _record(self, bus: _RecordingBus, event: dict[str, Any]) -> dict[str, Any]:
        """Every event gets the revision of its write; a deletion is a write of its own."""
        if event["type"] == "DELETED":
            obj = event["object"]
            meta = {**obj["metadata"], "resourceVersion": self._next_revision()}
            event = {"type": "DELETED", "object": {**obj, "metadata": meta}}
        revision = int(event["object"]["metadata"]["resourceVersion"])
        self._listed_revision = max(self._listed_revision, revision)
        bus.history.append((revision, event))
        return event

    # --- writes ----------------------------------------------------------------------------

    def _stored(self, request: kmock.Request) -> Any:
        key = (request.resource, request.namespace, request.name)
        return self.objects[key] if key in self.objects and not self.objects[key].deleted else None

    def _current(self, request: kmock.Request) -> dict[str, Any] | None:
        stored = self._stored(request)
        return copy.deepcopy(stored.raw) if stored is not None else None

    def _stamp_create(self, request: kmock.Request) -> None:
        obj = copy.deepcopy(request.data or {})
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if request.namespace:
            meta["namespace"] = request.namespace
        meta.update(self._new_metadata())
        if request.resource in self._with_status:
            obj.pop("status", None)  # set through /status only
        _with_data(request, obj)

    def _stamp_update(self, request: kmock.Request, current: dict[str, Any]) -> None:
        try:
            proposed = dict(dicts.patch_dict(copy.deepcopy(current), request.data or {}))
        except jsonpatch.JsonPatchException as error:  # a failed "test" op: kopf's precondition
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(error)) from None
        if request.subresource == "status":
            new = {**current, "status": proposed.get("status")}
        elif request.resource in self._with_status:
            new = {**proposed, "status": current.get("status")}
        else:
            new = proposed
        if new.get("status") is None:
            new.pop("status", None)
        owned = ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp")
        meta = new["metadata"] = {
            **(current["metadata"] if request.subresource == "status" else proposed["metadata"]),
            **{key: current["metadata"][key] for key in owned if key in current["metadata"]},
        }
        generation = current["metadata"].get("generation", 1)
        meta["generation"] = generation + (_essence(new) != _essence(current))
        meta["resourceVersion"] = self._next_revision()
        _with_data(request, merge_patch(current, new))

    async def _mark_for_deletion(self, resource: kmock.resource, stored: Any) -> None:
        """An object with finalizers is only marked: its finalizers' owners clean up."""
        if stored.raw["metadata"].get("deletionTimestamp"):
            return
        marker = {"deletionTimestamp": rfc3339_now(), "resourceVersion": self._next_revision()}
        stored.patch({"metadata": marker})
        await self._buses[resource].put({"type": "MODIFIED", "object": stored.raw})

    async def _collect_garbage(self, owner_uid: str) -> None:
        """Delete what ``owner_uid`` owned (and what that owned), as the garbage collector
        does in the background."""
        for (resource, _, _), stored in list(self.objects.items()):
            if stored.deleted:
                continue
            meta = stored.raw["metadata"]
            if not any(ref.get("uid") == owner_uid for ref in meta.get("ownerReferences") or []):
                continue
            if meta.get("finalizers"):
                await self._mark_for_deletion(resource, stored)
            else:
                raw = stored.raw
                stored.delete()
                await self._buses[resource].put({"type": "DELETED", "object": raw})
                await self._collect_garbage(meta["uid"])

    async def _collect_if_orphaned(self, resource: kmock.resource, created: dict[str, Any]) -> None:
        """An object created for an owner that is gone already goes too (say, a pod the Job
        controller created just after its Job was deleted)."""
        owners = {ref["uid"] for ref in created["metadata"].get("ownerReferences") or []}
        alive = {
            stored.raw["metadata"]["uid"] for stored in self.objects.values() if not stored.deleted
        }
        if owners and not owners & alive:
            meta = created["metadata"]
            stored = self.objects[resource, meta.get("namespace"), meta["name"]]
            raw = stored.raw
            stored.delete()
            await self._buses[resource].put({"type": "DELETED", "object": raw})

    def _inject_fault(self, request: kmock.Request) -> None:
        for fault in self.faults:
            if fault.matches(request):
                fault.times -= 1
                reason = "Invalid" if fault.status == 422 else "ServiceUnavailable"
                raise kmock.KubernetesError(
                    status=fault.status, reason=reason, message=fault.message
                )

    async def _handle(self, request: kmock.Request) -> Any:
        self._inject_fault(request)
        writes = (kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE)
        if request.resource is None or request.action not in writes:
            return await super()._handle(request)
        async with self._writes:  # one write at a time: revisions in the order of writes
            current = self._current(request) if request.name else None
            if request.action == kmock.action.CREATE:
                self._stamp_create(request)
            elif request.action == kmock.action.UPDATE and current is not None:
                self._stamp_update(request, current)
            elif request.action == kmock.action.DELETE and current is not None:
                if current["metadata"].get("finalizers"):
                    async with self._lock:
                        await self._mark_for_deletion(request.resource, self._stored(request))
                    return aiohttp.web.json_response(self._current(request))
            response = await super()._handle(request)
            options = request.data if isinstance(request.data, dict) else {}
            async with self._lock:
                if request.action == kmock.action.CREATE:
                    await self._collect_if_orphaned(request.resource, options)
                # Gone now: by a DELETE, or by a patch that removed the last finalizer.
                orphaning = options.get("propagationPolicy") == "Orphan"
                if current is not None and self._current(request) is None and not orphaning:
                    await self._collect_garbage(current["metadata"]["uid"])
            return response

    # --- reads -----------------------------------------------------------------------------

    def _objects_of(self, request: kmock.Request) -> list[dict[str, Any]]:
        return [
            stored.raw
            for (resource, namespace, _), stored in self.objects.items()
            if resource == request.resource
            and not stored.deleted
            and request.namespace in (None, namespace)
            and _named(stored.raw, request)
        ]

    async def _serve_list(self, request: kmock.Request) -> Any:
        if request.resource not in self._get_resources():
            raise kmock.KubernetesResourceNotFoundError()
        async with self._lock:  # kmock writes under this lock: the items match the revision
            items, revision = self._objects_of(request), str(self._listed_revision)
        selector = request.params.get("labelSelector")
        items = [
            item
            for item in items
            if matches_selector((item.get("metadata") or {}).get("labels") or {}, selector)
        ]
        if wants_table(request.headers.get("Accept", "")):
            return table(items, self._columns.get(request.resource, AGE_ONLY), revision)
        resource = request.resource
        return {
            "apiVersion": f"{resource.group}/{resource.version}".lstrip("/"),
            "kind": f"{self._kinds.get(resource, '')}List",
            "metadata": {"resourceVersion": revision},
            "items": items,
        }

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        """Changes after ``resourceVersion`` (or every object as ADDED without one), then
        every change as it happens, with nothing lost in between."""
        _stream_as_json(request)
        yield b""
        bus = self._buses[request.resource]
        since = request.params.get("resourceVersion", "")
        async with self._lock:
            mark = await bus.mark()
            if since.isdigit():
                backlog = [event for revision, event in bus.history if revision > int(since)]
            else:
                backlog = [{"type": "ADDED", "object": raw} for raw in self._objects_of(request)]
        try:
            for event in backlog:
                if _watched(event["object"], request):
                    yield event
            async for event in bus.stream(since=mark):
                if _watched(event["object"], request):
                    yield event
        finally:
            await bus.unmark(mark)

    async def _serve_fetch(self, request: kmock.Request) -> Any:
        obj = await super()._serve_fetch(request)
        if wants_table(request.headers.get("Accept", "")):
            columns = self._columns.get(request.resource, AGE_ONLY)
            return table([obj], columns, obj["metadata"]["resourceVersion"])
        return obj

    async def _serve_version(self, request: kmock.Request) -> Any:
        discovery = await super()._serve_version(request)
        for entry in discovery["resources"]:
            if "/" in entry["name"]:  # a subresource: kubectl would match its short names too
                entry["shortNames"], entry["categories"] = [], []
        return discovery


def _named(obj: dict[str, Any], request: kmock.Request) -> bool:
    """The one field selector clients use on herd's kinds (``kubectl wait`` sends it)."""
    selector = request.params.get("fieldSelector", "")
    if not selector.startswith("metadata.name="):
        return True
    return bool(obj["metadata"].get("name") == selector.removeprefix("metadata.name="))


def _watched(obj: dict[str, Any], request: kmock.Request) -> bool:
    return request.namespace in (None, obj["metadata"].get("namespace")) and _named(obj, request)


def _stream_as_json(request: kmock.Request) -> None:
    """Label the watch stream application/json, as the API server does: kmock streams are
    octet-streams, which client-go's watch (kubectl wait) refuses. aiohttp calls the
    request's prepare hook just before it sends the headers."""
    raw = request._raw_request
    if raw is None:
        return

    async def as_json(response: Any) -> None:
        response.content_type = "application/json"

    raw._prepare_hook = as_json  # type: ignore[method-assign]
