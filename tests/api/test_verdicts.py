"""The one rule that decides a verdict (``herd.api.verdicts.decide``), as a table: every
combination of what it looks at, and the verdict docs/verdicts.md promises for it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from herd.api.verdicts import SELF_CHECK_RULES, VERDICTS, Evidence, decide, explain, verdict_of
from herd.cli.main import VERDICT_EXITS

# complete, anything succeeded, client-limited, thresholds held -> verdict
TABLE = [
    # Results complete, the client kept up: the thresholds decide.
    (True, True, False, True, "passed"),
    (True, True, False, False, "failed"),
    # The client limited the run: neither a pass nor a failure can be proven.
    (True, True, True, True, "inconclusive"),
    (True, True, True, False, "inconclusive"),
    # Nothing succeeded: failed, limited client or not, whatever the thresholds.
    (True, False, False, True, "failed"),
    (True, False, False, False, "failed"),
    (True, False, True, True, "failed"),
    (True, False, True, False, "failed"),
    # Results incomplete (a lost process or runner): inconclusive before anything else,
    # even "nothing succeeded", since the missing part may hold the successes.
    (False, True, False, True, "inconclusive"),
    (False, True, False, False, "inconclusive"),
    (False, True, True, True, "inconclusive"),
    (False, True, True, False, "inconclusive"),
    (False, False, False, True, "inconclusive"),
    (False, False, False, False, "inconclusive"),
    (False, False, True, True, "inconclusive"),
    (False, False, True, False, "inconclusive"),
]


def test_the_table_covers_every_combination_once():
    rows = [row[:4] for row in TABLE]
    assert sorted(rows) == sorted(itertools.product([True, False], repeat=4))


@pytest.mark.parametrize(("complete", "succeeded", "limited", "held", "verdict"), TABLE)
def test_precedence(complete, succeeded, limited, held, verdict):
    evidence = Evidence(
        thresholds_held=held,
        anything_succeeded=succeeded,
        client_limited=limited,
        complete=complete,
    )
    assert decide(evidence) == verdict


def test_passed_needs_everything_and_inconclusive_is_never_passed():
    passes = [row for row in TABLE if row[4] == "passed"]
    assert passes == [(True, True, False, True, "passed")]
    assert set(VERDICTS) == {"passed", "failed", "inconclusive"}


@dataclass(frozen=True)
class Judged:
    expr: str
    value: float | None
    passed: bool
    implicit: bool = False


def test_judged_thresholds_feed_the_rule_and_explain_it():
    slow = Judged("p95 < 2s", 3.25, passed=False)
    nothing = Judged("ok > 0", 0.0, passed=False, implicit=True)
    fine = Judged("workers >= 2", 3.0, passed=True)
    assert verdict_of([fine], client_limited=False, complete=True) == "passed"
    assert verdict_of([fine, slow], client_limited=False, complete=True) == "failed"
    assert verdict_of([fine, slow], client_limited=True, complete=True) == "inconclusive"
    assert verdict_of([fine, nothing], client_limited=True, complete=True) == "failed"
    assert verdict_of([], client_limited=False, complete=False) == "inconclusive"
    assert explain("failed", [fine, slow, nothing], "") == (
        "p95 < 2s failed (was 3.25); no request succeeded (ok > 0)"
    )
    assert explain("inconclusive", [slow], "client-limited: the burst trickled") == (
        "client-limited: the burst trickled"
    )
    assert explain("passed", [fine], "unused") == ""


DOC = Path(__file__).resolve().parents[2] / "docs" / "verdicts.md"


def first_column(heading: str) -> list[str]:
    """The first column of the table under ``heading`` in docs/verdicts.md."""
    section = DOC.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [row.split("|")[1].strip().strip("`") for row in rows]


def test_the_docs_list_every_self_check_rule_a_spec_may_ignore():
    assert first_column("The self-check's rules") == list(SELF_CHECK_RULES)


def test_the_docs_list_every_verdict_with_its_exit_code():
    """The first table: one row per verdict, its exit code the one herd run uses."""
    table = DOC.read_text().split("\n\n")[2]
    rows = [row.split("|")[1:4] for row in table.splitlines() if row.startswith("| `")]
    documented = {verdict.strip(" `"): code.strip(" `") for verdict, _, code in rows}
    assert documented == {verdict: str(int(code)) for verdict, code in VERDICT_EXITS.items()}
    assert list(documented) == list(VERDICTS)
