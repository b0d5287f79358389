"""Numbers as people read them in ``kubectl get``: ``1.23s``, ``850ms``, ``0.50%``."""

from __future__ import annotations

from herd.api.status import RunResults, RunSummary
from herd.api.verdicts import Verdict


def seconds_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.3g}ms"
    return f"{seconds:.3g}s" if seconds < 100 else f"{seconds:.0f}s"


def ratio_text(ratio: float) -> str:
    return f"{ratio * 100:.2f}%"


def run_summary(
    run_name: str, results: RunResults | None, verdict: Verdict | None, reason: str | None = None
) -> RunSummary:
    """``reason``: why the verdict is not passed, when the results do not say it."""
    latency = results.latency if results else None
    if reason is None and results is not None and verdict == results.verdict:
        reason = results.verdict_reason
    return RunSummary(
        run=run_name,
        p95=seconds_text(latency.p95) if latency else None,
        error_rate=ratio_text(results.error_rate)
        if results and results.error_rate is not None
        else None,
        workers=results.workers.distinct if results else None,
        verdict=verdict,
        verdict_reason=reason if verdict is not None and verdict != "passed" else None,
    )


def headline(results: RunResults) -> str:
    """One line for Events and messages: verdict and the numbers thresholds look at."""
    parts = [f"verdict {results.verdict}"]
    if results.verdict == "inconclusive":  # first: GitOps tools show the message's start
        parts = [f"verdict inconclusive ({results.verdict_reason})"]
    if results.latency:
        parts.append(f"p95 {seconds_text(results.latency.p95)}")
    if results.error_rate is not None:
        parts.append(f"error rate {ratio_text(results.error_rate)}")
    parts.append(f"{results.workers.distinct} workers")
    if results.requests.unknown:
        parts.append(f"{results.requests.unknown} requests of unknown fate (a process was lost)")
    return ", ".join(parts)
