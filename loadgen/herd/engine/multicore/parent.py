"""A runner as several processes: start them, release them together, merge their results.

Each process is ``child_command`` (the CLI's hidden ``herd _process``), a fresh
interpreter started with ``subprocess`` — never a fork of a running event loop —
in its own session, so a terminal's Ctrl-C reaches the runner alone and is
forwarded once. Without ``--release-at``, every process stages its own requests'
inputs, says it is ready, and all are given one release time once the last is
ready (or gone); with it, all release at that time, as runners do.

SIGINT/SIGTERM are forwarded; each process drains and writes its results, and the
runner merges what they wrote. Every wait is bounded: the processes get
``maxDuration + drainTimeout`` and a grace (after a stop: ``drainTimeout`` and the
grace), then what is left is killed. A process that dies is reported and its
share accounted for by what the runner can prove (``lost.lost_share``): never sent
where that is provable, unknown otherwise, and never as sent; one whose runner dies
sees its stdin close and stops at once.

For ``/metrics`` and the progress line, ``MultiProcessRun`` shows the attributes a
``LoadRun`` does (``recorder``, ``upload_stats``, ``loop_lag``, ``probe``, ``plan``,
``phase``), merged from the statistics each process sends every ``state_interval``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from herd.api.exits import ExitCode
from herd.api.report import Report
from herd.api.spec import LoadTest
from herd.engine.errors import ConfigError, SetupError
from herd.engine.histogram import Histogram
from herd.engine.multicore.choice import ProcessChoice
from herd.engine.multicore.lost import Progress, lost_share
from herd.engine.multicore.merge import (
    LostProcess,
    ProcessPart,
    RunnerFacts,
    account_lost,
    merge_parts,
    start_skew,
)
from herd.engine.multicore.protocol import ProcessConfig, encode
from herd.engine.multicore.split import process_loadtest
from herd.engine.multicore.state import MergedStats, ProbeView, merge_runs
from herd.engine.planning import Plan
from herd.engine.recorder import Recorder
from herd.engine.records import now
from herd.engine.run import LoadRun, RunOptions, install_stop_signals, new_run_id
from herd.engine.staging import UploadStats

log = logging.getLogger(__name__)

_RELEASE_LEAD = 0.1  # from sending the release time to the release: a pipe write away
_EXIT_GRACE = 30.0  # beyond maxDuration + drainTimeout: start-up, S3 cleanup, results
_KILL_WAIT = 5.0
_MAX_MESSAGE = 64 << 20  # a statistics message with 10,000 workers stays far below


class _Process:
    def __init__(self, part: int, plan: Plan, process: asyncio.subprocess.Process):
        self.part = part
        self.plan = plan
        self.process = process
        self.ready = False
        self.state: dict[str, Any] | None = None
        self.progress: Progress | None = None
        self.error: tuple[str, int] | None = None
        self.returncode: int | None = None
        self.released: float | None = None
        """``now()`` time its load could start; None until it is released."""
        self.ended: float | None = None
        """``now()`` time the runner saw it exit."""
        self.killed_at_deadline = False
        self.reader: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.returncode is None

    def send(self, message: bytes) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing() or not self.running:
            return
        with suppress(OSError):  # it died: its reader notices
            stdin.write(message)

    def why_lost(self) -> str:
        code = self.returncode
        if self.killed_at_deadline:
            return "still running at the runner's deadline: killed"
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        if code:
            return f"exited with code {code}"
        return "exited without writing results"


class MultiProcessRun:
    """One runner as ``choice.count`` processes; ``execute`` returns the merged report."""

    def __init__(
        self,
        loadtest: LoadTest,
        options: RunOptions,
        choice: ProcessChoice,
        child_command: Sequence[str],
        *,
        requests_log: Path | None = None,
        state_interval: float | None = None,
        metrics: bool = False,
        verbose: int = 0,
    ):
        if choice.count < 2:
            raise ValueError("one process runs in this process: use LoadRun")
        if options.request_log is not None or options.release_gate or options.origin:
            raise ValueError("request_log, release_gate and origin are set per process")
        self.loadtest = loadtest
        self.run_id = options.run_id or new_run_id(loadtest.metadata.name)
        self.options = replace(options, run_id=self.run_id)
        self.choice = choice
        self.plan = Plan(loadtest.spec.load, loadtest.spec.target, self.options.share)
        self.phase = "preparing"
        self.stopped: str | None = None
        self.release_at: float | None = None
        # Not run: it checks the config before any process starts and collects the
        # secrets it expands, so the runner redacts what the processes do.
        self._checker = LoadRun(loadtest, replace(self.options, handle_signals=False))
        self.redactor = self._checker.redactor
        self._child_command = list(child_command)
        self._requests_log = requests_log
        self.request_log_error: str | None = None
        self._state_interval = state_interval
        self._metrics = metrics
        self._verbose = verbose
        self._processes: list[_Process] = []
        self._stops: list[str] = []
        self._stop_deadline: float | None = None
        self._changed = asyncio.Event()
        self._started = 0.0
        self._states_version = 0
        self._merged: tuple[int, MergedStats] | None = None
        self._lost: list[LostProcess] = []

    # -- what /metrics and the progress line read, as from a LoadRun ------------------

    @property
    def recorder(self) -> Recorder | None:
        return self._merged_stats().recorder

    @property
    def upload_stats(self) -> UploadStats | None:
        return self._merged_stats().upload_stats

    @property
    def loop_lag(self) -> Histogram | None:
        return self._merged_stats().loop_lag

    @property
    def probe(self) -> ProbeView | None:
        return self._merged_stats().probe

    def process_states(self) -> list[dict[str, Any] | None]:
        """Each process's latest statistics (``state.run_state``), None before the first."""
        return [process.state for process in self._processes]

    def extras(self, name: str) -> list[Any]:
        """What each process's ``name`` extra reported last."""
        return [
            p.state["extras"][name]
            for p in self._processes
            if p.state is not None and name in p.state["extras"]
        ]

    def elapsed(self) -> float:
        return now() - self._started if self._started else 0.0

    def _merged_stats(self) -> MergedStats:
        if self._merged is None or self._merged[0] != self._states_version:
            states = [p.state for p in self._processes if p.state is not None]
            merged = merge_runs(states)
            if self._lost:  # the end: /metrics must agree with the report
                if merged.recorder is None:
                    merged.recorder = Recorder(self._started, self.plan.bucket_seconds)
                account_lost(merged.recorder, self._lost)
            self._merged = (self._states_version, merged)
        return self._merged[1]

    # -- control ----------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Forward a stop to every process; a second one also cuts their drain short."""
        if self.stopped is None:
            self.stopped = reason
            self._stop_deadline = now() + self.loadtest.spec.load.drain_timeout + _EXIT_GRACE
        self._stops.append(reason)
        for process in self._processes:
            process.send(encode({"stop": reason}))
        self._changed.set()

    # -- the run ----------------------------------------------------------------------

    async def execute(self) -> Report:
        self._checker.check()  # a bad ${VAR} or body fails here, before any process starts
        loop = asyncio.get_running_loop()
        started_at = datetime.now(UTC)
        self._started = now()
        signals = install_stop_signals(loop, self.request_stop, self.options.handle_signals)
        workdir = Path(tempfile.mkdtemp(prefix="herd-processes-"))
        try:
            self.phase = "starting"
            for part in range(self.choice.count):
                self._processes.append(await self._start(part, workdir))
            self.phase = "staging" if self.options.release_at is None else "running"
            await self._supervise()
            failed = next((p.error for p in self._processes if p.error), None)
            if failed is not None:
                message, code = failed
                raise (ConfigError if code == ConfigError.exit_code else SetupError)(message)
            report = self._merge(started_at, workdir)
            if self._requests_log is not None:
                self._join_request_logs(workdir)
            self.phase = "done"
            return report
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            await self._end_processes()
            shutil.rmtree(workdir, ignore_errors=True)

    async def _start(self, part: int, workdir: Path) -> _Process:
        share = self.options.share.process(part, self.choice.count)
        spec = self.loadtest.spec
        env = self.options.env
        config = ProcessConfig(
            loadtest=process_loadtest(self.loadtest, part, self.choice.count).model_dump(
                by_alias=True
            ),
            run_id=self.run_id,
            share=(share.index, share.count, share.part, share.parts),
            origin=self._started,
            release_at=self.options.release_at,
            wait_for_release=self.options.release_at is None,
            result_path=str(workdir / f"process-{part}.json"),
            requests_log=str(workdir / f"requests-{part}.jsonl") if self._requests_log else None,
            state_interval=self._state_interval,
            env=dict(env) if env is not None else None,
            metrics=self._metrics,
            verbose=self._verbose,
        )
        try:
            started = await asyncio.create_subprocess_exec(
                *self._child_command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,
                limit=_MAX_MESSAGE,
            )
        except OSError as error:
            raise SetupError(f"could not start process {part}: {error}") from None
        process = _Process(part, Plan(spec.load, spec.target, share), started)
        if self.options.release_at is not None:
            process.released = _local_time(self.options.release_at)
        process.send(config.encode())
        for reason in self._stops:  # a stop that came while the processes were starting
            process.send(encode({"stop": reason}))
        process.reader = asyncio.ensure_future(self._follow(process))
        return process

    async def _follow(self, process: _Process) -> None:
        """Read a process's messages until it exits, then record how it ended."""
        stdout = process.process.stdout
        assert stdout is not None
        while True:
            try:
                line = await stdout.readline()
            except ValueError:  # a line beyond _MAX_MESSAGE: a bug, not a reason to hang
                log.error("process %d sent an oversized message; ignoring it", process.part)
                continue
            if not line:
                break
            try:
                self._on_message(process, json.loads(line))
            except (ValueError, TypeError, KeyError, AttributeError):  # never stop reading
                log.error("process %d sent a message herd cannot read: %.200r", process.part, line)
        process.returncode = await process.process.wait()
        process.ended = now()
        if process.returncode != 0:
            log.warning("process %d: %s", process.part, process.why_lost())
        self._changed.set()

    def _on_message(self, process: _Process, message: dict[str, Any]) -> None:
        if message.get("ready"):
            process.ready = True
        elif "progress" in message:
            count = message["progress"]
            process.progress = Progress(int(count["sent"]), int(count["never_sent"]))
        elif "state" in message:
            process.state = message["state"]
            self._states_version += 1
        elif "error" in message:
            process.error = (str(message["error"]), int(message.get("exit_code", ExitCode.NOT_RUN)))
        self._changed.set()

    async def _supervise(self) -> None:
        load = self.loadtest.spec.load
        deadline = self._started + load.max_duration + load.drain_timeout + _EXIT_GRACE
        released = self.options.release_at is not None
        failing = False
        while any(p.running for p in self._processes):
            if not failing and any(p.error for p in self._processes):
                failing = True  # one could not run: stop the rest; the error is raised
                for process in self._processes:
                    process.send(encode({"stop": "process_failed"}))
            if not (released or failing or self.stopped) and all(
                p.ready or not p.running for p in self._processes
            ):
                self._release()
                released = True
            until = deadline if self._stop_deadline is None else min(deadline, self._stop_deadline)
            if now() >= until:
                for process in self._processes:
                    if process.running:
                        process.killed_at_deadline = True
                        with suppress(ProcessLookupError):
                            process.process.kill()
                break
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), until - now())
        readers = [p.reader for p in self._processes if p.reader is not None]
        if readers:
            await asyncio.wait(readers, timeout=_KILL_WAIT)

    def _release(self) -> None:
        self.release_at = time.time() + _RELEASE_LEAD
        for process in self._processes:
            if process.running:
                process.released = _local_time(self.release_at)
            process.send(encode({"release_at": self.release_at}))
        self.phase = "running"

    def _merge(self, started_at: datetime, workdir: Path) -> Report:
        parts: list[ProcessPart] = []
        lost = self._lost
        for process in self._processes:
            part = _read_part(process.part, workdir / f"process-{process.part}.json")
            if part is None:
                # Still running here (killed, not yet reaped): it ends no earlier than now.
                ended = process.ended if process.ended is not None else now()
                share = lost_share(process.plan, process.released, ended, process.progress)
                lost.append(LostProcess(process.part, share, process.why_lost()))
                process.state = None  # /metrics must agree with the report
            else:
                parts.append(part)
                process.state = part.state
        self._states_version += 1
        runner = RunnerFacts(
            loadtest=self.loadtest,
            run_id=self.run_id,
            share=self.options.share,
            started_at=started_at,
            stopped=self.stopped,
        )
        return merge_parts(runner, parts, lost, self.redactor, [self._note(parts)])

    def _note(self, parts: Sequence[ProcessPart]) -> str:
        note = f"ran as {self.choice.describe()}"
        skew = start_skew(parts)
        if skew is not None:
            note += f"; their load started within {skew * 1000:.2f} ms of each other"
        cpu = [f"{p.report.client.cpu_utilization:.0%}" for p in parts]
        if cpu:
            note += f"; CPU of a core per process: {', '.join(cpu)}"
        return note

    def _join_request_logs(self, workdir: Path) -> None:
        """One file, process by process; a killed process's cut-off last line is dropped.
        A failed write (a full disk) is kept in ``request_log_error``: it never costs
        the report."""
        assert self._requests_log is not None
        try:
            self._requests_log.parent.mkdir(parents=True, exist_ok=True)
            with self._requests_log.open("wb") as joined:
                for process in self._processes:
                    path = workdir / f"requests-{process.part}.jsonl"
                    if not path.exists():
                        continue
                    data = path.read_bytes()
                    joined.write(data[: data.rfind(b"\n") + 1])
        except OSError as error:
            self.request_log_error = f"{self._requests_log}: {error.strerror or error}"

    async def _end_processes(self) -> None:
        """Nothing started here outlives the run: kill and reap what still runs."""
        for process in self._processes:
            if process.running:
                with suppress(ProcessLookupError):
                    process.process.kill()
            if process.process.stdin is not None:
                process.process.stdin.close()
        waits = [asyncio.ensure_future(p.process.wait()) for p in self._processes]
        if waits:
            await asyncio.wait(waits, timeout=_KILL_WAIT)
        for process in self._processes:
            if process.reader is not None and not process.reader.done():
                process.reader.cancel()
                with suppress(asyncio.CancelledError):
                    await process.reader


def _local_time(release_at: float) -> float:
    """An epoch time as ``now()`` time: when a process given it releases its load."""
    return now() + (release_at - time.time())


def _read_part(part: int, path: Path) -> ProcessPart | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return ProcessPart(part, Report.model_validate(document["report"]), document["state"])
