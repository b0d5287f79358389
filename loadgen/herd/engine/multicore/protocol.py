"""What a runner and its processes say to each other: one JSON object per line.

runner -> process, on the process's stdin:
    a ProcessConfig                          the first line
    {"release_at": <epoch seconds>}          every process has staged: start then
    {"stop": "SIGTERM"}                      a stop signal the runner received
    end of input                             the runner is gone: stop at once
process -> runner, on its stdout (its logs go to stderr):
    {"ready": true}                          staged, waiting for the release time
    {"state": {...}}                         its statistics so far (``state.run_state``)
    {"progress": {"sent": 12, "never_sent": 0}}   its own count, every ``PROGRESS_INTERVAL``:
                                             what the runner can still prove if it dies
    {"error": "<message>", "exit_code": 2}   it could not run

Results travel by file, not by pipe: a process writes them to ``result_path`` and
renames them into place when complete, so one killed midway leaves nothing
half-written. Stops travel by pipe, not by signal: a message waits in the pipe
until the process can act on it, where a signal sent while it is still starting
would kill it with its requests unaccounted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from herd.engine.schedule import Share

PROGRESS_INTERVAL = 0.25
"""Seconds between a process's progress messages: a few bytes, always sent."""


@dataclass(frozen=True)
class ProcessConfig:
    loadtest: dict[str, Any]
    """This process's LoadTest (``split.process_loadtest``), as a Python-mode dump:
    durations stay exact floats."""
    run_id: str
    share: tuple[int, int, int, int]
    """Runner index, runners, process index, processes."""
    origin: float
    """The runner's ``perf_counter`` origin: the time every process counts from."""
    release_at: float | None
    """A release time fixed in advance (``--release-at``)."""
    wait_for_release: bool
    """Without one: report ready after staging and wait for the runner's release time."""
    result_path: str
    requests_log: str | None = None
    state_interval: float | None = None
    """Send statistics this often (for the runner's /metrics and progress line)."""
    env: dict[str, str] | None = None
    """Where ``${VAR}`` comes from when not the environment the process inherits."""
    metrics: bool = False
    """Collect what the runner's metrics need beyond the statistics (``extras``)."""
    verbose: int = 0

    @property
    def process_share(self) -> Share:
        return Share(*self.share)

    def encode(self) -> bytes:
        return encode(asdict(self))

    @classmethod
    def decode(cls, line: bytes) -> ProcessConfig:
        fields = json.loads(line)
        fields["share"] = tuple(fields["share"])
        return cls(**fields)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"
