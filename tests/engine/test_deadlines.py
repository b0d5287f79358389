"""Whole-request timeouts (one timer for the run): slow requests time out as ``timeout``,
at their own deadline, and the task that ran them carries on; other cancellations stay
cancellations."""

from __future__ import annotations

import asyncio
import itertools
import time

from aiohttp import web

from herd.engine.deadlines import Deadlines
from herd.engine.records import RequestRecord, now
from tests.conftest import run_spec
from tests.engine.inline_server import hang, serving


async def test_a_closed_loop_times_out_slow_requests_and_carries_on():
    turns = itertools.count()

    async def every_other_one_hangs(request: web.Request) -> web.Response:
        if next(turns) % 2 == 0:
            await hang(request)
        return web.Response(text="ok")

    async with serving(every_other_one_hangs) as url:
        started = time.monotonic()
        report = await run_spec(
            {
                "target": {"url": url, "timeout": "200ms"},
                "load": {"pattern": "concurrency", "concurrency": 1, "requests": 6},
            }
        )
        elapsed = time.monotonic() - started
    # One loop ran all six: each timeout ended its request, not the loop.
    assert report.errors == {"timeout": 3}
    assert report.requests.ok == 3
    assert report.never_sent_reasons == {}
    assert 0.6 <= elapsed < 2.5
    assert 0.2 <= report.latency_seconds.max < 0.45


async def test_a_body_that_stalls_times_out():
    async def headers_then_silence(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b"x" * 10)
        await hang(request)
        return response

    async with serving(headers_then_silence) as url:
        report = await run_spec(
            {
                "target": {"url": url, "timeout": "250ms"},
                "load": {"pattern": "burst", "requests": 3},
            }
        )
    assert report.errors == {"timeout": 3}
    assert report.ttfb_seconds.max < 0.25  # the headers came in time; the body did not
    assert 0.25 <= report.latency_seconds.min <= report.latency_seconds.max < 0.5


async def _held(deadlines: Deadlines, record: RequestRecord, seconds: float) -> str:
    deadlines.start(record, now())
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        if Deadlines.consume_expiry(record):
            return "timeout"
        raise
    finally:
        deadlines.finish(record)
    return "done"


async def test_each_request_expires_at_its_own_deadline():
    deadlines = Deadlines(0.1)
    first, second, quick = RequestRecord(0, now()), RequestRecord(1, now()), RequestRecord(2, 0)
    started = now()
    a = asyncio.ensure_future(_held(deadlines, first, 5))
    await asyncio.sleep(0.05)
    b = asyncio.ensure_future(_held(deadlines, second, 5))
    c = asyncio.ensure_future(_held(deadlines, quick, 0.01))
    assert await c == "done" and not quick.timed_out
    assert await a == "timeout"
    first_expired = now() - started
    assert await b == "timeout"
    second_expired = now() - started
    assert 0.099 <= first_expired < 0.14
    assert 0.149 <= second_expired < 0.2
    assert not a.cancelling() and not b.cancelling()  # the expiry was spent, not left pending


async def test_a_stop_that_meets_an_expiry_is_still_a_cancellation():
    deadlines = Deadlines(0.05)
    record = RequestRecord(0, now())
    task = asyncio.ensure_future(_held(deadlines, record, 5))
    await asyncio.sleep(0)
    record.deadline = 0.0
    deadlines._expire()  # the deadline...
    task.cancel()  # ...and a stop, before the task runs again
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("a stop must not be swallowed as a timeout")
    assert record.timed_out
