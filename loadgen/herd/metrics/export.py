"""Wiring a run's metrics: what ``herd run --metrics-port/--pushgateway/--remote-write`` sets up.

``attach_metrics`` subscribes the per-request listener and registers the
collectors before ``execute()``; ``exporting`` also serves ``/metrics`` and
pushes for as long as its block runs, with the final push on the way out, so a
run that fails or is stopped still leaves its numbers behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from prometheus_client.registry import CollectorRegistry

from herd.api.report import Report
from herd.engine.multicore.parent import MultiProcessRun
from herd.engine.run import LoadRun
from herd.metrics.collector import DEFAULT_WORKER_LABELS, RunCollector, run_identity
from herd.metrics.outcomes import RequestOutcomes
from herd.metrics.processes import MergedOutcomes
from herd.metrics.pushing import PushCollector, Pusher, PushSettings
from herd.metrics.remote_write import RemoteWriter, RemoteWriteSettings
from herd.metrics.server import serving_metrics


@dataclass(frozen=True)
class MetricsSettings:
    """How a run's metrics get out; nothing is collected when neither is set."""

    port: int | None = None
    """Serve ``/metrics`` on this port during the run (0: any free port)."""
    host: str = "0.0.0.0"
    """Address to serve on; all interfaces by default, as a pod needs."""
    push: PushSettings | None = None
    remote_write: RemoteWriteSettings | None = None
    """Send to a Prometheus remote-write receiver during the run and once at its end."""
    worker_labels: int = DEFAULT_WORKER_LABELS
    """Workers named in ``worker`` labels before the rest fold into ``other``."""

    @property
    def enabled(self) -> bool:
        return self.port is not None or self.push is not None or self.remote_write is not None


class RunMetrics:
    """One run's registry and collector; ``finish`` adds the verdict."""

    def __init__(self, registry: CollectorRegistry, collector: RunCollector):
        self.registry = registry
        self.collector = collector
        self.url: str | None = None
        """Where ``/metrics`` is served, when it is."""

    def finish(self, report: Report) -> None:
        self.collector.report = report


def attach_metrics(
    load_run: LoadRun | MultiProcessRun,
    registry: CollectorRegistry,
    worker_labels: int = DEFAULT_WORKER_LABELS,
) -> RunMetrics:
    """Register ``load_run``'s metrics in ``registry``; call before ``execute()``."""
    outcomes: RequestOutcomes | MergedOutcomes
    if isinstance(load_run, MultiProcessRun):  # its processes count; it adds them up
        outcomes = MergedOutcomes(load_run)
    else:
        outcomes = RequestOutcomes()
        load_run.listeners.append(outcomes)
    collector = RunCollector(load_run, outcomes, worker_labels)
    registry.register(collector)
    return RunMetrics(registry, collector)


@asynccontextmanager
async def exporting(
    load_run: LoadRun | MultiProcessRun,
    settings: MetricsSettings,
    registry: CollectorRegistry | None = None,
) -> AsyncIterator[RunMetrics | None]:
    """Serve and push ``load_run``'s metrics while the block runs (None: not enabled)."""
    if not settings.enabled:
        yield None
        return
    registry = registry if registry is not None else CollectorRegistry()
    metrics = attach_metrics(load_run, registry, settings.worker_labels)
    async with AsyncExitStack() as stack:
        # Entered server first, so on the way out the final push goes before the server stops.
        if settings.port is not None:
            metrics.url = await stack.enter_async_context(
                serving_metrics(registry, settings.host, settings.port)
            )
        if settings.push is not None:
            identity = run_identity(load_run)
            pusher = Pusher(
                settings.push, registry, {"run": identity["run"], "runner": identity["runner"]}
            )
            registry.register(PushCollector(pusher, identity))
            await stack.enter_async_context(pusher)
        if settings.remote_write is not None:
            await stack.enter_async_context(RemoteWriter(settings.remote_write, registry))
        yield metrics
