"""The incident, time-compressed, as two LoadTests against the same endpoint.

Real world (the incident): 30 calls, 3 images each, a 2-minute queue limit, GPU
workers that take tens of seconds to start and seconds to answer. Here every
timing is divided down so the demo runs in well under a minute, keeping the
ratios that decide the outcome:

- as the incident's script did it: each call uploads its own 3 images through an
  undersized pool (``mode: inline``, 2 uploads at a time) and is sent when they
  finish, so calls trickle in one by one;
- with herd: the same 90 images are staged first through a bounded semaphore
  (16 at a time, pool sized to it), then all 30 calls leave together.
"""

from __future__ import annotations

from dataclasses import dataclass

from herd.api.loading import parse_loadtest
from herd.api.spec import LoadTest

REQUESTS = 30
IMAGES_PER_REQUEST = 3
IMAGE_BYTES = 512 * 1024
BUCKET = "herd-demo"


@dataclass(frozen=True)
class EndpointTimings:
    """The simulated endpoint's settings (``herd sim`` flags), compressed ~20x."""

    scaler: str = "request-count"
    requests_per_worker: int = 4
    scale_window: str = "2s"
    service_time: str = "1s"
    cold_start: str = "500ms"
    max_workers: int = 10
    max_queue_wait: str = "4200ms"  # RunPod: 2 minutes
    idle_timeout: str = "30s"

    def flags(self) -> list[str]:
        return [
            "--scaler",
            self.scaler,
            "--requests-per-worker",
            str(self.requests_per_worker),
            "--scale-window",
            self.scale_window,
            "--service-time",
            self.service_time,
            "--cold-start",
            self.cold_start,
            "--max-workers",
            str(self.max_workers),
            "--max-queue-wait",
            self.max_queue_wait,
            "--idle-timeout",
            self.idle_timeout,
        ]


# How long one upload takes to the remote region the incident used (added by the
# S3 stand-in's proxy; moto on loopback alone answers in milliseconds).
UPLOAD_LATENCY_SECONDS = 0.5

_BODY = (
    '{"input": {"request": {{ request.index }}, '
    '"images": {{ uploads | map(attribute="url") | list | tojson }}}}'
)


def _loadtest(name: str, endpoint_url: str, s3_url: str, mode: str, concurrency: int) -> LoadTest:
    return parse_loadtest(
        {
            "apiVersion": "herd.dev/v1alpha1",
            "kind": "LoadTest",
            "metadata": {"name": name},
            "spec": {
                "target": {"url": f"{endpoint_url}/generate", "body": _BODY, "timeout": "30s"},
                "uploads": {
                    "endpoint": s3_url,
                    "region": "us-east-1",
                    "bucket": BUCKET,
                    "prefix": f"{name}/",
                    "perRequest": IMAGES_PER_REQUEST,
                    "source": {"synthetic": {"sizeBytes": IMAGE_BYTES}},
                    "concurrency": concurrency,
                    "mode": mode,
                },
                "load": {"pattern": "burst", "requests": REQUESTS, "maxDuration": "2m"},
                "scalingProbe": {"url": f"{endpoint_url}/health", "interval": "250ms"},
                "thresholds": ["error_rate < 1%", "workers >= 2"],
            },
        }
    )


def as_the_incident_did_it(endpoint_url: str, s3_url: str) -> LoadTest:
    return _loadtest("incident-replay", endpoint_url, s3_url, mode="inline", concurrency=2)


def with_herd(endpoint_url: str, s3_url: str) -> LoadTest:
    return _loadtest("with-herd", endpoint_url, s3_url, mode="prestage", concurrency=16)
