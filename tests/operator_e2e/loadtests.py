"""LoadTest objects the end-to-end tests apply."""

from __future__ import annotations

from typing import Any

from tests.operator_e2e.conftest import NAMESPACE


def loadtest(name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": {"name": name, "namespace": NAMESPACE, **metadata},
        "spec": spec,
    }


def burst_spec(
    url: str, requests: int = 30, parallelism: int = 3, path: str = "/generate", **extra: Any
) -> dict[str, Any]:
    """A burst split over ``parallelism`` runners, judged on the merged results."""
    return {
        "target": {"url": f"{url}{path}", "body": '{"n": {{ request.index }}}'},
        "load": {"pattern": "burst", "requests": requests, "maxDuration": "60s"},
        "thresholds": ["p95 < 2s", "error_rate < 1%", "workers >= 2"],
        "parallelism": parallelism,
        **extra,
    }
