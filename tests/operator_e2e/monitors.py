"""The chart's prometheus-operator monitors as plain Prometheus scrape configurations.

prometheus-operator turns a PodMonitor into a ``kubernetes_sd_configs`` (role pod) job
whose relabelling keeps the selected pods' named port and sets ``namespace``, ``pod``,
``container``, ``job`` and ``endpoint`` from the discovery's ``__meta_kubernetes_*``
labels. Here the tests' kubelet is the discovery: it writes, for each runner pod it
starts, a ``file_sd`` target group with the same ``__meta_kubernetes_*`` labels
(``pod_targets``), and ``pod_monitor_job`` applies the relabelling the operator would
generate from the rendered PodMonitor, so what reaches Prometheus is decided by the
chart's object, not by the test. A ServiceMonitor of one Service becomes a static
target with the ServiceMonitor's ``honorLabels``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def _meta_label(name: str) -> str:
    return _INVALID.sub("_", name)


def _relabelings(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """prometheus-operator's RelabelConfig fields, in Prometheus' spelling."""
    names = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return [{names.get(key, key): value for key, value in item.items()} for item in items]


def pod_monitor_job(monitor: dict[str, Any], file_sd: Path) -> dict[str, Any]:
    """The scrape job prometheus-operator generates for the PodMonitor's first endpoint,
    with ``file_sd`` in place of Kubernetes discovery (and the tests' scrape interval)."""
    meta, spec = monitor["metadata"], monitor["spec"]
    (endpoint,) = spec["podMetricsEndpoints"]
    relabel: list[dict[str, Any]] = []
    for key, value in spec["selector"]["matchLabels"].items():
        label = _meta_label(key)
        relabel.append(
            {
                "action": "keep",
                "source_labels": [
                    f"__meta_kubernetes_pod_label_{label}",
                    f"__meta_kubernetes_pod_labelpresent_{label}",
                ],
                "regex": f"({re.escape(value)});true",
            }
        )
    namespaces = spec.get("namespaceSelector") or {}
    if not namespaces.get("any"):
        names = namespaces.get("matchNames") or [meta["namespace"]]
        relabel.append(
            {
                "action": "keep",
                "source_labels": ["__meta_kubernetes_namespace"],
                "regex": "|".join(re.escape(name) for name in names),
            }
        )
    relabel += [
        {
            "action": "keep",
            "source_labels": ["__meta_kubernetes_pod_container_port_name"],
            "regex": endpoint["port"],
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"target_label": "job", "replacement": f"{meta['namespace']}/{meta['name']}"},
        {"target_label": "endpoint", "replacement": endpoint["port"]},
    ]
    return {
        "job_name": f"podMonitor/{meta['namespace']}/{meta['name']}/0",
        "honor_labels": endpoint.get("honorLabels", False),
        "metrics_path": endpoint.get("path", "/metrics"),
        "file_sd_configs": [{"files": [str(file_sd)]}],
        "relabel_configs": relabel,
        "metric_relabel_configs": _relabelings(endpoint.get("metricRelabelings", [])),
    }


def service_monitor_job(monitor: dict[str, Any], address: str) -> dict[str, Any]:
    """The ServiceMonitor's first endpoint, scraped at ``address`` (its Service's one pod)."""
    meta = monitor["metadata"]
    (endpoint,) = monitor["spec"]["endpoints"]
    return {
        "job_name": f"serviceMonitor/{meta['namespace']}/{meta['name']}/0",
        "honor_labels": endpoint.get("honorLabels", False),
        "metrics_path": endpoint.get("path", "/metrics"),
        "static_configs": [{"targets": [address], "labels": {"job": meta["name"]}}],
    }


class PodTargets:
    """A ``file_sd`` file listing each started pod's container ports as Kubernetes'
    pod discovery would: one target per port, with its ``__meta_kubernetes_*`` labels."""

    def __init__(self, path: Path, ports: dict[str, dict[str, int]]) -> None:
        self.path = path
        self._ports = ports  # the kubelet's: pod name → port name → local port
        self._groups: list[dict[str, Any]] = []
        self._write()

    def add(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        (container,) = pod["spec"]["containers"]
        pod_labels: dict[str, str] = {}
        for key, value in (meta.get("labels") or {}).items():
            pod_labels[f"__meta_kubernetes_pod_label_{_meta_label(key)}"] = value
            pod_labels[f"__meta_kubernetes_pod_labelpresent_{_meta_label(key)}"] = "true"
        for port in container.get("ports", []):
            local = self._ports[meta["name"]][port["name"]]
            labels = {
                **pod_labels,
                "__meta_kubernetes_namespace": meta["namespace"],
                "__meta_kubernetes_pod_name": meta["name"],
                "__meta_kubernetes_pod_container_name": container["name"],
                "__meta_kubernetes_pod_container_port_name": port["name"],
                "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
            }
            self._groups.append({"targets": [f"127.0.0.1:{local}"], "labels": labels})
        self._write()

    def _write(self) -> None:
        # Whole or not at all: Prometheus may read the file at any moment.
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self._groups))
        os.replace(partial, self.path)
