"""The operator as the tests run it: in this process (in a thread of its own), or as
``herd operator`` in a child process, as it runs in a pod."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from herd.demo.services import free_port, stop_process
from herd_operator.runtime import OperatorOptions, run_operator
from tests.operator_e2e.api import eventually

OPERATOR_TIMEOUT = 20.0
"""Longest an operator may take to start or to stop."""


class OperatorThread:
    """The operator in its own thread and event loop, as in its own process: kopf cancels
    every task of its loop when it stops, which must not include the tests' own."""

    def __init__(self, options: OperatorOptions) -> None:
        self.registry = CollectorRegistry()
        self._stop, self._ready = threading.Event(), threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(options,), daemon=True)

    def _main(self, options: OperatorOptions) -> None:
        try:
            asyncio.run(
                run_operator(options, self.registry, stop_flag=self._stop, ready_flag=self._ready)
            )
        except BaseException as error:  # reported to the test by start() and stop()
            self._error = error

    async def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + OPERATOR_TIMEOUT
        while not self._ready.is_set() and self._thread.is_alive():
            assert time.monotonic() < deadline, "the operator did not start"
            await asyncio.sleep(0.05)
        self._raise_error()

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join, OPERATOR_TIMEOUT)
        assert not self._thread.is_alive(), "the operator did not stop"
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


@contextlib.asynccontextmanager
async def running_operator(options: OperatorOptions) -> AsyncIterator[OperatorThread]:
    operator = OperatorThread(options)
    await operator.start()
    try:
        yield operator
    finally:
        await operator.stop()


@dataclass
class OperatorProcess:
    """``herd operator --all-namespaces`` as its own process, as it runs in a pod."""

    process: subprocess.Popen
    liveness_url: str
    metrics_url: str
    log: Path

    async def wait_ready(self) -> None:
        async def ready() -> bool:
            assert self.process.poll() is None, f"herd operator exited: {self.log.read_text()}"
            return await http_status(self.metrics_url + "/readyz") == 200

        await eventually(ready, OPERATOR_TIMEOUT, "herd operator ready")

    def crash(self) -> None:
        """SIGKILL: no cleanup, as when a node dies or the container is OOM-killed."""
        self.process.kill()
        self.process.wait(OPERATOR_TIMEOUT)

    def stop(self) -> None:
        stop_process(self.process, OPERATOR_TIMEOUT)


async def http_status(url: str) -> int | None:
    """The HTTP status ``url`` answers with; ``None`` when nothing answers."""

    def fetch() -> int | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    return await asyncio.to_thread(fetch)


async def http_text(url: str) -> str:
    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()

    return await asyncio.to_thread(fetch)


def start_operator_process(
    kubeconfig: Path,
    startup_allowance: int,
    log: Path,
    env: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
) -> OperatorProcess:
    """``herd operator --all-namespaces`` against the cluster ``kubeconfig`` names, with
    ``env`` added to its environment (the chart's ``HERD_*`` settings, say) and
    ``options`` added to its command line."""
    liveness, metrics = free_port(), free_port()
    command = [
        sys.executable, "-m", "herd.cli", "operator", "--all-namespaces",
        "--liveness", f"http://127.0.0.1:{liveness}/healthz",
        "--metrics-host", "127.0.0.1", "--metrics-port", str(metrics),
        "--startup-allowance", str(startup_allowance), "--resync", "5", "-v", *options,
    ]  # fmt: skip
    environment = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(kubeconfig), **(env or {})}
    with log.open("ab") as output:
        process = subprocess.Popen(command, env=environment, stdout=output, stderr=output)
    return OperatorProcess(
        process, f"http://127.0.0.1:{liveness}/healthz", f"http://127.0.0.1:{metrics}", log
    )
