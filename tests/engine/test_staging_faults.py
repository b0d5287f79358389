"""Staging under slow and failing S3, seen on the wire through a fault-injecting proxy.

herd talks to the proxy exactly as to S3 (signed HTTP, its own pool); the proxy
makes PUTs slow or answers them with S3 XML errors and counts what arrived, and
the recording target shows when the calls reached the endpoint. Nothing is mocked.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from herd.api.report import Report
from tests.conftest import s3_client
from tests.support.s3_fault_proxy import KeyFault, S3FaultProxy, s3_fault_proxy
from tests.support.servers import RecordingTarget
from tests.support.staging import burst, uploads_to

pytestmark = pytest.mark.timeout(20)

SLOW_PUT = 0.1  # seconds the proxy adds to every object PUT
BURST_TOGETHER = 0.1  # a burst "arrives together" within this spread


@pytest.fixture(scope="module")
def fault_proxy_server(s3_server) -> Iterator[S3FaultProxy]:
    with s3_fault_proxy(s3_server.url) as proxy:
        yield proxy


@pytest.fixture
def proxy(fault_proxy_server: S3FaultProxy) -> S3FaultProxy:
    """The proxy with no faults, no latency and zeroed counters."""
    fault_proxy_server.reset()
    return fault_proxy_server


def uploads_via(proxy: S3FaultProxy, bucket: str, **overrides: Any) -> dict[str, Any]:
    return uploads_to(
        proxy.url, bucket, **{"source": {"synthetic": {"sizeBytes": 1024}}, **overrides}
    )


def arrival_spread(target: RecordingTarget) -> float:
    arrivals = [entry["arrival"] for entry in target.record()]
    return max(arrivals) - min(arrivals)


def stored_keys(s3_server, bucket: str) -> list[str]:
    listing = s3_client(s3_server.url).list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def assert_accounting(report: Report) -> None:
    requests = report.requests
    assert requests.planned == requests.ok + requests.failed + requests.never_sent
    assert requests.sent == requests.ok + requests.failed
    assert requests.never_sent == sum(report.never_sent_reasons.values())


async def test_upload_semaphore_bounds_the_puts_on_the_wire_and_is_used_in_full(
    fresh_target, proxy, bucket
):
    """The bound is real (never more PUTs at once than ``concurrency``) and not
    accidentally tighter (e.g. a smaller S3 pool): slow PUTs fill all 4 slots."""
    proxy.configure(put_delay=SLOW_PUT)
    report = await burst(fresh_target, uploads_via(proxy, bucket, concurrency=4), requests=8)

    wire = proxy.stats()
    assert wire.puts_total == 24
    assert wire.peak_puts_in_flight == 4
    assert report.uploads.peak_in_flight == wire.peak_puts_in_flight
    assert report.uploads.concurrency == 4
    assert report.uploads.objects == 24
    assert report.requests.ok == 8


async def test_prestaged_burst_arrives_together_although_uploads_are_slow(
    fresh_target, proxy, bucket
):
    """The incident's fix: with prestaging, slow uploads delay the start but never
    spread the calls; every upload finished before the first call arrived."""
    proxy.configure(put_delay=SLOW_PUT)
    report = await burst(fresh_target, uploads_via(proxy, bucket, concurrency=8), requests=30)

    record = fresh_target.record()
    assert len(record) == 30
    arrivals = [entry["arrival"] for entry in record]
    assert max(arrivals) - min(arrivals) < BURST_TOGETHER
    wire = proxy.stats()
    assert wire.puts_total == 90
    assert wire.last_put_end is not None and wire.last_put_end <= min(arrivals)
    assert report.requests.ok == 30
    assert report.uploads.duration_seconds >= 90 / 8 * SLOW_PUT * 0.9  # uploads really were slow
    assert report.concurrency.burst_spread_seconds < BURST_TOGETHER  # herd agrees
    assert not [text for text in report.diagnostics if "upload" in text], report.diagnostics


async def test_inline_uploads_with_too_little_concurrency_reproduce_the_incident(
    fresh_target, proxy, bucket
):
    """Inline staging through 2 upload slots: calls leave as uploads finish, so the
    endpoint sees a trickle, and herd says it was the client's doing."""
    proxy.configure(put_delay=SLOW_PUT)
    uploads = uploads_via(proxy, bucket, concurrency=2, mode="inline")
    report = await burst(fresh_target, uploads, requests=12)

    record = fresh_target.record()
    assert len(record) == 12
    arrivals = sorted(entry["arrival"] for entry in record)
    assert arrivals[-1] - arrivals[0] > 5 * BURST_TOGETHER
    wire = proxy.stats()
    assert wire.peak_puts_in_flight <= 2
    assert wire.last_put_end is not None and arrivals[0] < wire.last_put_end  # interleaved
    assert report.requests.ok == 12
    assert report.client_limited is True
    assert any("upload" in text for text in report.diagnostics), report.diagnostics


async def test_slowdown_is_retried_with_backoff_and_counted(fresh_target, proxy, bucket, s3_server):
    """Every 503 SlowDown the store sent is one herd retry, counted as throttling:
    none is hidden in the SDK, none fails the run."""
    throttled = 5
    proxy.configure(slowdown_first=throttled)
    report = await burst(fresh_target, uploads_via(proxy, bucket, perRequest=2), requests=5)

    wire = proxy.stats()
    assert wire.faults_served == {"SlowDown": throttled}
    assert wire.puts_total == 10 + throttled
    uploads = report.uploads
    assert uploads.retries == throttled
    assert uploads.throttled == throttled
    assert uploads.errors == {"s3_SlowDown": throttled}
    assert uploads.objects == 10
    assert uploads.failed == 0
    assert report.requests.ok == 5
    assert report.requests.never_sent == 0
    assert len(stored_keys(s3_server, bucket)) == 10
    assert any("throttled" in text for text in report.diagnostics), report.diagnostics


@pytest.mark.parametrize("mode", ["prestage", "inline"])
@pytest.mark.parametrize(
    ("status", "code", "attempts"),
    [(500, "InternalError", 3), (400, "InvalidArgument", 1)],
    ids=["retryable-InternalError", "permanent-InvalidArgument"],
)
async def test_a_key_that_always_fails_loses_exactly_its_own_request(
    fresh_target, proxy, bucket, mode: str, status: int, code: str, attempts: int
):
    """One request's objects always fail: that request, and only it, is never sent,
    with the S3 code as its reason; retryable errors use all attempts, others one."""
    failing = 3
    proxy.configure(key_faults=(KeyFault(rf"/{failing:07d}-\d+\.bin$", status, code),))
    uploads = uploads_via(proxy, bucket, perRequest=2, maxAttempts=3, mode=mode)
    report = await burst(fresh_target, uploads, requests=6)

    assert_accounting(report)
    assert report.requests.planned == 6
    assert report.requests.never_sent == 1
    assert report.never_sent_reasons == {f"s3_{code}": 1}
    assert report.requests.sent == report.requests.ok == 5
    record = fresh_target.record()
    assert len(record) == report.requests.sent
    assert sorted(json.loads(entry["body"])["i"] for entry in record) == [0, 1, 2, 4, 5]
    wire = proxy.stats()
    assert wire.faults_served == {code: 2 * attempts}
    assert report.uploads.failed == 2
    assert report.uploads.retries == 2 * (attempts - 1)


@pytest.mark.parametrize("mode", ["prestage", "inline"])
async def test_missing_bucket_stops_staging_at_once(fresh_target, proxy, s3_server, aws_env, mode):
    """NoSuchBucket (moto's own answer) cannot be fixed by retrying: after the first
    wave of PUTs nothing more is tried, and no call is sent."""
    missing = f"herd-missing-{uuid.uuid4().hex[:12]}"
    uploads = uploads_via(proxy, missing, concurrency=4, mode=mode, cleanup=True)
    report = await burst(fresh_target, uploads, requests=20)

    assert_accounting(report)
    assert report.requests.planned == 20
    assert report.requests.sent == 0
    assert report.never_sent_reasons == {"s3_NoSuchBucket": 20}
    assert fresh_target.record() == []
    wire = proxy.stats()
    assert 1 <= wire.puts_total <= 4  # at most the first wave, never all 60 objects
    assert report.uploads.retries == 0


async def test_the_aws_secret_key_never_reaches_the_report_the_logs_or_the_target(
    fresh_target, proxy, bucket, aws_env, caplog
):
    """A run with throttling, a failing request and presigned URLs fills every report
    section that talks about S3; the secret appears in none of it (URLs carry the
    access key id and a signature, never the secret)."""
    secret = aws_env["AWS_SECRET_ACCESS_KEY"]
    proxy.configure(
        slowdown_first=2, key_faults=(KeyFault(r"/0000001-\d+\.bin$", 400, "InvalidArgument"),)
    )
    caplog.set_level("DEBUG", logger="herd")
    report = await burst(fresh_target, uploads_via(proxy, bucket, cleanup=True), requests=4)

    assert report.never_sent_reasons == {"s3_InvalidArgument": 1}
    assert report.uploads.throttled == 2
    assert report.diagnostics
    assert secret not in report.model_dump_json()
    assert secret not in caplog.text
    record = fresh_target.record()
    assert len(record) == 3
    for entry in record:
        assert secret not in json.dumps(entry)
        assert aws_env["AWS_ACCESS_KEY_ID"] in entry["body"]  # the presigned URLs are there


async def test_access_denied_everywhere_is_fatal_too(fresh_target, proxy, bucket):
    """A 403 AccessDenied on the run's keys stops staging like a missing bucket."""
    proxy.configure(key_faults=(KeyFault(r".", 403, "AccessDenied"),))
    report = await burst(fresh_target, uploads_via(proxy, bucket, concurrency=4), requests=20)

    assert_accounting(report)
    assert report.never_sent_reasons == {"s3_AccessDenied": 20}
    assert fresh_target.record() == []
    assert 1 <= proxy.stats().puts_total <= 4
