"""Local stand-ins the demo (and the tests) start on loopback: an S3 API server.

The S3 stand-in is moto's real HTTP server in a child process, so herd talks to
it exactly as it talks to S3: signed requests over TCP, its own connection pool.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 5.0

# moto accepts any credentials; these only have to look like AWS ones.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAHERDDEMO00000000",
    "AWS_SECRET_ACCESS_KEY": "herd-demo-secret-key-not-a-real-one-000",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_serving(
    url: str, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until any HTTP answer comes back; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return  # it answered: serving
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing served {url} within {timeout:.0f}s") from None
            time.sleep(0.05)


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        stop_process(self.process, _STOP_TIMEOUT)


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, and SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@contextlib.contextmanager
def child_server(
    command: list[str],
    port: int,
    ready_path: str = "/",
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Iterator[ServerProcess]:
    """Run ``command`` (which serves on 127.0.0.1:``port``) for the duration of the block."""
    url = f"http://{LOOPBACK}:{port}"
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    server = ServerProcess(process, url)
    try:
        wait_until_serving(url + ready_path, _START_TIMEOUT, process)
        yield server
    finally:
        server.stop()


def moto_s3_server(
    host: str = LOOPBACK, port: int | None = None
) -> AbstractContextManager[ServerProcess]:
    """moto's S3 server in a child process."""
    port = port or free_port(host)
    command = [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
    return child_server(command, port, env=FAKE_AWS_ENV)


def remote_s3_proxy(upstream: str, latency: float) -> AbstractContextManager[ServerProcess]:
    """A latency-adding proxy in front of ``upstream`` (see ``herd.demo.remote_s3``)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "herd.demo.remote_s3",
        "--upstream",
        upstream,
        "--port",
        str(port),
        "--latency",
        str(latency),
    ]
    return child_server(command, port)
