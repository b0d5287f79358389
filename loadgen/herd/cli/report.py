"""``herd report SOURCE``: the report of any result, as ``herd run`` would have shown it.

SOURCE is a saved report (``herd run --report``), a runner's result, or a run's results
in a store (a local directory or ``s3://bucket/prefix/NAMESPACE/LOADTEST/RUN/``), merged
exactly from its runners when it has no ``merged.json`` (``herd.results.source``). The
merge Job of a cluster run runs ``herd report PREFIX --runners N --merge --summary
/dev/termination-log --quiet --no-verdict-exit``. Kubernetes is never imported here: a
cluster run's name (``lt/NAME``, ``ltr/RUN``) goes through ``CLUSTER_RESOLVER``, set by
whatever knows how to find its results.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from herd.api.exits import ExitCode
from herd.api.report import Report
from herd.api.spec import MAX_PARALLELISM
from herd.cli.console import problem_line
from herd.cli.options import verbose_option
from herd.engine.log_setup import configure_logging, level_for
from herd.engine.scrub import scrub_credentials

if TYPE_CHECKING:  # the store's S3 client loads only when a source needs it
    from herd.results.source import ClusterResolver
    from herd.results.store import ResultsStore

CLUSTER_RESOLVER: ClusterResolver | None = None
"""``herd.results.source.ClusterResolver`` for ``lt/NAME`` and ``ltr/RUN``; None until a
cluster-aware module sets it (lazily: ``herd report DIR`` must not load Kubernetes)."""


@click.command("report")
@click.argument("source")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report with plots over time here.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the (merged) JSON report here.",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the compact summary of the (merged) report (at most 4096 bytes) here; the "
    "merge Job of a cluster run uses its termination message file.",
)
@click.option(
    "--runners",
    type=click.IntRange(min=1, max=MAX_PARALLELISM),
    help="How many runners the run had (default: what the runners' results say); a runner "
    "without results is named and its share counted unknown. Merges from the runner files.",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Merge the runners' results again, even when the run has a merged.json, and write "
    "merged.json and report.html beside them.",
)
@click.option(
    "--verdict-exit/--no-verdict-exit",
    default=True,
    show_default=True,
    help="Let the verdict set the exit code (0 passed, 1 failed, 4 inconclusive); "
    "--no-verdict-exit exits 0 once the report is read and written.",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary on the terminal; exit code only.")
@verbose_option
def report(
    source: str,
    html_path: Path | None,
    report_path: Path | None,
    summary_path: Path | None,
    runners: int | None,
    merge: bool,
    verdict_exit: bool,
    quiet: bool,
    verbose: int,
) -> None:
    """Show the report of SOURCE: a saved report (herd run --report), a runner's result,
    a run's results in a directory or at s3://BUCKET/PREFIX/NAMESPACE/LOADTEST/RUN/
    (merged from its runners when it has no merged.json, or with --merge).

    Exit codes: 0 passed, 1 failed, 4 inconclusive (or 0 with --no-verdict-exit), 2 the
    source or an option is not valid, 3 the source or an output could not be read or
    written.
    """
    from herd.cli.main import VERDICT_EXITS
    from herd.results.source import CLUSTER_SOURCE, SourceError, load_source
    from herd.results.store import StoreError

    configure_logging(
        level_for(verbose), scrub_credentials, "%(asctime)s %(levelname)s: %(message)s"
    )
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    resolver = CLUSTER_RESOLVER
    if resolver is None and CLUSTER_SOURCE.fullmatch(source):
        # Kubernetes is loaded for a cluster run's name only.
        from herd_operator.report_lookup import kubeconfig_resolver

        resolver = kubeconfig_resolver()
    try:
        loaded = asyncio.run(
            load_source(
                source,
                runners=runners,
                merge=merge,
                resolve_cluster=resolver,
            )
        )
    except SourceError as error:
        err.print(problem_line("herd report", scrub_credentials(str(error))))
        sys.exit(ExitCode.INVALID)
    except StoreError as error:
        err.print(problem_line("cannot read", scrub_credentials(str(error))))
        sys.exit(ExitCode.NOT_RUN)
    result = loaded.report
    unwritten = _write_files(result, report_path, summary_path, html_path)
    if merge and loaded.store is not None:
        from herd.results.layout import HTML, MERGED

        try:
            asyncio.run(_store_merged(loaded.store, result, MERGED, HTML))
        except StoreError as error:
            unwritten.append(("--merge", scrub_credentials(str(error))))
    if not quiet:
        from herd.cli.console import summary

        with contextlib.suppress(OSError):  # stdout closed early (| head)
            console = Console()
            if loaded.merged_runners:
                console.print(
                    f"merged from {loaded.merged_runners} runner results at "
                    f"{scrub_credentials(loaded.store.location) if loaded.store else source}",
                    highlight=False,
                    soft_wrap=True,  # a location stays one line
                )
            console.print(summary(result), highlight=False)
    for option, reason in unwritten:
        err.print(problem_line(f"could not write {option}", reason))
    if unwritten:
        sys.exit(ExitCode.NOT_RUN)
    sys.exit(VERDICT_EXITS[result.verdict] if verdict_exit else ExitCode.PASSED)


def _json(result: Report) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2) + "\n"


def _html(result: Report) -> str:
    from herd.views.html import render_html

    return render_html(result)


def _summary(result: Report) -> str:
    from herd.results.summary import termination_message

    return termination_message(result)


def _write_files(
    result: Report, report_path: Path | None, summary_path: Path | None, html_path: Path | None
) -> list[tuple[str, str]]:
    """Write every file asked for; one that fails does not stop the others."""
    documents: list[tuple[str, Path | None, Callable[[Report], str]]] = [
        ("--report", report_path, _json),
        ("--summary", summary_path, _summary),
        ("--html", html_path, _html),
    ]
    unwritten = []
    for option, path, render in documents:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(result))
        except OSError as error:
            unwritten.append((option, f"{path}: {error.strerror or error}"))
    return unwritten


async def _store_merged(
    store: ResultsStore, result: Report, merged_key: str, html_key: str
) -> None:
    """The merged report and its page beside the runners' results."""
    await store.put(merged_key, _json(result).encode(), "application/json")
    await store.put(html_key, _html(result).encode(), "text/html; charset=utf-8")
