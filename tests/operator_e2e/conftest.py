"""Fixtures: an API server stand-in on 127.0.0.1 loaded with herd's CRDs, the controllers
the tests play, and the operator running against them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock
import pytest
from kubernetes.config import kube_config

from herd_operator.runtime import OperatorOptions
from herd_operator.settings import RunnerSettings
from tests.operator_e2e.api import Api
from tests.operator_e2e.apiserver import HerdApiServer
from tests.operator_e2e.controllers import JobController, Kubelet, keep_running
from tests.operator_e2e.operators import OperatorThread, running_operator

NAMESPACE = "perf"
STARTUP_ALLOWANCE = 2
"""Seconds from a run's creation to its synchronized start: enough for local runners."""

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: stand-in, cluster: {{server: "{url}"}}}}]
users: [{{name: tester, user: {{token: not-checked}}}}]
contexts: [{{name: stand-in, context: {{cluster: stand-in, user: tester, namespace: {ns}}}}}]
current-context: stand-in
"""


def operator_options(**overrides: Any) -> OperatorOptions:
    """The operator as the tests run it: quick timers, runners that start soon."""
    options: dict[str, Any] = {
        "liveness_endpoint": None,
        "metrics_port": None,
        "tick_seconds": 0.2,
        "resync_seconds": 5.0,
        "watch_timeout_seconds": 30.0,
        "api_timeout_seconds": 10.0,
        "retry_seconds": 0.5,
        "runner": RunnerSettings(startup_allowance_seconds=STARTUP_ALLOWANCE),
    }
    return OperatorOptions(**{**options, **overrides})


@dataclass
class Cluster:
    """The API stand-in and the tests' view of it."""

    server: HerdApiServer
    url: str
    api: Api
    kubeconfig: Path
    kubelet: Kubelet
    jobs: JobController
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def requests_to(self, method: str, path_part: str) -> list[kmock.Request]:
        """Requests the server received, e.g. every ``POST`` to ``/jobs``."""
        return [
            request
            for request in self.server
            if request.method.value == method and path_part in request.url.path
        ]


@pytest.fixture
async def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    async with HerdApiServer() as server, kmock.Server(server) as http:
        server.install_crds()
        url = str(http.url).rstrip("/")
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(KUBECONFIG.format(url=url, ns=NAMESPACE))
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        # The client reads KUBECONFIG once, when imported.
        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
        api = Api(url)
        kubelet = Kubelet(api, tmp_path / "nodes")
        jobs = JobController(api)
        state = Cluster(server, url, api, kubeconfig, kubelet, jobs)
        state.tasks = [
            asyncio.create_task(keep_running(jobs.step)),
            asyncio.create_task(keep_running(kubelet.step)),
        ]
        try:
            yield state
        finally:
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)
            await kubelet.stop()
            await api.close()


@pytest.fixture
async def operator(cluster: Cluster) -> AsyncIterator[OperatorThread]:
    """The operator, running in this process (in its own thread) against ``cluster``."""
    async with running_operator(operator_options()) as running:
        yield running
