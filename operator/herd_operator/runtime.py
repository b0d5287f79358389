"""The operator's composition root: options in, a running kopf operator out.

``run_operator`` wires the API client, metrics, reconcilers and handlers together and
runs kopf until its stop flag is raised (or SIGINT/SIGTERM, which kopf handles). The
``herd operator`` command and the tests both call it; nothing here is global.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

import kopf
from kubernetes import client as k8s
from prometheus_client import CollectorRegistry

from herd.api.spec import API_GROUP
from herd_operator.events import Event
from herd_operator.handlers import register
from herd_operator.health import serving_metrics
from herd_operator.kube import Kube, api_client
from herd_operator.operator_metrics import OperatorMetrics
from herd_operator.reconcilers import Reconcilers
from herd_operator.requeue import Requeue
from herd_operator.settings import DEFAULT_SETTINGS, RunnerSettings

Flag = asyncio.Event | threading.Event
"""kopf's stop and ready flags: a threading.Event when the operator runs in its own thread."""

KOPF_PREFIX = f"operator.{API_GROUP}"
"""Prefix of kopf's own annotations (handler progress, last handled spec) on herd objects."""


@dataclass(frozen=True)
class OperatorOptions:
    """How ``herd operator`` runs; each field says its unit and how to turn it off."""

    namespaces: tuple[str, ...] = ()
    """Namespaces to serve; empty: all namespaces."""
    liveness_endpoint: str | None = "http://0.0.0.0:8080/healthz"
    """kopf's liveness probe URL; ``None``: no probe endpoint."""
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = 9090
    """Port for ``/metrics`` and ``/readyz``; 0: any free port; ``None``: not served."""
    tick_seconds: float = 1.0
    """How often timers check whether an object is due (its ``requeue_after`` passed)."""
    resync_seconds: float = 60.0
    """Longest time between two reconciles of an object, events or not."""
    watch_timeout_seconds: float = 300.0
    """Server-side timeout of each watch request; the client waits 30 s longer."""
    api_timeout_seconds: float = 30.0
    """Timeout of each API call the reconcilers make."""
    retry_seconds: float = 5.0
    """Delay before a reconcile is retried after an API failure that may pass (5xx, 409)."""
    runner: RunnerSettings = field(default_factory=lambda: DEFAULT_SETTINGS)

    def __post_init__(self) -> None:
        if self.tick_seconds <= 0 or self.resync_seconds < self.tick_seconds:
            raise ValueError("tick_seconds must be positive and at most resync_seconds")


def kopf_settings(options: OperatorOptions) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    # Handler progress and the last handled spec live in annotations: the CRDs' status
    # schemas are the API's, with no room for kopf's notes.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration"
    )
    # kopf's timers need a finalizer on every LoadTest and run (to stop them on deletion):
    # named after herd, so `kubectl get -o yaml` says whose it is.
    settings.persistence.finalizer = f"{KOPF_PREFIX}/finalizer"
    settings.posting.enabled = True  # the reconcilers' Events; kopf's own logs are not posted
    settings.posting.reporting_component = "herd-operator"
    # One replica (the Deployment uses the Recreate strategy): no peering objects needed.
    settings.peering.standalone = True
    # Serving named namespaces needs no cluster-wide access: kopf neither lists namespaces
    # nor watches CRDs then (so the names are exact names, not patterns).
    settings.scanning.disabled = bool(options.namespaces)
    settings.watching.server_timeout = options.watch_timeout_seconds
    settings.watching.client_timeout = options.watch_timeout_seconds + 30
    settings.watching.connect_timeout = 10
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 60
    return settings


def _post_event(body: dict[str, Any], event: Event) -> None:
    # kopf posts for any object dict (it reads apiVersion, kind and metadata); its hint
    # names only its own Body view of one.
    kopf.event(body, type=event.type, reason=event.reason, message=event.message)  # type: ignore[arg-type]


async def run_operator(
    options: OperatorOptions,
    registry: CollectorRegistry,
    *,
    client: k8s.ApiClient | None = None,
    stop_flag: Flag | None = None,
    ready_flag: Flag | None = None,
) -> None:
    """Run the operator until ``stop_flag`` is set or a signal stops it (kopf handles
    SIGINT and SIGTERM in the main thread). ``ready_flag`` is set once it has started."""
    metrics = OperatorMetrics(registry)
    kube = Kube(
        client or api_client(),
        timeout_seconds=options.api_timeout_seconds,
        retry_seconds=options.retry_seconds,
    )
    requeue = Requeue(options.resync_seconds)
    edge = Reconcilers(kube, metrics, requeue, _post_event, settings=options.runner)
    handlers = kopf.OperatorRegistry()
    register(handlers, edge, options.tick_seconds)
    ready = ready_flag or asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        if options.metrics_port is not None:
            await stack.enter_async_context(
                serving_metrics(options.metrics_host, options.metrics_port, registry, ready)
            )
        await kopf.operator(
            registry=handlers,
            settings=kopf_settings(options),
            standalone=True,
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=options.liveness_endpoint,
            stop_flag=stop_flag,
            ready_flag=ready,
        )
