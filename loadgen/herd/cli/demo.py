"""``herd demo``: the incident and its fix, side by side, with nothing to set up."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from herd.demo.run import DemoRun, run_demo, write_reports


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def comparison(runs: list[DemoRun]) -> Table:
    table = Table(title="herd demo: 30 calls x 3 images against an autoscaling endpoint")
    table.add_column("")
    for run in runs:
        table.add_column(run.title)

    def row(label: str, value: Callable[[DemoRun], str]) -> None:
        table.add_row(label, *(value(run) for run in runs))

    row("calls reached the endpoint within", lambda r: _seconds(r.truth.arrival_spread))
    row("workers that served calls", lambda r: str(r.report.workers.distinct))
    row("  (endpoint's own count)", lambda r: str(r.truth.distinct_workers))
    row("ok / failed", lambda r: f"{r.report.requests.ok} / {r.report.requests.failed}")
    row("errors", lambda r: ", ".join(f"{k} {v}" for k, v in r.report.errors.items()) or "none")
    row(
        "  (endpoint's own status counts)",
        lambda r: ", ".join(f"{k}: {v}" for k, v in r.truth.status_counts.items()),
    )
    row(
        "latency p50 / p95",
        lambda r: (
            f"{_seconds(r.report.latency_seconds.p50)} / {_seconds(r.report.latency_seconds.p95)}"
            if r.report.latency_seconds
            else "-"
        ),
    )
    row("client-limited", lambda r: "YES" if r.report.client_limited else "no")
    row("verdict", lambda r: r.report.verdict)
    return table


@click.command("demo")
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/demo"),
    show_default=True,
    help="Write each run's JSON and HTML report here.",
)
def demo(report_dir: Path) -> None:
    """Replay the incident (uploads serialize the calls) and run the same test with herd,
    against a built-in S3 and a built-in autoscaling endpoint on 127.0.0.1."""
    console = Console()

    def on_phase(title: str) -> None:
        console.print(f"running side by side: {title} …", highlight=False)

    console.print(
        "starting a local S3 (moto, with a remote region's upload latency) "
        "and a simulated autoscaling endpoint (herd sim) …",
        highlight=False,
    )
    runs = asyncio.run(run_demo(on_phase))
    write_reports(runs, report_dir)
    console.print(comparison(runs))
    for run in runs:
        if run.report.diagnostics:
            console.print(f"[bold]{run.title}[/]:")
            for line in run.report.diagnostics:
                console.print(f"  - {line}", highlight=False)
    console.print(f"reports: {report_dir}/*.json and *.html", highlight=False)
    healthy = not runs[-1].report.client_limited and runs[-1].report.requests.failed == 0
    sys.exit(0 if healthy else 1)
