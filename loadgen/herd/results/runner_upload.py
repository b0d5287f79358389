"""A runner's results into a results store, at the end of its run.

``herd run --results`` (and runner pods) write the runner's ``RunnerResult`` under the
run's prefix and, when a requests log was kept, that log gzip-compressed beside it.
These are writes of herd's own results, not load requests, so each is retried, with a
bound (``RetryPolicy``): a store that is down costs the runner seconds, never its end.
The log goes first: a reader that sees ``runner-INDEX.json`` finds the log with it.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from herd.api.report import Report
from herd.api.spec import LoadTest
from herd.engine.env_expansion import Redactor
from herd.engine.multicore.state import RunStatistics, run_state
from herd.engine.run import LoadRun
from herd.results.layout import requests_log_key, run_prefix, runner_key
from herd.results.runner_result import RunnerResult
from herd.results.store import ResultsStore, StoreError, key_location

JSON = "application/json"
GZIPPED_JSON_LINES = "application/gzip"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    """Attempts per object, the first included."""
    within: float = 20.0
    """No attempt starts this many seconds after the first (a pod's grace period is 30 s)."""
    first_backoff: float = 0.5
    """Wait before the second attempt; doubled (with jitter) before each next one."""


def runner_result(
    loadtest: LoadTest, report: Report, statistics: RunStatistics | LoadRun, redactor: Redactor
) -> RunnerResult:
    """The runner's result, its statistics taken now with the clock offset beside them.
    Every part is scrubbed as ``--report`` is, so the stored report is the file's."""
    clock_offset = time.time() - time.perf_counter()
    state = run_state(statistics)
    applied = loadtest.model_dump(mode="json", by_alias=True, exclude_none=True)
    return RunnerResult(
        loadtest=_scrubbed(applied, redactor),
        report=Report.model_validate(_scrubbed(report.model_dump(mode="json"), redactor)),
        run_state=_scrubbed(state, redactor),
        clock_offset=clock_offset,
    )


def _scrubbed(document: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    # The text --report writes, scrubbed the same way, read back.
    scrubbed: dict[str, Any] = json.loads(redactor.scrub(json.dumps(document, indent=2)))
    return scrubbed


def result_prefix(store_prefix: str, report: Report) -> str:
    """Where this run's results go below a store's prefix (``layout.run_prefix``)."""
    return run_prefix(store_prefix, report.namespace, report.loadtest, report.run_id)


def gzipped(path: Path) -> bytes:
    """The file gzip-compressed (a requests log: JSON lines compress about tenfold)."""
    buffer = io.BytesIO()
    with path.open("rb") as source, gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as target:
        shutil.copyfileobj(source, target, 1 << 20)
    return buffer.getvalue()


async def put_with_retries(
    store: ResultsStore,
    key: str,
    data: Callable[[], bytes] | bytes,
    content_type: str,
    tell: Callable[[str], None],
    policy: RetryPolicy = RetryPolicy(),
) -> None:
    """Write ``key``, retrying failures within ``policy``; ``tell`` hears of each retry.
    Raises the last StoreError when no attempt succeeded (or one cannot: a missing
    bucket, no credentials)."""
    body = data() if callable(data) else data
    started = time.monotonic()
    for attempt in range(1, policy.attempts + 1):
        try:
            await store.put(key, body, content_type)
            return
        except StoreError as error:
            backoff = random.uniform(0.5, 1.0) * policy.first_backoff * 2 ** (attempt - 1)
            late = time.monotonic() - started + backoff > policy.within
            if not error.retryable or attempt == policy.attempts or late:
                if attempt == 1:
                    raise
                raise StoreError(f"{error} (gave up after {attempt} attempts)", False) from None
            tell(f"attempt {attempt} of {policy.attempts}: {error}; retrying in {backoff:.1f}s")
            await asyncio.sleep(backoff)
    raise AssertionError("unreachable")


async def store_runner_result(
    store: ResultsStore,
    result: RunnerResult,
    requests_log: Path | None,
    tell: Callable[[str], None],
    policy: RetryPolicy = RetryPolicy(),
) -> tuple[str, list[str]]:
    """Write the result (and the requests log) under the run's prefix. Returns the
    result's location and the reasons of what could not be written (empty: all was)."""
    report = result.report
    prefix = result_prefix("", report)
    failures: list[str] = []
    if requests_log is not None:
        key = prefix + requests_log_key(report.runner)
        try:
            await put_with_retries(
                store, key, lambda: gzipped(requests_log), GZIPPED_JSON_LINES, tell, policy
            )
        except OSError as error:
            failures.append(f"{requests_log}: {error.strerror or error}")
        except StoreError as error:
            failures.append(str(error))
    key = prefix + runner_key(report.runner)
    try:
        await put_with_retries(store, key, result.model_dump_json().encode(), JSON, tell, policy)
    except StoreError as error:
        failures.append(str(error))
    return key_location(store, key), failures
