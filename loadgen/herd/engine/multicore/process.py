"""One process of a multi-process runner: run its part of the load, on the runner's cue.

Started by the runner (``herd _process``) with a ProcessConfig on stdin; runs an
ordinary ``LoadRun`` on its part of the runner's share, with the runner's clock
origin so all timelines line up. After staging it says ``ready`` and waits for the
release time every process is given; stops arrive as messages; when its stdin
closes the runner is gone, and it stops at once (drain cut short) so it never
outlives the runner. While it runs it tells the runner its own count (``progress``),
so a runner that loses it still knows what it had sent; at the end it writes its
report and statistics to ``result_path``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from herd.api.spec import LoadTest
from herd.engine.errors import ConfigError, RunError, SetupError
from herd.engine.log_setup import configure_logging, level_for
from herd.engine.multicore.protocol import PROGRESS_INTERVAL, ProcessConfig, encode
from herd.engine.multicore.state import run_state
from herd.engine.recorder import Listener
from herd.engine.request_log import RequestLogFile
from herd.engine.run import LoadRun, RunOptions

log = logging.getLogger(__name__)

RUNNER_GONE = "runner_gone"
_MAX_MESSAGE = 1 << 20


@dataclass(frozen=True)
class Extra:
    """Something another layer collects in each process and the runner merges
    (the exporter's requests by code): a listener and its JSON snapshot."""

    listener: Listener | None
    snapshot: Callable[[], Any]


ExtrasFor = Callable[[ProcessConfig], Mapping[str, Extra]]


class _Channel:
    """Messages to the runner; a closed pipe means the runner is gone."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            self._stream.write(encode(message))
            self._stream.flush()
        except OSError:  # BrokenPipeError: nobody reads any more
            self.closed = True


def serve(
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None, extras_for: ExtrasFor
) -> int:
    """Run this process's part as the runner on stdin configures it; the exit code."""
    # stdout is the channel to the runner: anything else printing there would corrupt
    # it, so file descriptor 1 goes to stderr and the channel keeps a private copy.
    channel = _Channel(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_serve(channel, extras_for))


async def _serve(channel: _Channel, extras_for: ExtrasFor) -> int:
    control = await _read_stdin()
    line = await control.readline()
    if not line:
        return ConfigError.exit_code  # started by hand, or the runner vanished at once
    config = ProcessConfig.decode(line)
    extras = extras_for(config)
    release: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()

    async def release_gate() -> float | None:
        channel.send({"ready": True})
        return await release

    with ExitStack() as files:
        request_log = None
        if config.requests_log is not None:
            request_log = RequestLogFile(Path(config.requests_log))  # in the runner's own dir
            files.callback(request_log.close)
        load_run = LoadRun(
            LoadTest.model_validate(config.loadtest),
            RunOptions(
                run_id=config.run_id,
                share=config.process_share,
                release_at=config.release_at,
                env=config.env,
                request_log=request_log,
                origin=config.origin,
                release_gate=release_gate if config.wait_for_release else None,
            ),
        )
        _configure_logging(config, load_run)
        load_run.listeners.extend(extra.listener for extra in extras.values() if extra.listener)
        snapshots = {name: extra.snapshot for name, extra in extras.items()}
        following = asyncio.ensure_future(_follow(control, load_run, release))
        progressing = asyncio.ensure_future(_send_progress(channel, load_run))
        reporting = None
        if config.state_interval:
            reporting = asyncio.ensure_future(
                _send_states(channel, load_run, snapshots, config.state_interval)
            )
        try:
            report = await load_run.execute()
        except RunError as error:
            reason = load_run.redactor.scrub(str(error))
            channel.send({"error": reason, "exit_code": error.exit_code})
            return error.exit_code
        finally:
            for task in (following, progressing, reporting):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
    document = json.dumps(
        {
            "report": report.model_dump(mode="json"),
            "state": run_state(load_run, snapshots, with_timeline=True),
        }
    )
    try:
        _write_whole(Path(config.result_path), load_run.redactor(document))
    except OSError as error:  # the runner is gone and took its directory with it
        log.error("could not write this process's results: %s", error)
        return SetupError.exit_code
    return 0


async def _read_stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_MAX_MESSAGE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _follow(
    control: asyncio.StreamReader, load_run: LoadRun, release: asyncio.Future[float | None]
) -> None:
    """Act on the runner's messages; when they end, the runner is gone: stop now."""
    while line := await control.readline():
        message = json.loads(line)
        if "release_at" in message and not release.done():
            release.set_result(message["release_at"])
        elif "stop" in message:
            load_run.request_stop(message["stop"])
    log.warning("the runner is gone: stopping, in-flight requests are aborted")
    load_run.request_stop(RUNNER_GONE)
    load_run.request_stop(RUNNER_GONE)  # the second stop cuts the drain short


async def _send_states(
    channel: _Channel,
    load_run: LoadRun,
    snapshots: Mapping[str, Callable[[], Any]],
    interval: float,
) -> None:
    while not channel.closed:
        await asyncio.sleep(interval)
        channel.send({"state": run_state(load_run, snapshots, with_timeline=False)})


async def _send_progress(channel: _Channel, load_run: LoadRun) -> None:
    """The process's own count, for a runner that outlives it (``lost.lost_share``):
    ``sent`` and ``never_sent`` are counted the moment they happen."""
    while not channel.closed:
        await asyncio.sleep(PROGRESS_INTERVAL)
        recorder = load_run.recorder
        if recorder is not None:
            never_sent = sum(recorder.never_sent.values())
            channel.send({"progress": {"sent": recorder.sent, "never_sent": never_sent}})


def _write_whole(path: Path, text: str) -> None:
    """Write then rename: the runner finds the whole file or none."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _configure_logging(config: ProcessConfig, load_run: LoadRun) -> None:
    part = config.process_share.part
    configure_logging(
        level_for(config.verbose),
        load_run.redactor.scrub,
        f"%(asctime)s %(levelname)s process {part} %(name)s: %(message)s",
    )
