"""Bounded S3 staging against a real S3 API (moto server)."""

from __future__ import annotations

import json
import urllib.request

from tests.conftest import run_spec, s3_client

BODY = '{"i": {{ request.index }}, "images": {{ uploads | map(attribute="url") | list | tojson }}}'


def upload_spec(s3_server, bucket, **overrides):
    spec = {
        "endpoint": s3_server.url,
        "region": "us-east-1",
        "bucket": bucket,
        "perRequest": 3,
        "source": {"synthetic": {"sizeBytes": 4096}},
        "concurrency": 4,
        "cleanup": False,
    }
    spec.update(overrides)
    return spec


async def test_prestaged_burst_arrives_together_with_distinct_real_urls(fresh_target, s3_server, bucket):
    report = await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work", "body": BODY},
            "uploads": upload_spec(s3_server, bucket),
            "load": {"pattern": "burst", "requests": 30},
        }
    )
    record = fresh_target.record()
    assert len(record) == 30
    seen = sorted(entry["arrival"] for entry in record)
    assert seen[-1] - seen[0] < 0.1
    urls = [url for entry in record for url in json.loads(entry["body"])["images"]]
    assert len(urls) == 90 == len(set(urls))
    # Each presigned URL serves its own object.
    with urllib.request.urlopen(urls[0], timeout=10) as response:
        assert len(response.read()) == 4096
    assert report.uploads.objects == 90
    assert report.uploads.peak_in_flight <= 4
    assert report.requests.ok == 30
    keys = s3_client(s3_server.url).list_objects_v2(Bucket=bucket)["KeyCount"]
    assert keys == 90
