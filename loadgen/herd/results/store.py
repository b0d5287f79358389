"""A results store: keys to bytes, in a local directory or an S3-compatible bucket.

Everything that writes or reads results (``herd run --results``, runner pods, the
merge step, ``herd report``) goes through ``ResultsStore``; ``open_store`` picks the
kind from the location: ``s3://bucket/prefix`` or a local directory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import aioboto3
import aiohttp
from aiobotocore.config import AioConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)
from pydantic import ValidationError

from herd.api.errors import describe_validation_error
from herd.api.model import http_url_problem
from herd.api.results import S3ResultsSpec
from herd.engine.scrub import scrub_credentials

if TYPE_CHECKING:  # the stubs are a test dependency, absent from the image
    from types_aiobotocore_s3 import S3Client

S3_SCHEME = "s3://"
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
"""Where every AWS SDK looks for an endpoint, the service's own variable first."""
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
FALLBACK_REGION = "us-east-1"
"""What an S3-compatible endpoint is signed for when nothing names a region (most
such stores accept any region; AWS redirects to the bucket's own)."""
# Errors no retry can fix (the rest, throttling and 5xx among them, may pass).
_FINAL_CODES = {
    "NoSuchBucket",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "InvalidBucketName",
    "403",
    "404",
}
POOL_CONNECTIONS = 4
"""A store moves a few objects per run: a small pool, apart from the load's own."""


class StoreError(Exception):
    """A store could not be read or written; the message names the location, no secret.
    ``retryable`` is False when trying again cannot help (no such bucket, no credentials)."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class ResultsStore(Protocol):
    location: str
    """Where the store is, for people (``s3://bucket/prefix`` or a path); no credentials."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        ...

    async def keys(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (relative to the store), sorted."""
        ...


class LocalStore:
    """A directory: keys are relative paths under it."""

    def __init__(self, root: Path):
        self.root = root
        self.location = str(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StoreError(f"{key!r} is outside {self.location}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(_write_atomically, path, data)
        except OSError as error:
            raise StoreError(f"{path}: {error.strerror or error}") from None

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"{path}: {error.strerror or error}") from None

    async def keys(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix() for path in base.rglob("*") if path.is_file()
        )


class S3Store:
    """A bucket and prefix on S3 or an S3-compatible store: keys are relative to the prefix.

    Credentials come from the environment (or any source the AWS SDK reads), never from
    the spec; errors name the location and the S3 error code, never a credential. Each
    call opens a client from one session (the service model is loaded once), so a store
    needs no closing; botocore does not retry: callers bound their own retries.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint: str | None = None,
        region: str | None = None,
    ):
        self.bucket = bucket
        self.prefix = "/".join(part for part in prefix.split("/") if part)
        if self.prefix:
            self.prefix += "/"
        self.endpoint = endpoint or endpoint_from_environment()
        self.region = region or _region_from_environment()
        if self.region is None and self.endpoint is not None:
            self.region = FALLBACK_REGION
        self.location = f"{S3_SCHEME}{bucket}/{self.prefix}"
        self._session = aioboto3.Session()
        self._config = AioConfig(
            max_pool_connections=POOL_CONNECTIONS,
            connect_timeout=3,
            read_timeout=10,
            retries={"total_max_attempts": 1},  # attempts are counted by whoever calls
            s3={"addressing_style": "path"} if self.endpoint else None,
            signature_version="s3v4",
        )

    @asynccontextmanager
    async def _client(self, key: str) -> AsyncIterator[S3Client]:
        """An S3 client; every error it raises inside becomes a StoreError naming
        ``key``'s location."""
        where = f"{self.location}{key}"
        try:
            async with self._session.client(
                "s3", endpoint_url=self.endpoint, region_name=self.region, config=self._config
            ) as client:
                yield client
        except ClientError as error:
            retryable = _code(error) not in _FINAL_CODES
            raise StoreError(f"{where}: {_client_error(error)}", retryable) from None
        except (NoCredentialsError, PartialCredentialsError):
            raise StoreError(
                f"{where}: no S3 credentials in the environment "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or any source the AWS SDK reads)",
                retryable=False,
            ) from None
        except EndpointConnectionError:
            raise StoreError(f"{where}: cannot connect to {self.endpoint or 'AWS S3'}") from None
        except (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as error:
            reason = scrub_credentials(str(error)) or type(error).__name__
            raise StoreError(f"{where}: {type(error).__name__}: {reason}"[:500]) from None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        async with self._client(key) as s3:
            await s3.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type
            )

    async def get(self, key: str) -> bytes | None:
        async with self._client(key) as s3:
            try:
                response = await s3.get_object(Bucket=self.bucket, Key=self.prefix + key)
            except ClientError as error:
                if _code(error) in ("NoSuchKey", "404"):
                    return None
                raise
            async with response["Body"] as body:
                data: bytes = await body.read()
                return data

    async def keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        async with self._client(prefix) as s3:
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            async for page in pages:
                found += [item["Key"][len(self.prefix) :] for item in page.get("Contents", [])]
        return sorted(found)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "error"))


def _client_error(error: ClientError) -> str:
    """The S3 error code and HTTP status: never the message, which a store may fill
    with anything (an access key id, a signature)."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = "".join(c for c in _code(error) if c.isalnum())[:64] or "error"
    return f"{code} (HTTP {status})" if status else code


def endpoint_from_environment() -> str | None:
    """``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``, as every AWS SDK reads them."""
    for name in ENDPOINT_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            if problem := http_url_problem(value):
                raise StoreError(f"{name}: {problem}")
            return value
    return None


def _region_from_environment() -> str | None:
    for name in REGION_VARIABLES:
        if value := os.environ.get(name, "").strip():
            return value
    return None


def parse_s3_location(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix); StoreError when it is not one."""
    if not location.startswith(S3_SCHEME):
        raise StoreError(f"{location!r} is not an s3://bucket/prefix location")
    bucket, _, prefix = location[len(S3_SCHEME) :].partition("/")
    try:
        S3ResultsSpec(bucket=bucket, prefix=prefix)
    except ValidationError as error:
        raise StoreError(f"{location!r}: {describe_validation_error(error)[0]}") from None
    return bucket, prefix


def open_store(location: str, s3: S3ResultsSpec | None = None) -> ResultsStore:
    """The store at ``location``: ``s3://bucket/prefix`` (endpoint and region from ``s3``,
    the spec's ``results.s3``, when given, else from the environment) or a local directory.
    StoreError when the location cannot be a store."""
    if location.startswith(S3_SCHEME):
        bucket, prefix = parse_s3_location(location)
        return S3Store(
            bucket,
            prefix,
            endpoint=s3.endpoint if s3 else None,
            region=s3.region if s3 else None,
        )
    if "://" in location:
        raise StoreError(f"{location!r}: a results location is s3://bucket/prefix or a directory")
    if not location:
        raise StoreError("a results location is s3://bucket/prefix or a directory, not empty")
    return LocalStore(Path(location))


def key_location(store: ResultsStore, key: str) -> str:
    """Where ``key`` of ``store`` is, for people: ``s3://bucket/prefix/key`` or a path."""
    return store.location.rstrip("/") + "/" + key


async def check_store(store: ResultsStore) -> None:
    """Raise StoreError when the store can be told unusable without writing to it: a
    directory that cannot be created or written, a bucket that cannot be reached, does
    not exist or refuses these credentials (S3 HeadBucket; a right to read the bucket
    is not proof of a right to write, so a write can still fail at the end)."""
    if isinstance(store, LocalStore):
        await asyncio.to_thread(_check_directory, store.root)
    elif isinstance(store, S3Store):
        async with store._client("") as s3:
            try:
                await s3.head_bucket(Bucket=store.bucket)
            except ClientError as error:  # a HEAD's error has no body: only its status
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                named = {404: "NoSuchBucket", 403: "AccessDenied"}.get(status or 0)
                if named is None:
                    raise
                raise StoreError(f"{store.location}: {named} (HTTP {status})", False) from None


def _check_directory(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"{error.filename or root}: {error.strerror or error}", False) from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise StoreError(f"{root}: permission denied", retryable=False)


def spec_store(s3: S3ResultsSpec) -> ResultsStore:
    """The store a spec's ``results.s3`` names."""
    return S3Store(s3.bucket, s3.prefix, endpoint=s3.endpoint, region=s3.region)


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader never sees half a file: write beside it, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
