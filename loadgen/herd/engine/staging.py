"""Staging request inputs to S3 without ever starving or serializing the calls.

The incident: thirty requests each uploaded three images through a client whose
pool held ten connections, so uploads queued, calls left one by one, and the
endpoint never saw concurrency. Here every upload passes one semaphore of
``uploads.concurrency`` and the S3 client's pool is sized to exactly that bound,
so uploads never wait inside the client, and the S3 pool is separate from the
HTTP pool of the calls.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import random
import re
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aioboto3
import aiohttp
from aiobotocore.config import AioConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from herd.api.spec import MAX_OBJECT_BYTES, UploadSpec
from herd.engine.body import StagedObject
from herd.engine.errors import ConfigError
from herd.engine.histogram import Histogram
from herd.engine.records import now
from herd.engine.target_policy import TargetGuard

if TYPE_CHECKING:  # the stubs are a test dependency, absent from the image
    from aiobotocore.session import ClientCreatorContext
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger(__name__)

_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded"}
_RETRYABLE_STATUS = {500, 502, 503, 504}
# Errors no retry can fix: stop staging at once rather than hammer the store.
_FATAL_CODES = {
    "NoSuchBucket",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "InvalidBucketName",
}
_BACKOFF_BASE = 0.1
_BACKOFF_CAP = 5.0
_DELETE_BATCH = 1000
_DIRECTORY_FIELD = "spec.uploads.source.directory"


class StagingFailed(Exception):
    """A request's inputs could not be staged; ``reason`` is its ``s3_*`` class."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UploadStats:
    def __init__(self) -> None:
        self.objects = 0
        self.bytes = 0
        self.failed = 0
        self.retries = 0
        self.throttled = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.errors: dict[str, int] = {}
        self.latency = Histogram()
        # Waits for an upload slot (only uploads that waited): with more objects than
        # slots, staging queues by design; the calls never wait on it in prestage mode.
        self.slot_wait = Histogram()
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.cleanup_deleted = 0
        self.cleanup_failed = 0
        # Told the time each object finishes staging (the run's timeline listens).
        self.on_staged: Callable[[float], None] | None = None


def _reason(code: str) -> str:
    return "s3_" + (re.sub(r"[^A-Za-z0-9]", "", code)[:40] or "error")


def _backoff(attempt: int) -> float:
    # Full jitter, as AWS recommends: spreads retries of many uploads apart.
    return random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1)))


def upload_files(directory: str) -> list[Path]:
    """The files of an upload directory, sorted by name; ConfigError naming the field
    when one may not be uploaded: a link out of the directory (a spec must not ship
    ``/etc/passwd``), or a file larger than an object may be."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"{_DIRECTORY_FIELD}: {directory} is not a directory")
    inside = root.resolve()
    files = []
    try:
        for path in sorted(root.iterdir()):
            if not path.is_file():  # subdirectories, and links to nothing, are not inputs
                continue
            resolved = path.resolve()
            if not resolved.is_relative_to(inside):
                raise ConfigError(
                    f"{_DIRECTORY_FIELD}: {path.name} is a link out of the directory "
                    f"(to {resolved}); only files inside it are uploaded"
                )
            size = resolved.stat().st_size
            if size > MAX_OBJECT_BYTES:
                raise ConfigError(
                    f"{_DIRECTORY_FIELD}: {path.name} is {size} bytes; a file is at most "
                    f"{MAX_OBJECT_BYTES // 1024**2} MiB (each is held in memory to upload)"
                )
            files.append(path)
    except OSError as error:
        raise ConfigError(f"{_DIRECTORY_FIELD}: {error.strerror or error}") from None
    if not files:
        raise ConfigError(f"{_DIRECTORY_FIELD}: {directory} has no files")
    return files


def _read_bounded(path: Path) -> bytes:
    """A file's bytes, never more than an object may hold (it may have grown since it
    was checked); StagingFailed when it cannot be read."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_OBJECT_BYTES + 1)
    except OSError:
        raise StagingFailed("file_unreadable") from None
    if len(data) > MAX_OBJECT_BYTES:
        raise StagingFailed("file_too_large")
    return data


class _Contents:
    """Object bodies: synthetic (distinct per object) or files cycled from a directory."""

    def __init__(self, spec: UploadSpec):
        self._synthetic = spec.source.synthetic
        self._files: list[Path] = []
        self._cache: dict[Path, bytes] = {}
        if self._synthetic is not None:
            self._block = os.urandom(self._synthetic.size_bytes)
        else:
            self._files = upload_files(spec.source.directory or "")

    def get(self, sequence: int, tag: str) -> tuple[bytes, str, str]:
        """Body, key suffix and content type of the ``sequence``-th object."""
        if self._synthetic is not None:
            # A unique head makes every object distinct; the rest is shared random data.
            head = tag.encode()[: len(self._block)]
            return head + self._block[len(head) :], ".bin", "application/octet-stream"
        path = self._files[sequence % len(self._files)]
        data = self._cache.get(path)
        if data is None:
            data = self._cache[path] = _read_bounded(path)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return data, path.suffix, content_type


class Stager:
    """Uploads each request's objects through one bounded semaphore."""

    def __init__(
        self,
        spec: UploadSpec,
        key_prefix: str,
        stats: UploadStats,
        guard: TargetGuard | None = None,
    ):
        self.spec = spec
        self._guard = guard
        self.stats = stats
        self._key_prefix = key_prefix
        self._semaphore = asyncio.Semaphore(spec.concurrency)
        self._contents = _Contents(spec)
        self._client: S3Client | None = None
        self._client_context: ClientCreatorContext[S3Client] | None = None
        self._keys: list[str] = []
        self._fatal: str | None = None

    async def __aenter__(self) -> Stager:
        config = AioConfig(
            max_pool_connections=self.spec.concurrency,  # >= the semaphore: uploads never queue
            connect_timeout=10,
            read_timeout=120,
            # herd retries itself, so it can count and bound them. botocore's
            # ``max_attempts`` counts retries (1 = one hidden retry); this counts attempts.
            retries={"total_max_attempts": 1},
            s3={"addressing_style": "path"} if self.spec.endpoint else None,
            # botocore presigns with SigV2 in the older AWS regions (us-east-1 among them)
            # unless told otherwise; buckets created since 2020, and many S3-compatible
            # stores, refuse SigV2 URLs, so the endpoint could not fetch its inputs.
            signature_version="s3v4",
            **self._guarded(),
        )
        session = aioboto3.Session()
        self._client_context = session.client(
            "s3", endpoint_url=self.spec.endpoint, region_name=self.spec.region, config=config
        )
        self._client = await self._client_context.__aenter__()
        return self

    @property
    def _s3(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("the Stager's S3 client is open only inside `async with`")
        return self._client

    def _guarded(self) -> dict[str, Any]:
        """Under the operator's target policy the S3 client goes only where the spec says:
        no proxy or endpoint from the environment (a Secret could set them), and its
        look-ups held to the policy (an IP literal endpoint is checked up front)."""
        if self._guard is None:
            return {}
        return {
            "connector_args": {"resolver": self._guard.resolver()},
            "proxies": {},
            "ignore_configured_endpoint_urls": True,
        }

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client_context is not None:
            await self._client_context.__aexit__(exc_type, exc, traceback)

    async def stage(self, request_index: int) -> list[StagedObject]:
        """Upload the objects of one request; raises StagingFailed."""
        if self._fatal:
            raise StagingFailed(self._fatal)
        jobs = [self._upload(request_index, j) for j in range(self.spec.per_request)]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        staged: list[StagedObject] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            staged.append(result)
        return staged

    async def _upload(self, request_index: int, j: int) -> StagedObject:
        spec, stats = self.spec, self.stats
        sequence = request_index * spec.per_request + j
        body, suffix, content_type = self._contents.get(
            sequence, f"herd:{self._key_prefix}:{request_index}:{j}\n"
        )
        key = f"{self._key_prefix}{request_index:07d}-{j}{suffix}"
        for attempt in range(1, spec.max_attempts + 1):
            if self._fatal:
                raise StagingFailed(self._fatal)
            queued = now() if self._semaphore.locked() else None
            async with self._semaphore:
                if queued is not None:
                    stats.slot_wait.record(now() - queued)
                if self._fatal:  # it may have come while this upload waited for a slot
                    raise StagingFailed(self._fatal)
                started = now()
                if stats.first_start is None:
                    stats.first_start = started
                stats.in_flight += 1
                stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
                try:
                    await self._s3.put_object(
                        Bucket=spec.bucket, Key=key, Body=body, ContentType=content_type
                    )
                    reason = None
                except ClientError as error:
                    reason, retryable = self._classify_client_error(error)
                except (NoCredentialsError, PartialCredentialsError):
                    reason = self._fatal = "s3_NoCredentials"
                    retryable = False
                except (BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as error:
                    reason, retryable = _reason(type(error).__name__), True
                finally:
                    stats.in_flight -= 1
                    stats.last_end = now()
            if reason is None:
                stats.latency.record(stats.last_end - started)
                stats.objects += 1
                if stats.on_staged is not None:
                    stats.on_staged(stats.last_end)
                stats.bytes += len(body)
                self._keys.append(key)
                return await self._describe(key, len(body))
            stats.errors[reason] = stats.errors.get(reason, 0) + 1
            if not retryable or attempt == spec.max_attempts:
                stats.failed += 1
                raise StagingFailed(reason)
            stats.retries += 1
            await asyncio.sleep(_backoff(attempt))  # outside the semaphore: others go on
        raise AssertionError("unreachable")

    def _classify_client_error(self, error: ClientError) -> tuple[str, bool]:
        code = str(error.response.get("Error", {}).get("Code", "error"))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        reason = _reason(code)
        if code in _THROTTLE_CODES or status == 503:
            self.stats.throttled += 1
            return reason, True
        if code in _FATAL_CODES:
            self._fatal = reason
            return reason, False
        return reason, status in _RETRYABLE_STATUS

    async def _describe(self, key: str, size: int) -> StagedObject:
        bucket = self.spec.bucket
        uri = f"s3://{bucket}/{key}"
        url = uri
        if self.spec.url == "presigned":
            url = await self._s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": bucket, "Key": key},
                ExpiresIn=int(self.spec.url_expiry),
            )
        return StagedObject(bucket=bucket, key=key, size=size, uri=uri, url=url)

    async def cleanup(self, timeout: float = 60.0) -> None:
        """Delete every object this run staged; failures are counted, not raised."""
        keys, self._keys = self._keys, []
        try:
            async with asyncio.timeout(timeout):
                for start in range(0, len(keys), _DELETE_BATCH):
                    batch = keys[start : start + _DELETE_BATCH]
                    response = await self._s3.delete_objects(
                        Bucket=self.spec.bucket,
                        Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                    )
                    failed = len(response.get("Errors", []))
                    self.stats.cleanup_failed += failed
                    self.stats.cleanup_deleted += len(batch) - failed
        except (ClientError, BotoCoreError, aiohttp.ClientError, OSError, TimeoutError) as error:
            remaining = len(keys) - self.stats.cleanup_deleted - self.stats.cleanup_failed
            self.stats.cleanup_failed += remaining
            log.warning("cleanup of staged objects stopped: %s", type(error).__name__)
