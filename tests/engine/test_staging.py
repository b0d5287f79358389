"""Bounded S3 staging against a real S3 API (moto server): what gets staged, where,
what the calls carry, and what is left behind."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import s3_client
from tests.support.servers import RecordingTarget
from tests.support.staging import burst, uploads_to

pytestmark = pytest.mark.timeout(20)

RUN_ID = "staging-test-run"
KEY_PREFIX = f"herd/{RUN_ID}/"


def upload_spec(s3_server, bucket: str, **overrides: Any) -> dict[str, Any]:
    return uploads_to(s3_server.url, bucket, **overrides)


def urls_by_request(target: RecordingTarget) -> dict[int, list[str]]:
    """What each call carried in its body, by request index."""
    bodies = [json.loads(entry["body"]) for entry in target.record()]
    return {body["i"]: body["images"] for body in bodies}


def stored_keys(s3_server, bucket: str) -> list[str]:
    listing = s3_client(s3_server.url).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def read_object(s3_server, bucket: str, key: str) -> bytes:
    return s3_client(s3_server.url).get_object(Bucket=bucket, Key=key)["Body"].read()


async def test_prestaged_burst_arrives_together_with_distinct_real_urls(
    fresh_target, s3_server, bucket
):
    report = await burst(fresh_target, upload_spec(s3_server, bucket), requests=30)
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
    assert len(stored_keys(s3_server, bucket)) == 90


async def test_presigned_urls_fetch_exactly_their_own_objects(fresh_target, s3_server, bucket):
    """Every URL is distinct, presigned with SigV4 for ``urlExpiry`` (SigV2 URLs are
    refused by new AWS buckets), and serves the bytes staged for that request and
    slot (synthetic objects start with ``herd:<prefix>:<index>:<slot>``)."""
    uploads = upload_spec(s3_server, bucket, urlExpiry="15m")
    await burst(fresh_target, uploads, requests=4, run_id=RUN_ID)

    carried = urls_by_request(fresh_target)
    assert sorted(carried) == [0, 1, 2, 3]
    all_urls = [url for urls in carried.values() for url in urls]
    assert len(all_urls) == 12 == len(set(all_urls))
    for index, urls in carried.items():
        assert len(urls) == 3
        for slot, url in enumerate(urls):
            parsed = urllib.parse.urlsplit(url)
            query = urllib.parse.parse_qs(parsed.query)
            assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
            assert query["X-Amz-Expires"] == ["900"]
            assert "X-Amz-Signature" in query
            key = f"{KEY_PREFIX}{index:07d}-{slot}.bin"
            assert urllib.parse.unquote(parsed.path) == f"/{bucket}/{key}"
            with urllib.request.urlopen(url, timeout=10) as response:
                fetched = response.read()
            assert fetched == read_object(s3_server, bucket, key)
            assert len(fetched) == 4096
            assert fetched.startswith(f"herd:{KEY_PREFIX}:{index}:{slot}\n".encode())


async def test_s3uri_mode_puts_distinct_s3_uris_of_the_staged_keys_in_the_body(
    fresh_target, s3_server, bucket
):
    report = await burst(
        fresh_target, upload_spec(s3_server, bucket, url="s3uri"), requests=4, run_id=RUN_ID
    )

    carried = urls_by_request(fresh_target)
    expected = {
        index: [f"s3://{bucket}/{KEY_PREFIX}{index:07d}-{slot}.bin" for slot in range(3)]
        for index in range(4)
    }
    assert carried == expected
    uris = [uri for uris in carried.values() for uri in uris]
    assert len(set(uris)) == 12
    assert stored_keys(s3_server, bucket) == sorted(uri.split("/", 3)[3] for uri in uris)
    assert report.uploads.objects == 12
    assert report.uploads.bytes == 12 * 4096


@pytest.mark.parametrize("cleanup", [True, False])
async def test_cleanup_removes_exactly_this_runs_objects(
    fresh_target, s3_server, bucket, cleanup: bool
):
    """cleanup: true empties what the run staged and nothing else; false keeps it all."""
    s3_client(s3_server.url).put_object(Bucket=bucket, Key="herd/other-run/keep.bin", Body=b"x")
    uploads = upload_spec(s3_server, bucket, perRequest=2, cleanup=cleanup)
    report = await burst(fresh_target, uploads, requests=5, run_id=RUN_ID)

    assert report.requests.ok == 5
    assert report.uploads.objects == 10
    assert report.uploads.cleanup_failed == 0
    left = stored_keys(s3_server, bucket)
    if cleanup:
        assert report.uploads.cleanup_deleted == 10
        assert left == ["herd/other-run/keep.bin"]
    else:
        assert report.uploads.cleanup_deleted == 0
        assert len(left) == 11
        assert all(key.startswith(KEY_PREFIX) for key in left if "other-run" not in key)


async def test_directory_source_cycles_sorted_files_with_their_content_types(
    fresh_target, s3_server, bucket, tmp_path: Path
):
    """Files are used in name order, wrapping around, each with its own suffix and type;
    subdirectories are not inputs."""
    files = {
        "b.png": (b"\x89PNG\r\n\x1a\n-not-really-an-image", "image/png"),
        "a.txt": (b"plain text input", "text/plain"),
        "c.json": (b'{"input": true}', "application/json"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "zz-subdir").mkdir()
    uploads = upload_spec(
        s3_server,
        bucket,
        perRequest=2,
        source={"directory": str(tmp_path)},
        url="s3uri",
    )
    report = await burst(fresh_target, uploads, requests=4, run_id=RUN_ID)

    assert report.requests.ok == 4
    in_order = sorted(files)  # a.txt, b.png, c.json
    client = s3_client(s3_server.url)
    carried = urls_by_request(fresh_target)
    for index in range(4):
        for slot in range(2):
            name = in_order[(index * 2 + slot) % len(in_order)]
            data, content_type = files[name]
            key = f"{KEY_PREFIX}{index:07d}-{slot}{Path(name).suffix}"
            assert carried[index][slot] == f"s3://{bucket}/{key}"
            stored = client.get_object(Bucket=bucket, Key=key)
            assert stored["Body"].read() == data
            assert stored["ContentType"] == content_type
    assert report.uploads.bytes == sum(len(files[in_order[n % 3]][0]) for n in range(8))
