"""Pushing a run's metrics to a Prometheus Pushgateway, so a short-lived Job's numbers outlive it.

During the run the whole registry is PUT every ``interval``; when the run ends, a
final push carries the last counts and the verdict. Each runner of each run has
its own group (``job="herd"``, ``run``, ``runner``), so runners and reruns never
overwrite each other, and each PUT replaces the group's previous samples. Every
push is bounded in time; a failed push is logged and counted
(``herd_metrics_pushes_total{result="failed"}``), never fatal. The group stays
after the run: that is the point. ``delete_group`` removes it, for whoever owns
the run's lifetime (the operator, when the LoadTest is deleted).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from herd.engine.errors import ConfigError
from herd.metrics.families import LabelledFamilies

log = logging.getLogger(__name__)

JOB = "herd"
# The classic text format, which every Pushgateway version parses.
_TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._~-]+")
_FINAL_ATTEMPTS = 3
_FINAL_BACKOFF = 0.5


@dataclass(frozen=True)
class PushSettings:
    url: str
    """The Pushgateway's base URL, e.g. ``http://pushgateway.monitoring:9091``."""
    interval: float = 10.0
    """Seconds between pushes during the run."""
    timeout: float = 3.0
    """Seconds one push may take, connect to response. The final push tries up to
    three times, so the run's end waits at most about ``3 * timeout + 1.5`` s."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"pushgateway: expected http(s)://host[:port], got {self.url!r}")
        if self.interval <= 0 or self.timeout <= 0:
            raise ConfigError("pushgateway: interval and timeout must be positive")


def group_url(base: str, grouping: Mapping[str, str]) -> str:
    """The URL of one group: ``<base>/metrics/job/herd/<label>/<value>...``.

    Values that are not plain URL path segments (``/``, spaces, empty, ``..``) use the
    Pushgateway's ``<label>@base64/<value>`` form.
    """
    parts = [base.rstrip("/"), "metrics"]
    for name, value in {"job": JOB, **grouping}.items():
        if _PLAIN_VALUE.fullmatch(value) and value not in (".", ".."):  # URLs normalise those
            parts += [name, value]
        else:
            parts += [f"{name}@base64", base64.urlsafe_b64encode(value.encode()).decode() or "="]
    return "/".join(parts)


class Pusher:
    """Pushes ``registry`` to one group while the block runs, and once more at its end."""

    def __init__(
        self, settings: PushSettings, registry: CollectorRegistry, grouping: Mapping[str, str]
    ):
        self.settings = settings
        self.url = group_url(settings.url, grouping)
        self.results: Counter[str] = Counter()  # "ok" / "failed"
        self._registry = registry
        self._where = urlsplit(settings.url).netloc.rpartition("@")[2]  # never log credentials
        self._session: aiohttp.ClientSession | None = None
        self._periodic: asyncio.Task[None] | None = None
        self._failing = False

    async def __aenter__(self) -> Pusher:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
        )
        self._periodic = asyncio.create_task(self._push_periodically())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
            await asyncio.gather(self._periodic, return_exceptions=True)
        try:
            await self.push_final()
        finally:
            if self._session is not None:
                await self._session.close()

    async def _push_periodically(self) -> None:
        while True:  # ends when the block ends (cancelled)
            await self.push()
            await asyncio.sleep(self.settings.interval)

    async def push_final(self) -> bool:
        for attempt in range(_FINAL_ATTEMPTS):
            if await self.push(final=True):
                return True
            if attempt + 1 < _FINAL_ATTEMPTS:
                await asyncio.sleep(_FINAL_BACKOFF * 2**attempt)
        log.warning(
            "the final push to the Pushgateway at %s failed %d times: this run's last "
            "numbers are only in its report",
            self._where,
            _FINAL_ATTEMPTS,
        )
        return False

    async def push(self, final: bool = False) -> bool:
        """PUT the registry; True when the Pushgateway took it."""
        assert self._session is not None, "push() outside the Pusher's block"
        body = generate_latest(self._registry)  # on the loop: one consistent snapshot
        headers = {"Content-Type": _TEXT_FORMAT}
        problem = None
        try:
            async with self._session.put(self.url, data=body, headers=headers) as response:
                if response.status >= 300:
                    text = (await response.content.read(300)).decode(errors="replace")
                    problem = f"HTTP {response.status}: {text.strip()}"
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            problem = type(error).__name__
        self.results["failed" if problem else "ok"] += 1
        if problem and (final or not self._failing):
            # Once per outage during the run, so a gateway that is down does not flood the log.
            log.warning("pushing metrics to %s failed: %s", self._where, problem)
        elif not problem and self._failing:
            log.info("pushing metrics to %s works again", self._where)
        self._failing = problem is not None
        return problem is None


class PushCollector(Collector):
    """``herd_metrics_pushes_total{result}``: how pushing has fared so far."""

    def __init__(self, pusher: Pusher, identity: Mapping[str, str]):
        self._pusher = pusher
        self._families = LabelledFamilies(identity)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        results = self._pusher.results
        family = self._families.counter(
            "herd_metrics_pushes",
            "Pushes of these metrics to the Pushgateway, by result (ok, failed); the "
            "push carrying this sample is not yet counted in it.",
            [(("ok",), results["ok"]), (("failed",), results["failed"])],
            ["result"],
        )
        if family is not None:
            yield family


async def delete_group(base: str, grouping: Mapping[str, str], timeout: float = 5.0) -> bool:
    """Remove one run's group from the Pushgateway; True when it is gone."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    try:
        async with aiohttp.ClientSession(timeout=client_timeout) as session:
            async with session.delete(group_url(base, grouping)) as response:
                return response.status < 300
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        log.warning("deleting the Pushgateway group failed: %s", type(error).__name__)
        return False
