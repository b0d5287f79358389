"""A multi-process runner's metrics: one /metrics and one push group for the runner,
with workers counted once across its processes and counters that add up exactly."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter

import pytest
from prometheus_client.registry import CollectorRegistry

from herd.cli.main import PROCESS_COMMAND
from herd.engine.multicore.choice import ProcessChoice
from herd.engine.multicore.parent import MultiProcessRun
from herd.engine.run import RunOptions
from herd.metrics import MetricsSettings, PushSettings, exporting
from tests.conftest import loadtest
from tests.engine.test_accounting import assert_exact
from tests.metrics.conftest import (  # noqa: F401 (echo: a fixture)
    MIXED_WORKERS,
    echo,
    expected_code,
    mixed_spec,
)
from tests.metrics.servers import pushgateway, scrape
from tests.multicore.conftest import INDEX_BODY, children

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

TWO = ProcessChoice(2, "as asked (--processes)")


def two_processes(spec: dict, run_id: str) -> MultiProcessRun:
    return MultiProcessRun(
        loadtest(spec, name="multicore"),
        RunOptions(run_id=run_id, handle_signals=False),
        TWO,
        PROCESS_COMMAND,
        state_interval=0.2,
        metrics=True,
    )


def samples_of(families: dict, name: str) -> list:
    return [s for s in families.get(name, []) if s.name == f"{name}_total" or s.name == name]


async def test_the_runner_serves_one_metrics_endpoint_while_its_processes_run(echo):  # noqa: F811
    spec = mixed_spec(echo.url, requests=200)
    spec["target"]["body"] = '{"sleep": 0.02, "worker": "w{{ request.index % 12 }}"}'
    run = two_processes(spec, "multicore-scrape")
    settings = MetricsSettings(port=0, host="127.0.0.1")
    async with exporting(run, settings, CollectorRegistry()) as metrics:
        execution = asyncio.ensure_future(run.execute())
        seen: dict = {}
        for _ in range(200):  # bounded: 200 polls, 50 ms apart
            await asyncio.sleep(0.05)
            if execution.done():
                break
            seen = await asyncio.to_thread(scrape, metrics.url)
            if sum(s.value for s in samples_of(seen, "herd_requests")) >= 20:
                break
        report = await execution
    during = samples_of(seen, "herd_requests")
    assert during, "no requests counted on /metrics during the run"
    assert {s.labels["runner"] for s in during} == {"0"}  # one runner, not one per process
    assert sum(s.value for s in during) <= report.requests.sent
    observed = seen["herd_workers_observed"][0].value
    assert 1 <= observed <= MIXED_WORKERS
    assert_exact(report)


@pytest.mark.prometheus
async def test_the_final_push_adds_up_and_counts_each_worker_once(echo, tmp_path):  # noqa: F811
    with pushgateway(tmp_path) as gateway:
        run = two_processes(mixed_spec(echo.url, requests=40), "multicore-push")
        settings = MetricsSettings(push=PushSettings(gateway.url, interval=0.2))
        async with exporting(run, settings, CollectorRegistry()) as metrics:
            report = await run.execute()
            metrics.finish(report)
        families = scrape(f"{gateway.url}/metrics")

    def pushed(name: str) -> list:
        return [s for s in samples_of(families, name) if s.labels.get("run") == "multicore-push"]

    assert_exact(report)
    requests = pushed("herd_requests")
    assert {s.labels["runner"] for s in requests} == {"0"}
    assert sum(s.value for s in requests) == report.requests.sent == 40
    by_code = {s.labels["code"]: s.value for s in requests}
    assert by_code == Counter(expected_code(index) for index in range(40))
    # Both processes saw all 12 workers; the runner reports 12, not 24.
    per_process = [len(state["recorder"]["worker_requests"]) for state in run.process_states()]
    assert per_process == [MIXED_WORKERS, MIXED_WORKERS]
    assert pushed("herd_workers_observed")[0].value == report.workers.distinct == MIXED_WORKERS
    worker_requests = sum(s.value for s in pushed("herd_worker_requests"))
    assert worker_requests == sum(report.workers.requests.values())


async def test_a_lost_processs_share_is_in_the_final_metrics_as_in_the_report(fresh_target):
    spec = {
        "target": {"url": f"{fresh_target.url}/sleep/2", "body": INDEX_BODY},
        "load": {"pattern": "burst", "requests": 20},
    }
    before = set(children(os.getpid()))
    run = two_processes(spec, "multicore-lost")
    settings = MetricsSettings(port=0, host="127.0.0.1")
    async with exporting(run, settings, CollectorRegistry()) as metrics:
        execution = asyncio.ensure_future(run.execute())
        for _ in range(300):  # bounded: 300 polls, 50 ms apart
            if len(await asyncio.to_thread(fresh_target.record)) >= 20 or execution.done():
                break
            await asyncio.sleep(0.05)
        # Both processes' requests are at the target, unanswered: kill process 1.
        second = max(set(children(os.getpid())) - before)
        os.kill(second, signal.SIGKILL)
        report = await execution
        metrics.finish(report)
        final = await asyncio.to_thread(scrape, metrics.url)
    unknown = {s.labels["reason"]: s.value for s in samples_of(final, "herd_requests_unknown")}
    assert unknown == {"process_lost": 10}
    assert report.requests.unknown == 10
    assert sum(s.value for s in samples_of(final, "herd_requests")) == report.requests.sent == 10
    assert not samples_of(final, "herd_requests_never_sent")
