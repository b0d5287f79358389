"""The fault matrix's ledger: one row per fault, what the target received beside what
herd reported, printed at the end of the test session (``conftest.py``) so that every
CI log shows the comparison the matrix asserts."""

from __future__ import annotations

from dataclasses import dataclass

from herd.api.report import Report


@dataclass(frozen=True)
class Row:
    fault: str
    received: int
    report: Report

    def cells(self) -> list[str]:
        r = self.report.requests
        classes = {**self.report.errors, **self.report.never_sent_reasons}
        classes.update(self.report.unknown_reasons)
        shown = ", ".join(f"{name} {n}" for name, n in sorted(classes.items())) or "-"
        return [
            self.fault,
            str(r.planned),
            str(self.received),
            str(r.sent),
            str(r.unknown),
            str(r.ok),
            str(r.failed),
            str(r.never_sent),
            shown,
        ]


HEADER = ["fault", "planned", "received", "sent", "unknown", "ok", "failed", "never", "classes"]
ROWS: list[Row] = []


def record_row(fault: str, received: int, report: Report) -> None:
    ROWS.append(Row(fault, received, report))


def table() -> list[str]:
    grid = [HEADER, *(row.cells() for row in ROWS)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(HEADER))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in grid
    ]
