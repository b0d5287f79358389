"""Proof that every runner summary fits in a termination message.

The largest summary ``summarize`` can produce has every bounded part at its bound:
all error classes, reasons and workers present with the longest names and largest
counts, the longest diagnostics and times, and a histogram at the coarsest precision
of ``latency.LADDER`` (the one ``encode_summary`` falls back to). Its size is the
encoding of everything but the histogram, plus ``latency.encoded_size_bound`` for
the histogram. If that total is within the limit, ``encode_summary`` always finds a
precision that fits.
"""

from __future__ import annotations

from herd.api.spec import MAX_PARALLELISM
from herd.results import latency
from herd.results.summary import (
    MAX_COUNT,
    MAX_DIAGNOSTIC_CHARS,
    MAX_DIAGNOSTICS,
    MAX_ERROR_CLASSES,
    MAX_NAME_CHARS,
    MAX_NEVER_SENT_REASONS,
    MAX_SECONDS,
    MAX_STOPPED_CHARS,
    MAX_UNKNOWN_REASONS,
    MAX_WORKER_ID_CHARS,
    MAX_WORKERS,
    OTHER,
    RULE_BITS,
    RunnerSummary,
)

# A float of at most 17 significant digits below MAX_SECONDS prints longest like this.
_LONGEST_SECONDS = 12345678901.234567


def _names(count: int, length: int, prefix: str) -> dict[str, int]:
    return {f"{prefix}{index:0{length - len(prefix)}d}": MAX_COUNT for index in range(count)}


def worst_case_summary(histogram: str = "") -> RunnerSummary:
    """A summary with every bounded field at its largest."""
    return RunnerSummary(
        runner=MAX_PARALLELISM - 1,
        runners=MAX_PARALLELISM,
        load_started_at=min(_LONGEST_SECONDS, MAX_SECONDS),
        load_seconds=min(_LONGEST_SECONDS, MAX_SECONDS),
        requests=(MAX_COUNT,) * 5,
        errors={**_names(MAX_ERROR_CLASSES, MAX_NAME_CHARS, "e"), OTHER: MAX_COUNT},
        never_sent={**_names(MAX_NEVER_SENT_REASONS, MAX_NAME_CHARS, "n"), OTHER: MAX_COUNT},
        unknown={**_names(MAX_UNKNOWN_REASONS, MAX_NAME_CHARS, "u"), OTHER: MAX_COUNT},
        workers=_names(MAX_WORKERS, MAX_WORKER_ID_CHARS, "w"),
        workers_distinct=MAX_COUNT,
        workers_other=MAX_COUNT,
        burst_spread=min(_LONGEST_SECONDS, MAX_SECONDS),
        peak_in_flight=MAX_COUNT,
        client_limited=False,  # "false" is longer than "true"
        limited_by=2 ** len(RULE_BITS) - 1,
        ignored=2 ** len(RULE_BITS) - 1,
        diagnostics=["d" * MAX_DIAGNOSTIC_CHARS] * MAX_DIAGNOSTICS,
        stopped="s" * MAX_STOPPED_CHARS,
        latency=histogram,
    )


def worst_case_size() -> int:
    """Bytes of the largest possible termination message."""
    without_histogram = len(worst_case_summary().model_dump_json(by_alias=True).encode())
    histogram = latency.encoded_size_bound(latency.LADDER[-1], MAX_COUNT)
    return without_histogram + histogram
