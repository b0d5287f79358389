"""One self-contained HTML file per run: did the endpoint scale, did the client keep up?

Plotly draws the run's timeline (from the report alone, so a saved report can be
drawn again later); its JavaScript is embedded, so the file opens offline.
"""

from __future__ import annotations

import html
from itertools import accumulate

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from herd.api.report import Report
from herd.api.verdicts import Verdict

# Inconclusive is never green: it is not a pass.
_VERDICT_COLOURS: dict[Verdict, str] = {
    "passed": "#1a7f37",
    "failed": "#cf222e",
    "inconclusive": "#bc4c00",
}

_PANELS = (
    "Requests in flight (peak per bucket) vs target",
    "Arrivals and completions (per second)",
    "Latency from intended start (seconds)",
    "Errors by class (per second)",
    "Endpoint workers: seen by herd and reported by the provider",
    "Objects staged to S3 (cumulative)",
)


def _figure(report: Report) -> go.Figure:
    buckets = report.timeline.buckets
    width = report.timeline.bucket_seconds
    t = [b.t for b in buckets]
    figure = make_subplots(
        rows=len(_PANELS),
        cols=1,
        shared_xaxes=True,
        subplot_titles=list(_PANELS),
        vertical_spacing=0.05,
    )

    figure.add_scatter(
        x=t,
        y=[b.peak_in_flight for b in buckets],
        name="in flight",
        mode="lines",
        line_shape="hv",
        row=1,
        col=1,
    )
    if report.concurrency.target:
        figure.add_scatter(
            x=[0, t[-1] if t else 0],
            y=[report.concurrency.target] * 2,
            name="target",
            mode="lines",
            line={"dash": "dash"},
            row=1,
            col=1,
        )

    figure.add_bar(x=t, y=[b.sent / width for b in buckets], name="sent", row=2, col=1)
    figure.add_scatter(
        x=t, y=[b.ok / width for b in buckets], name="ok", mode="lines", row=2, col=1
    )
    figure.add_scatter(
        x=t, y=[b.failed / width for b in buckets], name="failed", mode="lines", row=2, col=1
    )

    for name in ("latency_p50", "latency_p95", "latency_p99"):
        figure.add_scatter(
            x=t,
            y=[getattr(b, name) for b in buckets],
            name=name.split("_")[1],
            mode="lines+markers",
            connectgaps=False,
            row=3,
            col=1,
        )

    classes = sorted({cls for b in buckets for cls in b.errors})
    for cls in classes:
        figure.add_bar(
            x=t, y=[b.errors.get(cls, 0) / width for b in buckets], name=cls, row=4, col=1
        )

    figure.add_scatter(
        x=t,
        y=[b.active_workers for b in buckets],
        name="workers answering",
        mode="lines",
        line_shape="hv",
        row=5,
        col=1,
    )
    figure.add_scatter(
        x=t,
        y=list(accumulate(b.new_workers for b in buckets)),
        name="distinct workers seen",
        mode="lines",
        line_shape="hv",
        row=5,
        col=1,
    )
    probe = report.scaling_probe
    if probe is not None and probe.series:
        pt = [s.t for s in probe.series]
        for field, label in (
            ("workers_running", "provider: running"),
            ("workers_initializing", "provider: initializing"),
            ("jobs_in_queue", "provider: jobs in queue"),
        ):
            figure.add_scatter(
                x=pt,
                y=[getattr(s, field) for s in probe.series],
                name=label,
                mode="lines+markers",
                line={"dash": "dot"},
                row=5,
                col=1,
            )

    figure.add_scatter(
        x=t,
        y=list(accumulate(b.uploads for b in buckets)),
        name="staged",
        mode="lines",
        row=6,
        col=1,
    )

    _legend_per_panel(figure)
    figure.update_layout(
        height=300 * len(_PANELS),
        barmode="stack",
        template="plotly_white",
        margin={"t": 40},
    )
    figure.update_xaxes(title_text="seconds since the run started", row=len(_PANELS), col=1)
    return figure


def _legend_per_panel(figure: go.Figure) -> None:
    """One legend beside each panel: a single legend for six panels is unreadable."""
    for trace in figure.data:
        axis: str = trace["yaxis"]  # every trace here is a Scatter or a Bar, on a y axis
        row = int(axis[1:] or 1)
        trace.legend = "legend" if row == 1 else f"legend{row}"
    for row in range(1, len(_PANELS) + 1):
        top = figure.layout[f"yaxis{'' if row == 1 else row}"].domain[1]
        name = "legend" if row == 1 else f"legend{row}"
        figure.layout[name] = {"y": top, "yanchor": "top", "x": 1.02, "xanchor": "left"}


def _summary(report: Report) -> str:
    r = report.requests
    latency = report.latency_seconds
    rows = [
        ("run", f"{report.run_id} — {report.pattern} against {report.target}"),
        (
            "requests",
            f"planned {r.planned}, sent {r.sent}, ok {r.ok}, failed {r.failed}, "
            f"never sent {r.never_sent}" + (f", unknown {r.unknown}" if r.unknown else ""),
        ),
        ("errors", ", ".join(f"{k} {v}" for k, v in report.errors.items()) or "none"),
        (
            "latency",
            f"p50 {latency.p50:.3f}s, p95 {latency.p95:.3f}s, p99 {latency.p99:.3f}s"
            if latency
            else "no completed request",
        ),
        ("workers", f"{report.workers.distinct} distinct"),
        (
            "verdict",
            report.verdict + (f": {report.verdict_reason}" if report.verdict_reason else ""),
        ),
        (
            "client",
            "LIMITED — the numbers describe the client" if report.client_limited else "kept up",
        ),
    ]
    rows += [
        (
            t.expr + (" (implicit)" if t.implicit else ""),
            "passed" if t.passed else f"failed (observed {t.value})",
        )
        for t in report.thresholds
    ]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    notes = "".join(f"<li>{html.escape(line)}</li>" for line in report.diagnostics)
    return f"<table>{table}</table>" + (f"<ul>{notes}</ul>" if notes else "")


def render_html(report: Report) -> str:
    """The whole page as one string (plotly.js embedded)."""
    plot = _figure(report).to_html(full_html=False, include_plotlyjs=True)
    verdict_colour = _VERDICT_COLOURS[report.verdict]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>herd — {html.escape(report.loadtest)} {html.escape(report.run_id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
th {{ text-align: left; padding-right: 1em; vertical-align: top; }}
h1 span {{ color: {verdict_colour}; }}
</style></head><body>
<h1>{html.escape(report.loadtest)}: <span>{html.escape(report.verdict)}</span></h1>
{_summary(report)}
{plot}
</body></html>
"""
