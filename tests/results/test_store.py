"""The results store against a real S3 API (moto server) and a local directory:
what is written is read back, errors name the location and never a credential."""

from __future__ import annotations

import pytest

from herd.api.results import S3ResultsSpec
from herd.demo.services import FAKE_AWS_ENV
from herd.results.store import LocalStore, S3Store, StoreError, open_store
from tests.conftest import s3_client


def spec(s3_server, bucket: str, **fields) -> S3ResultsSpec:
    return S3ResultsSpec(bucket=bucket, endpoint=s3_server.url, region="us-east-1", **fields)


async def test_s3_store_writes_reads_and_lists_under_its_prefix(s3_server, bucket):
    store = open_store(f"s3://{bucket}/team/results", spec(s3_server, bucket))
    assert isinstance(store, S3Store)
    assert store.location == f"s3://{bucket}/team/results/"
    await store.put("ns/lt/run-1/runner-0.json", b'{"a": 1}', "application/json")
    await store.put("ns/lt/run-1/runner-1.json", b'{"b": 2}', "application/json")
    await store.put("ns/lt/run-2/runner-0.json", b"{}", "application/json")

    assert await store.get("ns/lt/run-1/runner-1.json") == b'{"b": 2}'
    assert await store.get("ns/lt/run-1/runner-9.json") is None
    assert await store.keys("ns/lt/run-1/") == [
        "ns/lt/run-1/runner-0.json",
        "ns/lt/run-1/runner-1.json",
    ]
    stored = s3_client(s3_server.url).list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(item["Key"] for item in stored) == [
        "team/results/ns/lt/run-1/runner-0.json",
        "team/results/ns/lt/run-1/runner-1.json",
        "team/results/ns/lt/run-2/runner-0.json",
    ]
    head = s3_client(s3_server.url).head_object(
        Bucket=bucket, Key="team/results/ns/lt/run-1/runner-0.json"
    )
    assert head["ContentType"] == "application/json"


async def test_listing_more_than_one_page_returns_every_key(s3_server, bucket):
    client = s3_client(s3_server.url)
    for index in range(1005):
        client.put_object(Bucket=bucket, Key=f"p/run/k-{index:04d}", Body=b"")
    store = open_store(f"s3://{bucket}/p", spec(s3_server, bucket))
    keys = await store.keys("run/")
    assert len(keys) == 1005
    assert keys[0] == "run/k-0000" and keys[-1] == "run/k-1004"


async def test_endpoint_comes_from_aws_endpoint_url_s3_when_the_spec_has_none(
    s3_server, bucket, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the S3 variable wins
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.url)
    store = open_store(f"s3://{bucket}/x")
    await store.put("k", b"v", "text/plain")
    assert s3_client(s3_server.url).get_object(Bucket=bucket, Key="x/k")["Body"].read() == b"v"


async def test_endpoint_comes_from_aws_endpoint_url_without_the_s3_one(
    s3_server, bucket, monkeypatch
):
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    store = open_store(f"s3://{bucket}/")
    await store.put("k", b"v", "text/plain")
    assert await store.get("k") == b"v"


async def test_the_spec_endpoint_wins_over_the_environment(s3_server, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    store = open_store(f"s3://{bucket}/", spec(s3_server, bucket))
    await store.put("k", b"v", "text/plain")
    assert await store.get("k") == b"v"


async def test_a_missing_bucket_is_a_store_error_naming_the_location_and_no_secret(
    s3_server, aws_env
):
    store = open_store("s3://no-such-bucket-here/p", spec(s3_server, "no-such-bucket-here"))
    with pytest.raises(StoreError) as raised:
        await store.put("runner-0.json", b"{}", "application/json")
    message = str(raised.value)
    assert message.startswith("s3://no-such-bucket-here/p/runner-0.json: NoSuchBucket")
    assert FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"] not in message
    assert FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"] not in message


async def test_an_endpoint_that_is_down_is_a_store_error_naming_it(aws_env):
    store = S3Store("bucket", "p", endpoint="http://127.0.0.1:9", region="us-east-1")
    with pytest.raises(StoreError, match=r"^s3://bucket/p/k: cannot connect to http://127.0.0.1:9"):
        await store.put("k", b"v", "text/plain")


async def test_no_credentials_is_a_store_error_that_says_where_they_come_from(
    s3_server, bucket, monkeypatch, tmp_path
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = open_store(f"s3://{bucket}/", spec(s3_server, bucket))
    with pytest.raises(StoreError, match="no S3 credentials in the environment"):
        await store.put("k", b"v", "text/plain")


def test_a_bad_endpoint_variable_is_named():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_S3", "ftp://example")
        with pytest.raises(StoreError, match=r"^AWS_ENDPOINT_URL_S3: must be an http"):
            open_store("s3://bucket/p")


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("s3://", "bucket"),
        ("s3://Bad_Bucket/p", "bucket"),
        ("s3://bucket/a//b", "empty"),
        ("s3://bucket/a/../b", "'..'"),
        ("http://bucket/p", "s3://bucket/prefix or a directory"),
        ("", "not empty"),
    ],
)
def test_a_location_that_cannot_be_a_store_is_refused(location, reason):
    with pytest.raises(StoreError) as raised:
        open_store(location)
    assert reason in str(raised.value)


async def test_a_directory_location_is_a_local_store(tmp_path):
    store = open_store(str(tmp_path / "results"))
    assert isinstance(store, LocalStore)
    await store.put("ns/lt/run/runner-0.json", b"{}", "application/json")
    assert await store.keys() == ["ns/lt/run/runner-0.json"]
