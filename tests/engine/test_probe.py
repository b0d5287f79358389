"""The scaling probe samples the endpoint's own view during the run."""

from __future__ import annotations

import itertools

from herd.demo.services import free_port
from tests.conftest import run_spec


async def test_probe_samples_through_the_run(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/0.5"},
            "load": {"pattern": "concurrency", "concurrency": 6, "duration": "1500ms"},
            "scalingProbe": {"url": f"{fresh_target.url}/health", "interval": "200ms"},
        }
    )
    probe = report.scaling_probe
    assert probe is not None and probe.failures == 0
    # ~2 s of run polled every >= 200 ms: several samples, never more than the interval allows.
    assert 5 <= probe.samples <= 11
    times = [sample.t for sample in probe.series]
    assert all(b - a >= 0.199 for a, b in itertools.pairwise(times))  # t is rounded to 1 ms
    assert probe.max_workers_running == 6
    assert probe.max_in_queue == 0
    # The probe's polls are not load: the target saw only the load's requests.
    assert len(fresh_target.record()) == report.requests.sent


async def test_probe_failures_are_counted_not_fatal(fresh_target):
    closed = free_port()
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work"},
            "load": {"pattern": "rate", "rate": 20, "duration": "1s"},
            "scalingProbe": {"url": f"http://127.0.0.1:{closed}/health", "interval": "250ms"},
        }
    )
    assert report.requests.ok == 20
    assert report.scaling_probe.samples == 0
    assert report.scaling_probe.failures >= 3
    assert report.scaling_probe.errors == {"unreachable": report.scaling_probe.failures}


async def test_worker_scale_out_timeline(fresh_target):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/sleep/0.3"},
            "load": {"pattern": "burst", "requests": 5},
        }
    )
    record = fresh_target.record()
    workers = {entry["worker"] for entry in record}
    assert set(report.workers.requests) == workers
    assert list(report.workers.time_to_workers_seconds) == ["1", "2", "3", "4", "5"]
    times = list(report.workers.time_to_workers_seconds.values())
    assert times == sorted(times) and 0.3 <= times[0] < 0.6
    assert sum(bucket.active_workers for bucket in report.timeline.buckets) >= 5
