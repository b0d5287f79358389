"""``herd run``'s exit codes: the one place they are defined.

The CLI exits with them, the engine's errors carry them, and the operator reads them
back from a runner pod's termination state to word what happened.
"""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    PASSED = 0
    """The run passed: every threshold held and at least one request succeeded."""
    FAILED = 1
    """The run failed: a threshold did not hold, or no request succeeded."""
    INVALID = 2
    """The spec, the command line or the environment is invalid; nothing was sent."""
    NOT_RUN = 3
    """The run could not execute here, or its results could not be written."""
    INCONCLUSIVE = 4
    """The run ended inconclusive: herd's own client limited it (the self-check), or a
    process was lost, so its numbers can neither pass nor fail the endpoint."""
    SIGNALLED = 128
    """Stopped by signal N exits with 128 + N (the report is still written)."""


_MEANINGS = {
    # Python also exits 1 on an unhandled exception, so in a cluster, where the runner's
    # own thresholds are not judged, code 1 is not worded as a threshold failure.
    ExitCode.FAILED: "the run failed its checks or the runner crashed; see its log",
    ExitCode.INVALID: "invalid spec",
    ExitCode.NOT_RUN: "the run could not execute",
    ExitCode.INCONCLUSIVE: "the run was inconclusive",
}


def signal_exit(signal_name: str) -> int:
    """The exit code of a run stopped by ``signal_name`` (``SIGINT``, ``SIGTERM``)."""
    return ExitCode.SIGNALLED + signal.Signals[signal_name].value


def exit_meaning(code: int) -> str:
    """A few words on what a runner's exit code says, for status messages."""
    if code in _MEANINGS:
        return _MEANINGS[ExitCode(code)]
    if code > ExitCode.SIGNALLED:
        try:
            name = signal.Signals(code - ExitCode.SIGNALLED).name
        except ValueError:
            return "error"
        return {"SIGINT": "interrupted (SIGINT)", "SIGKILL": "killed (SIGKILL)"}.get(
            name, f"stopped ({name})"
        )
    return "error"
