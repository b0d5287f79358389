"""Every request as one JSON line, for people who want the raw data.

A recorder listener: it formats each finished request and hands the line to a
buffered file, so the request path pays one string format and no system call.
Times are seconds since the run started.
"""

from __future__ import annotations

import json
from typing import IO

from herd.engine.records import RequestRecord


class RequestLog:
    def __init__(self, stream: IO[str], run_start: float):
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
