"""What herd knows about one request, from plan to last byte.

Times are ``time.perf_counter()`` seconds (monotonic, sub-microsecond): the event
loop's own clock is cached per iteration (to the millisecond under uvloop) and
would blur exactly the spreads herd exists to measure.
"""

from __future__ import annotations

from time import perf_counter as now

__all__ = ["RequestRecord", "now"]


class RequestRecord:
    """One request's timeline and outcome. Slotted: thousands are alive at once."""

    __slots__ = (
        "body_bytes",
        "body_cut",
        "deadline",
        "delay",
        "end",
        "error",
        "execution",
        "in_flight",
        "index",
        "intended",
        "pool_wait",
        "sent",
        "status",
        "timed_out",
        "ttfb",
        "wire",
        "worker",
    )

    def __init__(self, index: int, intended: float):
        self.index = index
        self.intended = intended  # when the plan wanted it to start
        self.sent: float = 0.0  # when herd handed it to the HTTP client
        self.pool_wait: float = 0.0  # how long it waited for one
        self.wire: float = 0.0  # when its headers were written to the socket
        self.ttfb: float = 0.0  # when the response headers arrived
        self.end: float = 0.0  # when the last byte arrived or it failed
        self.deadline: float = 0.0  # when its whole-request timeout expires
        self.timed_out = False  # its deadline cancelled it
        self.status: int = 0
        self.error: str | None = None  # error class, None when it succeeded
        self.worker: str | None = None  # endpoint worker that served it
        self.delay: float | None = None  # queue time the endpoint reported (delayTime)
        self.execution: float | None = None  # run time the endpoint reported (executionTime)
        self.in_flight = 0  # requests in flight as it ended, itself included
        self.body_bytes = 0  # response body bytes read (decoded), held or not
        self.body_cut = False  # the body outgrew what is held (keepResponseBytes)
