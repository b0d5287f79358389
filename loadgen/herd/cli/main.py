"""The ``herd`` command line: each command maps its options onto engine settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console

from herd import __version__
from herd.api.loading import SpecError, load_loadtest
from herd.engine.errors import RunError
from herd.engine.log_setup import configure_logging, level_for
from herd.engine.multicore.choice import Processes, choose_processes, parse_processes
from herd.engine.multicore.cpus import cpu_budget
from herd.engine.multicore.parent import MultiProcessRun
from herd.engine.run import LoadRun, RunOptions
from herd.engine.schedule import Share
from herd.engine.scrub import scrub_credentials
from herd.metrics import MetricsSettings, PushSettings, exporting

EXIT_PASSED, EXIT_FAILED, EXIT_INVALID, EXIT_NOT_RUN = 0, 1, 2, 3
# How a multi-process runner starts each of its processes: a fresh interpreter.
PROCESS_COMMAND = (sys.executable, "-m", "herd.cli", "_process")


class _ProcessesType(click.ParamType):
    name = "N|auto"

    def convert(self, value, param, ctx) -> Processes:
        if value == "auto" or isinstance(value, int):
            return value
        try:
            return parse_processes(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def _event_loop_factory():
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
@click.argument("loadtest_file", type=click.Path(dir_okay=False, path_type=Path))
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
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; exit code only.")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log output (-v info, -vv debug; the AWS and Kubernetes clients stay at info: "
    "their debug output carries credentials).",
)
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
    metrics_port: int | None,
    metrics_host: str,
    pushgateway: str | None,
    processes: Processes,
    quiet: bool,
    verbose: int,
) -> None:
    """Run LOADTEST_FILE (a LoadTest object, as for kubectl apply) from this machine.

    Exit codes: 0 thresholds passed, 1 thresholds failed, 2 invalid spec,
    3 the run could not execute; 128+N when stopped by signal N (report still written).
    """
    err = Console(stderr=True)
    try:
        loadtest = load_loadtest(loadtest_file)
    except SpecError as error:
        for problem in error.problems:
            err.print(f"[red]invalid LoadTest[/]: {scrub_credentials(problem)}", highlight=False)
        sys.exit(EXIT_INVALID)
    if runner_index >= runners:
        err.print("[red]--runner-index must be smaller than --runners[/]")
        sys.exit(EXIT_INVALID)
    share = Share(runner_index, runners)
    try:
        choice = choose_processes(processes, loadtest.spec, share, cpu_budget())
    except ValueError as error:
        err.print(f"[red]invalid option[/]: {error}", highlight=False)
        sys.exit(EXIT_INVALID)
    if not quiet:
        err.print(f"herd run: {choice.describe()}", highlight=False)
    # The flag overrides the spec, as flags do; cluster runners get the spec's.
    spec_metrics = loadtest.spec.metrics
    push_url = pushgateway or (spec_metrics.pushgateway if spec_metrics else None)
    console = Console()
    show_live = console.is_terminal and not quiet
    with contextlib.ExitStack() as files:
        options = RunOptions(run_id=run_id, share=share, release_at=release_at)
        load_run: LoadRun | MultiProcessRun
        if choice.count == 1:  # today's path: this process, no others
            if requests_log is not None:
                requests_log.parent.mkdir(parents=True, exist_ok=True)
                log_stream = files.enter_context(requests_log.open("w", buffering=1 << 20))
                options = replace(options, request_log=log_stream)
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
            reason = load_run.redactor.scrub(str(error))
            err.print(f"[red]herd run failed[/]: {reason}", highlight=False)
            sys.exit(error.exit_code)
    document = json.dumps(report.model_dump(mode="json"), indent=2)
    document = load_run.redactor.scrub(document)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(document + "\n")
    if summary_path is not None:
        from herd_operator.summary import termination_message

        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(load_run.redactor.scrub(termination_message(report, release_at)))
    if html_path is not None:
        from herd.views.html import render_html

        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(load_run.redactor(render_html(report)))
    if not quiet:
        from herd.cli.console import summary

        console.print(summary(report), highlight=False)
    if report.stopped in ("SIGINT", "SIGTERM"):
        sys.exit(128 + signal.Signals[report.stopped].value)
    if report.requests.planned and report.requests.sent == 0:
        sys.exit(EXIT_NOT_RUN)
    sys.exit(EXIT_PASSED if report.verdict == "passed" else EXIT_FAILED)


async def _execute(
    load_run: LoadRun | MultiProcessRun, console: Console | None, metrics: MetricsSettings
):
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
    from herd.cli.sim import sim

    cli.add_command(demo)
    cli.add_command(operator)
    cli.add_command(sim)


_register_commands()


def main() -> None:
    cli()
