"""What ``herd report SOURCE`` reads: a saved report, one runner's result, or a run's
results in a store (a local directory or an ``s3://`` prefix), merged when needed.

A run's prefix (``PREFIX/NAMESPACE/LOADTEST/RUN/``, ``herd.results.layout``) holds its
runners' results and, once merged, ``merged.json``: that is read as it is unless a merge
from the runner files is asked for. A cluster run's name (``lt/NAME``, ``ltr/RUN``) is
turned into its prefix by a ``ClusterResolver``, which knows Kubernetes; this module
does not.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from herd.api.errors import describe_validation_error
from herd.api.report import Report
from herd.results.layout import MERGED, runner_index
from herd.results.runner_merge import MergeError, merge_runner_results
from herd.results.runner_result import RunnerResult
from herd.results.store import S3_SCHEME, LocalStore, ResultsStore, StoreError, open_store

ClusterResolver = Callable[[str], Awaitable[str]]
"""A cluster run's name (``lt/NAME``, ``ltr/RUN``) -> the location of its results
(``s3://bucket/prefix/NAMESPACE/LOADTEST/RUN/``); raises SourceError when it has none."""

CLUSTER_SOURCE = re.compile(r"(lt|ltr|loadtest|loadtestrun|loadtests|loadtestruns)/.+")
_READ_AT_ONCE = 16
_RUNS_NAMED = 5


class SourceError(ValueError):
    """The source is not something herd can report on (the message says why): exit 2."""


@dataclass(frozen=True)
class Loaded:
    report: Report
    store: ResultsStore | None
    """The run's prefix in its store, when the source is one (where ``--merge`` writes)."""
    merged_runners: int
    """How many runner results were merged here; 0 when the report was read as saved."""


async def load_source(
    source: str,
    *,
    runners: int | None = None,
    merge: bool = False,
    resolve_cluster: ClusterResolver | None = None,
) -> Loaded:
    """The report ``source`` holds. SourceError: not a source (or not one ``runners`` and
    ``merge`` apply to); StoreError: it could not be read."""
    if CLUSTER_SOURCE.fullmatch(source):
        if resolve_cluster is None:
            raise SourceError(
                f"{source}: reading a cluster run's results by its name is not available "
                "in this herd; give their location instead (s3://BUCKET/PREFIX/NAMESPACE/"
                "LOADTEST/RUN/ or a local directory)"
            )
        source = await resolve_cluster(source)
    if source.startswith(S3_SCHEME):
        try:
            store = open_store(source)
        except StoreError as error:
            raise SourceError(str(error)) from None
        return await load_run(store, runners=runners, merge=merge)
    path = Path(source)
    kind = await asyncio.to_thread(_kind_of, path)
    if kind == "directory":
        return await load_run(LocalStore(path), runners=runners, merge=merge)
    if kind == "missing":
        raise SourceError(f"{source}: no such file or directory")
    if merge or runners is not None:
        option = "--merge" if merge else "--runners"
        raise SourceError(
            f"{option} applies to a run's results (a directory or an s3:// prefix), "
            f"not to the file {source}"
        )
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        raise StoreError(f"{source}: {error.strerror or error}") from None
    return Loaded(_report_of_file(data, source), None, 0)


def _kind_of(path: Path) -> str:
    return "directory" if path.is_dir() else "file" if path.exists() else "missing"


def _report_of_file(data: bytes, where: str) -> Report:
    """A saved report (``herd run --report``) or a runner's result (its own report)."""
    document = _json_object(data, where)
    if "run_state" in document and "report" in document:
        return _runner_result(document, where).report
    if "report_version" in document:
        try:
            return Report.model_validate(document)
        except ValidationError as error:
            raise SourceError(f"{where}: not a herd report: {_problem(error)}") from None
    raise SourceError(f"{where}: neither a herd report (herd run --report) nor a runner's result")


async def load_run(
    store: ResultsStore, *, runners: int | None = None, merge: bool = False
) -> Loaded:
    """A run's report from its prefix: ``merged.json`` unless ``merge`` (or ``runners``)
    asks to merge the runner results again."""
    keys = await store.keys()
    top = [key for key in keys if "/" not in key]
    runner_keys = sorted(
        (key for key in top if runner_index(key) is not None), key=lambda k: runner_index(k) or 0
    )
    if MERGED in top and not merge and runners is None:
        data = await store.get(MERGED)
        if data is not None:
            where = f"{store.location.rstrip('/')}/{MERGED}"
            document = _json_object(data, where)
            try:
                return Loaded(Report.model_validate(document), store, 0)
            except ValidationError as error:
                raise SourceError(f"{where}: not a herd report: {_problem(error)}") from None
    if not runner_keys:
        raise SourceError(_no_results(store.location, keys))
    results = await _read_results(store, runner_keys)
    try:
        report = merge_runner_results(results, runners)
    except MergeError as error:
        raise SourceError(f"{store.location}: {error}") from None
    return Loaded(report, store, len(results))


async def _read_results(store: ResultsStore, keys: list[str]) -> list[RunnerResult]:
    gate = asyncio.Semaphore(_READ_AT_ONCE)

    async def read(key: str) -> RunnerResult | None:
        async with gate:
            data = await store.get(key)
        if data is None:  # deleted since it was listed
            return None
        where = f"{store.location.rstrip('/')}/{key}"
        return _runner_result(_json_object(data, where), where)

    read_all = await asyncio.gather(*(read(key) for key in keys))
    return [result for result in read_all if result is not None]


def _runner_result(document: dict[str, Any], where: str) -> RunnerResult:
    try:
        return RunnerResult.model_validate(document)
    except ValidationError as error:
        raise SourceError(f"{where}: not a runner's result: {_problem(error)}") from None


def _json_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SourceError(f"{where}: not JSON") from None
    if not isinstance(document, dict):
        raise SourceError(f"{where}: not a JSON object")
    return document


def _problem(error: ValidationError) -> str:
    return describe_validation_error(error)[0]


def _no_results(location: str, keys: list[str]) -> str:
    """Why a location holds no run, and where its runs are when it holds some deeper."""
    runs = sorted(
        {
            key.rsplit("/", 1)[0] + "/"
            for key in keys
            if "/" in key and runner_index(key) is not None
        }
    )
    text = f"{location}: no runner results (runner-INDEX.json) and no {MERGED}"
    if runs:
        listed = ", ".join(runs[:_RUNS_NAMED]) + (", …" if len(runs) > _RUNS_NAMED else "")
        return text + f"; it holds runs under it: {listed}"
    return text + "; a run's results are at PREFIX/NAMESPACE/LOADTEST/RUN/"
