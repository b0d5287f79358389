"""Where a run's results live in a results store: one layout for herd run, runners,
the merge step and ``herd report``.

``PREFIX/NAMESPACE/LOADTEST/RUN/`` holds ``runner-INDEX.json`` (each runner's
``RunnerResult``), ``runner-INDEX.requests.jsonl.gz`` (its requests log, when asked for),
and, once merged, ``merged.json`` (the run's report) and ``report.html``. Runs outside
a cluster use the LoadTest's namespace or, as kubectl does, ``default``.
"""

from __future__ import annotations

import re

DEFAULT_NAMESPACE = "default"
MERGED = "merged.json"
HTML = "report.html"
_RUNNER = re.compile(r"runner-(\d+)\.json")


def run_prefix(prefix: str, namespace: str | None, loadtest: str, run_id: str) -> str:
    """The key prefix (ending in ``/``) of one run's results under a store prefix."""
    parts = [part for part in prefix.split("/") if part]
    parts += [namespace or DEFAULT_NAMESPACE, loadtest, run_id]
    return "/".join(parts) + "/"


def runner_key(index: int) -> str:
    return f"runner-{index}.json"


def requests_log_key(index: int) -> str:
    return f"runner-{index}.requests.jsonl.gz"


def runner_index(name: str) -> int | None:
    """The runner index a key's last part names (``runner-3.json`` → 3), else None."""
    match = _RUNNER.fullmatch(name.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None
