"""Shared pieces of the staging tests: an uploads section and a burst that uses it."""

from __future__ import annotations

from typing import Any

from herd.api.report import Report
from tests.conftest import run_spec
from tests.support.servers import RecordingTarget

# Every request's body lists its staged objects' URLs, so the target records them.
BODY = '{"i": {{ request.index }}, "images": {{ uploads | map(attribute="url") | list | tojson }}}'


def uploads_to(endpoint: str, bucket: str, **overrides: Any) -> dict[str, Any]:
    """3 objects of 4 KiB per request through 4 slots, kept after the run, unless overridden."""
    spec = {
        "endpoint": endpoint,
        "region": "us-east-1",
        "bucket": bucket,
        "perRequest": 3,
        "source": {"synthetic": {"sizeBytes": 4096}},
        "concurrency": 4,
        "cleanup": False,
    }
    spec.update(overrides)
    return spec


async def burst(
    target: RecordingTarget, uploads: dict[str, Any], requests: int, **options: Any
) -> Report:
    return await run_spec(
        {
            "target": {"url": f"{target.url}/work", "body": BODY},
            "uploads": uploads,
            "load": {"pattern": "burst", "requests": requests},
        },
        **options,
    )
