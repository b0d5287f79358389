"""The scaling probe: the endpoint provider's own view, polled during the run.

herd sees workers through response headers; the provider's health API says how
many are running, idle or starting and how many jobs wait. Sampling both lets a
report show whether the endpoint scaled and why. The probe never competes with
the load: it has its own one-connection session, polls no more often than its
interval, and a failed poll is counted, never fatal.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Mapping

import aiohttp
from jsonpath_ng.parser import parse as parse_json_path

from herd.api import report
from herd.api.spec import ScalingProbeSpec
from herd.engine.calls import without_retries
from herd.engine.env_expansion import MissingVariable, Redactor, expand_headers, expand_url
from herd.engine.errors import ConfigError
from herd.engine.records import now
from herd.engine.target_policy import TARGET_DENIED, TargetGuard, is_target_denied

_JITTER = 0.1  # up to 10% longer than the interval, so runners do not poll in step
# A health answer is a few hundred bytes: a body longer than this is a failed poll,
# not read further, so the probe holds no more whatever the endpoint sends.
_MAX_BODY = 1 << 20
FIELDS = (
    "workers_running",
    "workers_idle",
    "workers_initializing",
    "jobs_in_queue",
    "jobs_in_progress",
)

Sample = dict[str, float | None]
"""``t`` (seconds since the run started), then each of ``FIELDS`` (None: not a number)."""


class ScalingProbe:
    def __init__(
        self,
        spec: ScalingProbeSpec,
        env: Mapping[str, str],
        redactor: Redactor,
        started: float,
        max_duration: float,
        guard: TargetGuard | None = None,
    ):
        self.spec = spec
        self._guard = guard
        try:
            self._url = expand_url(spec.url, env, redactor, "spec.scalingProbe.url")
            self._headers = expand_headers(spec.headers, env, redactor, "spec.scalingProbe.headers")
        except MissingVariable as error:
            raise ConfigError(str(error)) from None
        self._paths = {name: parse_json_path(getattr(spec.fields, name)) for name in FIELDS}
        self._started = started
        self._max_samples = math.ceil(max_duration / spec.interval) + 2
        self.series: list[Sample] = []
        self.failures = 0
        self.errors: dict[str, int] = {}

    @property
    def url(self) -> str:
        """The URL polled, ``${VAR}`` expanded."""
        return self._url

    async def run(self) -> None:
        """Poll until cancelled (or the sample bound is reached)."""
        timeout = aiohttp.ClientTimeout(total=self.spec.timeout)
        guarded = self._guard.connector_options() if self._guard is not None else {}
        connector = aiohttp.TCPConnector(limit=1, **guarded)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            without_retries(session)
            for _ in range(self._max_samples):
                polled = now()
                await self._poll(session)
                pause = self.spec.interval * (1 + random.uniform(0, _JITTER)) - (now() - polled)
                await asyncio.sleep(max(0.0, pause))

    async def _poll(self, session: aiohttp.ClientSession) -> None:
        at = round(now() - self._started, 3)
        try:
            async with session.get(
                self._url, headers=self._headers, allow_redirects=False
            ) as response:
                if response.status >= 300:  # redirects are not followed: nothing to read
                    self._failed(f"http_{response.status}")
                    return
                payload = await _read_at_most(response.content, _MAX_BODY)
            if payload is None:
                self._failed("too_large")
                return
            document = json.loads(payload)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self._failed(TARGET_DENIED if is_target_denied(error) else "unreachable")
            return
        except ValueError:
            self._failed("not_json")
            return
        sample: Sample = {"t": at}
        for name, path in self._paths.items():
            matches = path.find(document)
            value = matches[0].value if matches else None
            sample[name] = (
                value if isinstance(value, int | float) and not isinstance(value, bool) else None
            )
        self.series.append(sample)

    def _failed(self, reason: str) -> None:
        self.failures += 1
        self.errors[reason] = self.errors.get(reason, 0) + 1

    def summary(self) -> report.ScalingProbe:
        def peak(name: str) -> float | None:
            values = [value for s in self.series if (value := s[name]) is not None]
            return max(values) if values else None

        return report.ScalingProbe.model_validate(
            {
                "samples": len(self.series),
                "failures": self.failures,
                "errors": dict(self.errors),
                "interval_seconds": self.spec.interval,
                "max_workers_running": peak("workers_running"),
                "max_in_queue": peak("jobs_in_queue"),
                "series": self.series,
            }
        )


async def _read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than ``limit`` bytes (leaving
    the response unread: the session closes its connection)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
