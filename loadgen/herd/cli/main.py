"""The ``herd`` command line: each command maps its options onto engine settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from herd import __version__
from herd.api.exits import ExitCode, signal_exit
from herd.api.loading import MAX_FILE_BYTES, SpecError, load_loadtest, loads_loadtest
from herd.api.report import Report
from herd.api.spec import LoadTest
from herd.api.verdicts import Verdict
from herd.cli.console import problem_line
from herd.cli.options import verbose_option
from herd.engine.env_expansion import Redactor
from herd.engine.errors import RunError
from herd.engine.log_setup import configure_logging, level_for
from herd.engine.multicore.choice import Processes, choose_processes, parse_processes
from herd.engine.multicore.cpus import cpu_budget
from herd.engine.multicore.parent import MultiProcessRun
from herd.engine.request_log import RequestLogFile
from herd.engine.run import LoadRun, RunOptions
from herd.engine.schedule import Share
from herd.engine.scrub import scrub_credentials
from herd.metrics import MetricsSettings, PushSettings, exporting
from herd.results.store import ResultsStore

VERDICT_EXITS: dict[Verdict, ExitCode] = {
    "passed": ExitCode.PASSED,
    "failed": ExitCode.FAILED,
    "inconclusive": ExitCode.INCONCLUSIVE,
}

# How a multi-process runner starts each of its processes: a fresh interpreter.
PROCESS_COMMAND = (sys.executable, "-m", "herd.cli", "_process")


class _ProcessesType(click.ParamType[Processes]):
    name = "N|auto"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Processes:
        if value == "auto":
            return "auto"
        if isinstance(value, int):
            return value
        try:
            return parse_processes(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return None
    return uvloop.new_event_loop


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="herd")
def cli() -> None:
    """herd: load tests for autoscaling endpoints that measure the service, not the client."""


@cli.command()
@click.argument("loadtest_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON report here.",
)
@click.option("--run-id", help="Name of this run (default: <name>-<UTC time>-<random>).")
@click.option(
    "--runner-index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="This runner's index when the load is split over several runners.",
)
@click.option(
    "--runners",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many runners share the load.",
)
@click.option(
    "--release-at",
    type=float,
    help="Wall-clock time (epoch seconds) at which to start the load after staging.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report with plots over time here.",
)
@click.option(
    "--requests-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every request (times, status, error, worker) as JSON lines here.",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the compact runner summary (at most 4096 bytes) here; runner pods use "
    "their termination message file.",
)
@click.option(
    "--results",
    "results_location",
    metavar="s3://BUCKET/PREFIX|DIR",
    help="Store this runner's full report (and its --requests-log, gzip-compressed) at the "
    "end of the run, under NAMESPACE/LOADTEST/RUN/runner-INDEX.json below this S3 prefix "
    "or directory (default: spec.results.s3). Credentials and the endpoint come from the "
    "environment (AWS_ENDPOINT_URL_S3) or the spec; docs/results.md.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    help="Serve Prometheus metrics at /metrics on this port during the run.",
)
@click.option(
    "--metrics-host",
    default="0.0.0.0",
    show_default=True,
    help="Address to serve --metrics-port on.",
)
@click.option(
    "--pushgateway",
    metavar="URL",
    help="Push metrics to this Prometheus Pushgateway during the run and once at its end "
    "(default: spec.metrics.pushgateway).",
)
@click.option(
    "--processes",
    type=_ProcessesType(),
    default="auto",
    show_default=True,
    help="Processes this runner uses, one core each: a number, or auto (the CPUs this "
    "process may use per affinity, cgroup quota and HERD_CPU_REQUEST, but no more than "
    "the load keeps busy). 1 runs everything in this process.",
)
@click.option(
    "--verdict-exit/--no-verdict-exit",
    default=True,
    show_default=True,
    help="Let the run's verdict set the exit code (0 passed, 1 failed, 4 inconclusive, "
    "3 nothing sent). "
    "--no-verdict-exit exits 0 once the run has ended and its results are written: runner "
    "pods use it, since the operator judges the merged results of all runners, and a runner "
    "exiting non-zero would end the Job's other runners.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; exit code only.")
@verbose_option
def run(
    loadtest_file: Path,
    report_path: Path | None,
    run_id: str | None,
    runner_index: int,
    runners: int,
    release_at: float | None,
    html_path: Path | None,
    requests_log: Path | None,
    summary_path: Path | None,
    results_location: str | None,
    metrics_port: int | None,
    metrics_host: str,
    pushgateway: str | None,
    processes: Processes,
    verdict_exit: bool,
    quiet: bool,
    verbose: int,
) -> None:
    """Run LOADTEST_FILE (a LoadTest object, as for kubectl apply; - reads it from stdin)
    from this machine.

    Exit codes: 0 passed, 1 failed (a threshold, or no request succeeded), 2 invalid
    spec, 3 the run could not execute or its results could not be written (a file, or
    --results after its retries), 4
    inconclusive (herd's own client limited the run, or a process was lost: the numbers
    describe the client, not the endpoint); 128+N when stopped by signal N (report
    still written).
    """
    err = Console(stderr=True, highlight=False, soft_wrap=True)  # a reason stays one line
    try:
        loadtest = _read_loadtest(loadtest_file)
    except SpecError as error:
        for problem in error.problems:
            err.print(problem_line(error.headline, scrub_credentials(problem)))
        sys.exit(ExitCode.INVALID)
    if runner_index >= runners:
        err.print(problem_line("invalid option", "--runner-index must be smaller than --runners"))
        sys.exit(ExitCode.INVALID)
    share = Share(runner_index, runners)
    try:
        choice = choose_processes(processes, loadtest.spec, share, cpu_budget())
    except ValueError as error:
        err.print(problem_line("invalid option", str(error)))
        sys.exit(ExitCode.INVALID)
    outputs = {
        "--report": report_path,
        "--summary": summary_path,
        "--html": html_path,
        "--requests-log": requests_log,
    }
    for option, path in outputs.items():
        unwritable = _unwritable(path)
        if unwritable:  # said before any traffic, not after a long run
            err.print(problem_line(f"cannot write {option}", unwritable))
            sys.exit(ExitCode.NOT_RUN)
    results_store = _results_store(results_location, loadtest, err)
    if not quiet:
        err.print(Text(f"herd run: {choice.describe()}"))
    # The flag overrides the spec, as flags do; cluster runners get the spec's.
    spec_metrics = loadtest.spec.metrics
    push_url = pushgateway or (spec_metrics.pushgateway if spec_metrics else None)
    console = Console()
    show_live = console.is_terminal and not quiet
    log_file: RequestLogFile | None = None
    with contextlib.ExitStack() as files:
        options = RunOptions(run_id=run_id, share=share, release_at=release_at)
        load_run: LoadRun | MultiProcessRun
        if choice.count == 1:  # today's path: this process, no others
            if requests_log is not None:
                try:
                    log_file = RequestLogFile(requests_log)
                except OSError as error:
                    err.print(problem_line("cannot write --requests-log", _reason(error)))
                    sys.exit(ExitCode.NOT_RUN)
                files.callback(log_file.close)
                options = replace(options, request_log=log_file)
            load_run = LoadRun(loadtest, options)
        else:
            metrics_wanted = metrics_port is not None or push_url is not None
            load_run = MultiProcessRun(
                loadtest,
                options,
                choice,
                PROCESS_COMMAND,
                requests_log=requests_log,
                state_interval=0.5 if show_live else 1.0 if metrics_wanted else None,
                metrics=metrics_wanted,
                verbose=verbose,
            )
        _configure_logging(verbose, load_run)
        try:
            metrics = MetricsSettings(
                port=metrics_port,
                host=metrics_host,
                push=PushSettings(push_url) if push_url else None,
            )
            with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
                report = runner.run(_execute(load_run, console if show_live else None, metrics))
        except RunError as error:
            err.print(problem_line("herd run failed", load_run.redactor.scrub(str(error))))
            sys.exit(error.exit_code)
    redactor = load_run.redactor
    unwritten = _write_outputs(report, redactor, report_path, summary_path, html_path, release_at)
    log_error = log_file.error if log_file is not None else None
    if isinstance(load_run, MultiProcessRun):  # its processes' logs are joined at the end
        log_error = load_run.request_log_error
    if log_error is not None:
        unwritten.append(("--requests-log", log_error))
    if not quiet:
        from herd.cli.console import summary

        with contextlib.suppress(OSError):  # stdout closed early (| head): the files stand
            console.print(summary(report), highlight=False)
    if results_store is not None:
        uploaded_log = requests_log if requests_log is not None and log_error is None else None
        failures = _store_results(
            results_store, loadtest, report, load_run, uploaded_log, err, quiet
        )
        unwritten += [("--results", reason) for reason in failures]
    for option, reason in unwritten:
        err.print(problem_line(f"could not write {option}", redactor.scrub(reason)))
    if unwritten:
        sys.exit(ExitCode.NOT_RUN)
    if report.stopped in ("SIGINT", "SIGTERM"):
        sys.exit(signal_exit(report.stopped))
    if not verdict_exit:
        sys.exit(ExitCode.PASSED)
    if report.requests.planned and report.requests.sent == report.requests.unknown == 0:
        sys.exit(ExitCode.NOT_RUN)
    sys.exit(VERDICT_EXITS[report.verdict])


def _results_store(location: str | None, loadtest: LoadTest, err: Console) -> ResultsStore | None:
    """The store ``--results`` (else ``spec.results.s3``) names, checked before any
    traffic as far as that is cheap; exits 2 on a location that cannot be one, 3 on a
    store that cannot be used."""
    from herd.results.store import StoreError, check_store, open_store, spec_store

    spec_s3 = loadtest.spec.results.s3 if loadtest.spec.results else None
    try:
        if location is None:
            if spec_s3 is None:
                return None
            store = spec_store(spec_s3)
        else:
            # The spec's endpoint and region are those of its bucket: they apply when the
            # flag names that bucket (the operator passes it so), else the environment's.
            same_bucket = spec_s3 is not None and location.split("/")[:3] == [
                "s3:",
                "",
                spec_s3.bucket,
            ]
            store = open_store(location, spec_s3 if same_bucket else None)
    except StoreError as error:
        err.print(problem_line("invalid option", f"--results: {scrub_credentials(str(error))}"))
        sys.exit(ExitCode.INVALID)
    try:
        asyncio.run(check_store(store))
    except StoreError as error:  # said before any traffic, not after a long run
        err.print(problem_line("cannot write --results", scrub_credentials(str(error))))
        sys.exit(ExitCode.NOT_RUN)
    return store


def _store_results(
    store: ResultsStore,
    loadtest: LoadTest,
    report: Report,
    load_run: LoadRun | MultiProcessRun,
    requests_log: Path | None,
    err: Console,
    quiet: bool,
) -> list[str]:
    """Upload the runner's result (retried, bounded); the reasons of what failed."""
    from herd.results.runner_upload import runner_result, store_runner_result

    redactor = load_run.redactor

    def tell(message: str) -> None:
        if not quiet:
            err.print(problem_line("retrying --results", redactor.scrub(message)))

    result = runner_result(loadtest, report, load_run, redactor)
    where, failures = asyncio.run(store_runner_result(store, result, requests_log, tell))
    if not failures and not quiet:
        err.print(Text(f"herd run: results stored at {where}"))
    return failures


def _read_loadtest(path: Path) -> LoadTest:
    if str(path) == "-":
        return loads_loadtest(sys.stdin.buffer.read(MAX_FILE_BYTES + 1), "- (stdin)")
    return load_loadtest(path)


def _reason(error: OSError, path: Path | None = None) -> str:
    where = error.filename if error.filename is not None else path
    return f"{where}: {error.strerror or error}" if where is not None else str(error)


def _unwritable(path: Path | None) -> str | None:
    """Why ``path`` could not be written, as far as can be told without writing it."""
    if path is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return _reason(error)
    if path.exists():
        return None if os.access(path, os.W_OK) else f"{path}: permission denied"
    return (
        None if os.access(path.parent, os.W_OK | os.X_OK) else f"{path.parent}: permission denied"
    )


def _write_outputs(
    report: Report,
    redactor: Redactor,
    report_path: Path | None,
    summary_path: Path | None,
    html_path: Path | None,
    release_at: float | None,
) -> list[tuple[str, str]]:
    """Write every file asked for; one that fails does not stop the others. Returns
    the options whose files could not be written, with the reason."""
    documents: list[tuple[str, Path | None, Callable[[], str]]] = [
        ("--report", report_path, lambda: redactor.scrub(_json(report))),
        (
            "--summary",
            summary_path,
            lambda: redactor.scrub(_termination_message(report, release_at)),
        ),
        # Only the secrets herd expanded: scrubbing could garble the page's own scripts.
        ("--html", html_path, lambda: redactor(_html(report))),
    ]
    unwritten = []
    for option, path, render in documents:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render())
        except OSError as error:
            unwritten.append((option, _reason(error, path)))
    return unwritten


def _json(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2) + "\n"


def _termination_message(report: Report, release_at: float | None) -> str:
    from herd.results.summary import termination_message

    return termination_message(report, release_at)


def _html(report: Report) -> str:
    from herd.views.html import render_html

    return render_html(report)


async def _execute(
    load_run: LoadRun | MultiProcessRun, console: Console | None, metrics: MetricsSettings
) -> Report:
    progress = None
    if console is not None:
        from herd.cli.console import show_progress

        progress = asyncio.ensure_future(show_progress(load_run, console))
    try:
        async with exporting(load_run, metrics) as exported:
            report = await load_run.execute()
            if exported is not None:
                exported.finish(report)  # the verdict goes into the final push
            return report
    finally:
        if progress is not None:
            progress.cancel()
            await asyncio.gather(progress, return_exceptions=True)


def _configure_logging(verbose: int, load_run: LoadRun | MultiProcessRun) -> None:
    configure_logging(
        level_for(verbose),
        load_run.redactor.scrub,
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.command("_process", hidden=True)
def process() -> None:
    """One process of a multi-process runner (``herd run --processes``): reads its
    configuration on stdin, writes its results where that says."""
    from herd.engine.multicore.process import serve
    from herd.metrics.processes import process_extras

    sys.exit(serve(_event_loop_factory(), process_extras))


def _register_commands() -> None:
    from herd.cli.demo import demo
    from herd.cli.operator import operator
    from herd.cli.report import report
    from herd.cli.sim import sim

    cli.add_command(demo)
    cli.add_command(operator)
    cli.add_command(report)
    cli.add_command(sim)


_register_commands()


def main() -> None:
    cli()
