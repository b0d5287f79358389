"""What a person sees: a live progress line while running, a summary at the end."""

from __future__ import annotations

import asyncio

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from herd.api.report import Report
from herd.api.verdicts import Verdict
from herd.engine.live import LiveRun

_REFRESH_SECONDS = 0.25
# Inconclusive is never green: it is not a pass.
_VERDICT_STYLES: dict[Verdict, str] = {
    "passed": "bold green",
    "failed": "bold red",
    "inconclusive": "bold yellow",
}


def _progress_line(run: LiveRun) -> Text:
    recorder = run.recorder
    elapsed = run.elapsed()
    if recorder is None:
        return Text(f"{run.phase}…")
    recorder.settle()
    planned = run.plan.planned
    line = f"{run.phase:<10} {elapsed:6.1f}s  sent {recorder.sent}"
    if planned is not None:
        line += f"/{planned}"
    line += f"  ok {recorder.ok}  failed {recorder.failed}  in flight {recorder.in_flight}"
    line += f"  workers {len(recorder.worker_requests)}"
    if recorder.latency.count:
        line += f"  p95 {recorder.latency.percentile(95):.3f}s"
    stats = run.upload_stats
    if stats is not None and run.phase == "staging":
        line += f"  uploaded {stats.objects} (in flight {stats.in_flight})"
    return Text(line)


async def show_progress(run: LiveRun, console: Console) -> None:
    """Redraw the progress line until cancelled; only used on a terminal."""
    with Live(_progress_line(run), console=console, transient=True, auto_refresh=False) as live:
        while True:
            await asyncio.sleep(_REFRESH_SECONDS)
            live.update(_progress_line(run), refresh=True)


def problem_line(label: str, message: str) -> Text:
    """``label: message`` with the label in red. ``message`` is user-derived text (a
    threshold, a regex, a YAML fragment): it is never read as Rich markup."""
    return Text.assemble((label, "red"), ": ", message)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.3f}s"


def summary(report: Report) -> Group:
    requests = report.requests
    counts = Table.grid(padding=(0, 2))
    counts.add_row(
        "requests",
        f"planned {requests.planned}",
        f"sent {requests.sent}",
        f"ok {requests.ok}",
        f"failed {requests.failed}",
        f"never sent {requests.never_sent}",
        *([f"unknown {requests.unknown}"] if requests.unknown else []),
    )
    latency = Table(title="latency (from intended start)", title_justify="left")
    for column in ("p50", "p90", "p95", "p99", "max", "mean"):
        latency.add_column(column, justify="right")
    if report.latency_seconds is not None:
        latency.add_row(
            *(
                _seconds(getattr(report.latency_seconds, c))
                for c in ("p50", "p90", "p95", "p99", "max", "mean")
            )
        )
    parts: list[RenderableType] = [
        Text(f"herd run {report.run_id}: {report.pattern} against {report.target}"),
        counts,
    ]
    if report.errors:
        parts.append(Text("errors: " + ", ".join(f"{k} {v}" for k, v in report.errors.items())))
    if report.never_sent_reasons:
        parts.append(
            Text(
                "never sent: " + ", ".join(f"{k} {v}" for k, v in report.never_sent_reasons.items())
            )
        )
    if requests.unknown:
        reasons = ", ".join(f"{k} {v}" for k, v in report.unknown_reasons.items())
        parts.append(
            Text(
                f"unknown: {reasons} (sent or not, their outcome was lost: the endpoint "
                f"may have received up to {requests.unknown} more requests than sent)",
                style="yellow",
            )
        )
    if report.latency_seconds is not None:
        parts.append(latency)
    concurrency = report.concurrency
    line = f"peak in flight {concurrency.peak_in_flight}"
    if concurrency.target:
        line += f" of {concurrency.target}"
    if concurrency.burst_spread_seconds is not None:
        line += f", burst left the client within {_seconds(concurrency.burst_spread_seconds)}"
    line += f", {report.throughput_rps:.1f} req/s over {report.duration_seconds:.2f}s"
    parts.append(Text(line))
    workers = report.workers
    if workers.distinct:
        timeline = ", ".join(
            f"{w} at {t:.2f}s" for w, t in list(workers.first_seen_seconds.items())[:8]
        )
        parts.append(Text(f"workers {workers.distinct}: first seen {timeline}"))
    if report.uploads is not None:
        up = report.uploads
        parts.append(
            Text(
                f"uploads {up.objects} objects, {up.bytes} bytes, {up.failed} failed, "
                f"peak {up.peak_in_flight}/{up.concurrency} in flight, {up.retries} retries, "
                f"{_seconds(up.duration_seconds)} staging"
            )
        )
    for result in report.thresholds:
        mark = ("✓", "green") if result.passed else ("✗", "red")
        value = "-" if result.value is None else f"{result.value:.4g}"
        note = "; implicit: a run in which no request succeeded fails" if result.implicit else ""
        parts.append(Text.assemble(mark, f" {result.expr}  (observed {value}{note})"))
    if report.client_limited:
        parts.append(
            Text(
                "CLIENT-LIMITED: these numbers describe the client, not the endpoint",
                style="bold yellow",
            )
        )
    for line in report.diagnostics:
        parts.append(Text(f"  - {line}"))
    verdict = Text(f"verdict: {report.verdict}", style=_VERDICT_STYLES[report.verdict])
    if report.verdict == "inconclusive":
        why = "see client-limited above" if report.client_limited else report.verdict_reason
        verdict.append(
            f" (neither passed nor failed: herd did not measure the endpoint as planned; {why})"
        )
    parts.append(verdict)
    return Group(*parts)
