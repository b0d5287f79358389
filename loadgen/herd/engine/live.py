"""What a run shows while it goes on, for the progress line and ``/metrics``.

Both read a ``LoadRun``, or a ``MultiProcessRun`` that adds its processes' statistics
up into the same shape; this is the shape they share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from herd.api.spec import LoadTest
    from herd.engine.histogram import Histogram
    from herd.engine.planning import Plan
    from herd.engine.probe import Sample
    from herd.engine.recorder import Recorder
    from herd.engine.run import RunOptions
    from herd.engine.staging import UploadStats


class ProbeReadings(Protocol):
    """The scaling probe's samples so far and its failed polls."""

    @property
    def series(self) -> list[Sample]: ...

    @property
    def failures(self) -> int: ...


class LiveRun(Protocol):
    @property
    def loadtest(self) -> LoadTest: ...

    @property
    def run_id(self) -> str: ...

    @property
    def options(self) -> RunOptions: ...

    @property
    def plan(self) -> Plan: ...

    @property
    def phase(self) -> str: ...

    @property
    def recorder(self) -> Recorder | None:
        """None until the run starts."""

    @property
    def upload_stats(self) -> UploadStats | None: ...

    @property
    def loop_lag(self) -> Histogram | None: ...

    @property
    def probe(self) -> ProbeReadings | None: ...

    def elapsed(self) -> float: ...
