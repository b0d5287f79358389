"""Prometheus remote-write from a runner: the other way to keep a run's final numbers.

Instead of pushing to a Pushgateway, a runner can send its registry to a store that takes
Prometheus remote-write 1.0 (Prometheus with ``--web.enable-remote-write-receiver``,
Mimir, Thanos Receive, VictoriaMetrics, ...) every ``interval`` and once more after the
verdict. Each series gets ``job="herd"`` beside the run's own labels, as a pushed group
has. Every write is bounded in time; a failed one is logged, never fatal.

The body is a protobuf ``WriteRequest`` in the block format of snappy, written by hand:
both formats are small and stable, and this keeps the runner free of a protobuf runtime
and a compression library. The snappy stream uses literals only (valid snappy, just not
smaller): a write is tens of kilobytes.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from prometheus_client.registry import CollectorRegistry

from herd.engine.errors import ConfigError

log = logging.getLogger(__name__)

JOB = "herd"
_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
_FINAL_ATTEMPTS = 3
_FINAL_BACKOFF = 0.5
_LITERAL_CHUNK = 65536  # a literal's length fits the 2-byte form


@dataclass(frozen=True)
class RemoteWriteSettings:
    url: str
    """The receiver's write URL, e.g. ``http://prometheus.monitoring:9090/api/v1/write``."""
    interval: float = 2.0
    """Seconds between writes during the run: no scrape adds samples in between, and a
    rate needs two of each series (about 34 KB a write for a run of 12 workers)."""
    timeout: float = 3.0
    """Seconds one write may take; the final write tries up to three times."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"remote-write: expected http(s)://host[:port]/path, got {self.url!r}"
            )
        if self.interval <= 0 or self.timeout <= 0:
            raise ConfigError("remote-write: interval and timeout must be positive")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _sample(value: float, timestamp_ms: int) -> bytes:
    # Sample{double value = 1; int64 timestamp = 2}
    return b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(timestamp_ms)


def encode_write_request(
    series: Iterable[tuple[Mapping[str, str], float]], timestamp_ms: int
) -> bytes:
    """``WriteRequest{timeseries}``: one sample per series, labels sorted by name."""
    body = bytearray()
    for labels, value in series:
        timeseries = b"".join(
            _field(1, _field(1, name.encode()) + _field(2, text.encode()))
            for name, text in sorted(labels.items())
        )
        timeseries += _field(2, _sample(value, timestamp_ms))
        body += _field(1, timeseries)
    return bytes(body)


def snappy_block(data: bytes) -> bytes:
    """``data`` in snappy's block format, as literals."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), _LITERAL_CHUNK):
        chunk = data[start : start + _LITERAL_CHUNK]
        if len(chunk) <= 60:
            out.append((len(chunk) - 1) << 2)
        else:  # tag 61: the length - 1 follows in two little-endian bytes
            out += bytes([61 << 2]) + struct.pack("<H", len(chunk) - 1)
        out += chunk
    return bytes(out)


def registry_series(registry: CollectorRegistry) -> list[tuple[dict[str, str], float]]:
    """Every sample of ``registry`` as a series, with ``job``; ``_created`` left out (the
    text format Prometheus scrapes leaves it out too)."""
    series = []
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = {"job": JOB, **sample.labels, "__name__": sample.name}
            series.append((labels, float(sample.value)))
    return series


def _body(series: list[tuple[dict[str, str], float]], timestamp_ms: int) -> bytes:
    return snappy_block(encode_write_request(series, timestamp_ms))


class RemoteWriter:
    """Writes ``registry`` while the block runs, and once more at its end."""

    def __init__(self, settings: RemoteWriteSettings, registry: CollectorRegistry):
        self.settings = settings
        self._registry = registry
        self._where = urlsplit(settings.url).netloc.rpartition("@")[2]  # never log credentials
        self._session: aiohttp.ClientSession | None = None
        self._periodic: asyncio.Task[None] | None = None
        self._failing = False

    async def __aenter__(self) -> RemoteWriter:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
        )
        self._periodic = asyncio.create_task(self._write_periodically())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
            await asyncio.gather(self._periodic, return_exceptions=True)
        try:
            await self.write_final()
        finally:
            if self._session is not None:
                await self._session.close()

    async def _write_periodically(self) -> None:
        while True:  # ends when the block ends (cancelled)
            await self.write()
            await asyncio.sleep(self.settings.interval)

    async def write_final(self) -> bool:
        for attempt in range(_FINAL_ATTEMPTS):
            if await self.write(final=True):
                return True
            if attempt + 1 < _FINAL_ATTEMPTS:
                await asyncio.sleep(_FINAL_BACKOFF * 2**attempt)
        log.warning(
            "the final remote-write to %s failed %d times: this run's last numbers are only "
            "in its report",
            self._where,
            _FINAL_ATTEMPTS,
        )
        return False

    async def write(self, final: bool = False) -> bool:
        """POST the registry; True when the receiver took it."""
        assert self._session is not None, "write() outside the RemoteWriter's block"
        now_ms = int(time.time() * 1000)
        series = registry_series(self._registry)  # one consistent snapshot, on the loop
        # Encoding takes milliseconds (~5 ms for 170 series): off the loop that sends.
        body = await asyncio.to_thread(_body, series, now_ms)
        problem = None
        try:
            async with self._session.post(
                self.settings.url, data=body, headers=_HEADERS
            ) as response:
                if response.status >= 300:
                    text = (await response.content.read(300)).decode(errors="replace")
                    problem = f"HTTP {response.status}: {text.strip()}"
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            problem = type(error).__name__
        if problem and (final or not self._failing):
            log.warning("remote-write to %s failed: %s", self._where, problem)
        elif not problem and self._failing:
            log.info("remote-write to %s works again", self._where)
        self._failing = problem is not None
        return problem is None
