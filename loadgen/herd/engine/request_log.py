"""Every request as one JSON line, for people who want the raw data.

A recorder listener: it formats each finished request and hands the line to a
buffered file, so the request path pays one string format and no system call.
Times are seconds since the run started.

The file is a by-product: a write that fails (a full disk) must never cost the run,
its accounting or its report. ``RequestLogFile`` keeps the first error, drops the
lines after it, and lets whoever opened it say so when the run is over.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

from herd.engine.records import RequestRecord

log = logging.getLogger(__name__)

_BUFFER_BYTES = 1 << 20


class TextSink(Protocol):
    def write(self, text: str, /) -> object: ...


class RequestLogFile:
    """A request log on disk that never raises once it is open."""

    def __init__(self, path: Path):
        """Open (create or truncate) ``path``; raises OSError when that is impossible,
        so a caller can refuse to start a run whose log could not be written at all."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.error: str | None = None
        self._stream = path.open("w", buffering=_BUFFER_BYTES)

    def write(self, text: str) -> int:
        if self.error is None:
            try:
                self._stream.write(text)
            except (OSError, ValueError) as error:
                self._failed(error)
        return len(text)

    def close(self) -> None:
        """Flush and close; a failure is kept in ``error`` (the descriptor is closed)."""
        try:
            self._stream.close()
        except OSError as error:
            self._failed(error)

    def _failed(self, error: Exception) -> None:
        if self.error is None:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            self.error = f"{self.path}: {reason}"
            log.warning(
                "could not write the request log %s; later requests are not logged", self.error
            )


class RequestLog:
    def __init__(self, stream: TextSink, run_start: float):
        self._stream = stream
        self._start = run_start

    def __call__(self, record: RequestRecord) -> None:
        start = self._start
        line = {
            "index": record.index,
            "intended": round(record.intended - start, 6),
            "sent": round(record.sent - start, 6),
            "pool_wait": round(record.pool_wait, 6),
            "wire": round(record.wire - start, 6) if record.wire else None,
            "ttfb": round(record.ttfb - start, 6) if record.ttfb else None,
            "end": round(record.end - start, 6),
            "status": record.status or None,
            "bytes": record.body_bytes,
            "error": record.error,
            "worker": record.worker,
            "delay": record.delay,
            "execution": record.execution,
        }
        self._stream.write(json.dumps(line, separators=(",", ":")) + "\n")
