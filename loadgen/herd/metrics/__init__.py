"""Prometheus metrics of a run: served on ``/metrics`` and pushed to a Pushgateway.

    outcomes   the only per-request work: requests and durations by code
    collector  everything else, read from the engine at scrape/push time
    buckets    bucket bounds; HDR histograms turned into cumulative buckets
    families   metric families carrying the run's identity labels
    server     /metrics on the run's event loop
    pushing    Pushgateway pushes, during the run and a final one
    remote_write  the same to a Prometheus remote-write receiver
    export     wiring it to a LoadRun (``attach_metrics``, ``exporting``)

The engine knows nothing of this package: the exporter subscribes to the
recorder and reads the run's public state.
"""

from herd.metrics.export import MetricsSettings, RunMetrics, attach_metrics, exporting
from herd.metrics.pushing import PushSettings, delete_group
from herd.metrics.remote_write import RemoteWriteSettings

__all__ = [
    "MetricsSettings",
    "PushSettings",
    "RemoteWriteSettings",
    "RunMetrics",
    "attach_metrics",
    "delete_group",
    "exporting",
]
