"""Prints the fault matrix (what each target received beside herd's report)."""

from __future__ import annotations

from tests.faults.matrix import ROWS, table


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not ROWS:
        return
    terminalreporter.section("fault matrix: the target's count against herd's report")
    for line in table():
        terminalreporter.write_line(line)
