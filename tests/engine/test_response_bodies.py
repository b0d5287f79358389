"""Response bodies are read as they arrive and counted, never held beyond
``keepResponseBytes``: one endpoint sending a huge, endless or inflating body cannot
exhaust a runner's memory or hold up its event loop."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import run_spec
from tests.engine.inline_server import serving
from tests.engine.test_accounting import assert_exact

MiB = 1 << 20
# herd itself (interpreter, aiohttp, pydantic, …) takes about 80 MB on this kind of run;
# the bound is 200 MB whatever the endpoint sends.
RSS_BOUND_BYTES = 200 * MiB
TIME = "/usr/bin/time"  # GNU time (Debian package time; scripts/test.sh installs it)


def herd_run_rss(tmp_path: Path, target: dict, load: dict) -> tuple[dict, int]:
    """Run ``herd run`` in a child process (one process: the load runs in it) and
    return its report and its own peak RSS in bytes."""
    spec = tmp_path / "loadtest.yaml"
    spec.write_text(
        json.dumps(
            {
                "apiVersion": "herd.dev/v1alpha1",
                "kind": "LoadTest",
                "metadata": {"name": "bodies"},
                "spec": {"target": target, "load": load},
            }
        )
    )
    report = tmp_path / "report.json"
    if not Path(TIME).exists():
        pytest.skip(f"{TIME} (Debian package time) is missing: peak memory cannot be read")
    herd = Path(sys.executable).with_name("herd")
    peak = tmp_path / "peak-kib"
    # GNU time measures its own child: a child this test forks directly would carry the
    # test process's resident size into its peak (the kernel keeps it across exec).
    command = [TIME, "-f", "%M", "-o", str(peak)]
    command += [str(herd), "run", "-q", "--processes", "1", "--report", str(report), str(spec)]
    child = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    errors = child.stderr.decode()
    assert child.returncode in (0, 1), errors
    return json.loads(report.read_text()), int(peak.read_text().split()[-1]) * 1024


# -- memory, in a child process ------------------------------------------------------


def test_a_400_mb_body_is_read_and_counted_with_flat_memory(fresh_target, tmp_path):
    size = 400 * MiB
    report, rss = herd_run_rss(
        tmp_path,
        {"url": f"{fresh_target.url}/bytes/{size}", "timeout": "60s"},
        {"pattern": "burst", "requests": 1},
    )
    assert report["requests"]["ok"] == 1
    assert report["responses"] == {"body_bytes": size, "bodies_cut": 1}
    assert rss < RSS_BOUND_BYTES, f"peak RSS {rss / MiB:.0f} MiB"


def test_an_endless_stream_ends_at_the_timeout_with_flat_memory(fresh_target, tmp_path):
    report, rss = herd_run_rss(
        tmp_path,
        {"url": f"{fresh_target.url}/stream", "timeout": "3s"},
        {"pattern": "burst", "requests": 2},
    )
    assert report["errors"] == {"timeout": 2}
    assert report["requests"]["sent"] == 2 == len(fresh_target.record())
    # What arrived before the timeout is counted: far more than herd may hold.
    assert report["responses"]["body_bytes"] > RSS_BOUND_BYTES
    assert report["responses"]["bodies_cut"] == 2
    assert rss < RSS_BOUND_BYTES, f"peak RSS {rss / MiB:.0f} MiB"


def test_a_small_gzip_body_that_inflates_to_400_mb_keeps_memory_flat(fresh_target, tmp_path):
    size = 400 * MiB
    report, rss = herd_run_rss(
        tmp_path,
        {"url": f"{fresh_target.url}/gzip/{size}", "timeout": "60s"},
        {"pattern": "burst", "requests": 1},
    )
    assert report["requests"]["ok"] == 1
    assert report["responses"] == {"body_bytes": size, "bodies_cut": 1}
    assert rss < RSS_BOUND_BYTES, f"peak RSS {rss / MiB:.0f} MiB"


# -- what is held, in this process ---------------------------------------------------


async def test_an_inflating_body_does_not_hold_up_the_event_loop(fresh_target):
    log = io.StringIO()
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/gzip/{256 * MiB}", "timeout": "60s"},
            "load": {"pattern": "concurrency", "concurrency": 1, "requests": 2},
        },
        request_log=log,
    )
    assert report.requests.ok == 2
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    reading = min(line["end"] - line["ttfb"] for line in lines)  # inflating one body
    # Read in one go, the whole inflation blocks the loop; in steps, a small part of it.
    assert report.client.event_loop_lag_seconds.max < reading / 5


async def test_json_fields_are_read_from_bodies_up_to_the_kept_size_only(fresh_target):
    queue = f"{fresh_target.url}/sleep/0.01"
    spec = {
        "target": {"url": queue, "workerId": {"header": None, "jsonPath": "$.seq"}},
        "load": {"pattern": "concurrency", "concurrency": 1, "requests": 4},
    }
    log = io.StringIO()
    kept = await run_spec(spec, request_log=log)
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    sizes = [line["bytes"] for line in lines]
    assert kept.workers.distinct == 4  # {"seq": n}: every response its own "worker"
    assert kept.responses.model_dump() == {"body_bytes": sum(sizes), "bodies_cut": 0}
    assert all(size == len(json.dumps({"seq": 0})) for size in sizes)

    spec["target"]["keepResponseBytes"] = sizes[0] - 1
    cut = await run_spec(spec)
    assert cut.workers.distinct == 0
    assert cut.responses.model_dump() == {"body_bytes": sum(sizes), "bodies_cut": 4}
    assert_exact(cut)
    assert cut.requests.ok == 4  # a long body is not a failure


async def test_queue_times_are_read_from_a_body_that_arrives_in_pieces():
    document = json.dumps({"delayTime": 1500, "executionTime": 250, "pad": "x" * 300_000})

    async def in_pieces(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        data = document.encode()
        for start in range(0, len(data), 50_000):
            await response.write(data[start : start + 50_000])
        await response.write_eof()
        return response

    async with serving(in_pieces) as url:
        report = await run_spec(
            {
                "target": {"url": url},
                "load": {"pattern": "concurrency", "concurrency": 1, "requests": 3},
            }
        )
    assert report.requests.ok == 3
    assert report.responses.body_bytes == 3 * len(document)
    assert report.queue_delay_seconds.max == pytest.approx(1.5, rel=0.01)
    assert report.execution_seconds.max == pytest.approx(0.25, rel=0.01)
