"""Starting the tests' real servers as child processes on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from herd.demo.services import ServerProcess, child_server, free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RecordingTarget:
    server: ServerProcess

    @property
    def url(self) -> str:
        return self.server.url

    def record(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}/_record", timeout=10) as response:
            return json.load(response)

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/_reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()


@contextlib.contextmanager
def recording_target(service_time: float = 0.05) -> Iterator[RecordingTarget]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.support.recording_target",
        "--port",
        str(port),
        "--service-time",
        str(service_time),
    ]
    with child_server(
        command, port, "/_record", env={"PYTHONPATH": str(REPO)}, cwd=str(REPO)
    ) as server:
        yield RecordingTarget(server)
