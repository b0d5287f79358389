"""The simulated endpoint (``herd sim``) in a child process, and its ground truth."""

from __future__ import annotations

import json
import sys
import urllib.request
from contextlib import AbstractContextManager
from dataclasses import dataclass

from herd.demo.services import ServerProcess, child_server, free_port

_CONTROL_TIMEOUT = 10.0


def sim_endpoint(flags: list[str]) -> AbstractContextManager[ServerProcess]:
    """``herd sim`` on 127.0.0.1 with ``flags``, for the duration of a ``with`` block."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "herd.cli",
        "sim",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *flags,
    ]
    return child_server(command, port, "/health")


@dataclass(frozen=True)
class GroundTruth:
    """What the endpoint itself recorded about a run."""

    arrivals: list[float]
    distinct_workers: int
    requests_per_worker: dict[str, int]
    status_counts: dict[str, int]

    @property
    def arrival_spread(self) -> float:
        return max(self.arrivals) - min(self.arrivals) if self.arrivals else 0.0


def ground_truth(server: ServerProcess) -> GroundTruth:
    with urllib.request.urlopen(f"{server.url}/_sim/record", timeout=_CONTROL_TIMEOUT) as answer:
        record = json.load(answer)
    summary = record["summary"]
    return GroundTruth(
        arrivals=[entry["arrival"] for entry in record["requests"]],
        distinct_workers=summary["distinct_workers"],
        requests_per_worker=summary["requests_per_worker"],
        status_counts=summary["status_counts"],
    )
