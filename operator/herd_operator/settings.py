"""Operator-wide settings for runs and their runner pods; each field says its unit and default."""

from __future__ import annotations

from dataclasses import dataclass

from herd import __version__
from herd.api.results import S3ResultsSpec
from herd_operator.caps import NO_CAPS, Caps
from herd_operator.policy import OPEN_POLICY, OperatorPolicy

DEFAULT_RUNNER_IMAGE = f"ghcr.io/herd-dev/herd:{__version__}"


@dataclass(frozen=True)
class RunnerSettings:
    """What the operator adds to every run beyond its spec: limits and runner Job details."""

    default_image: str = DEFAULT_RUNNER_IMAGE
    """Image for runners when ``spec.runner.image`` is unset."""
    startup_allowance_seconds: int = 60
    """Seconds from a run's creation to its synchronized start: time for runner pods to
    be scheduled, pull the image and stage uploads. A runner that is ready later starts
    at once, and the skew shows in ``results.startSkewSeconds``."""
    deadline_margin_seconds: int = 120
    """Added to startup allowance + ``maxDuration`` for the Job's ``activeDeadlineSeconds``:
    the engine stops itself at ``maxDuration``; the margin covers aborting in-flight
    requests, S3 cleanup and writing the report. The deadline is only a backstop."""
    run_as_user: int = 65532
    """Numeric uid (and gid) of runner processes: non-root, verifiable by the kubelet."""
    tmp_size_limit: str = "64Mi"
    """Size of the writable ``/tmp`` (the root filesystem is read-only)."""
    grace_margin_seconds: int = 30
    """Added to ``drainTimeout`` for the pods' termination grace period, so a stopped
    runner can drain, account for every request and write its summary."""
    caps: Caps = NO_CAPS
    """Operator-wide caps; a LoadTest or run over one is ``Invalid`` and never runs."""
    policy: OperatorPolicy = OPEN_POLICY
    """What LoadTests may ask of runners (``OperatorPolicy.effective``, with this
    operator's default image); a LoadTest or run it refuses is ``Invalid``."""
    pushgateway: str | None = None
    """Pushgateway runners push to when a spec sets no ``metrics.pushgateway``."""
    remote_write: str | None = None
    """Prometheus remote-write URL runners send their metrics to (``herd run --remote-write``);
    None: none. The other way to keep final numbers, beside or instead of a Pushgateway."""
    metrics_port: int | None = 9090
    """Port each runner serves ``/metrics`` on, as its container port ``metrics`` (the
    chart's PodMonitor scrapes it); None: runners serve no metrics."""
    results: S3ResultsSpec | None = None
    """Results store of runs whose spec sets no ``results`` (``HERD_RESULTS_S3_*``)."""

    def __post_init__(self) -> None:
        if self.startup_allowance_seconds < 0 or self.deadline_margin_seconds < 0:
            raise ValueError("startup allowance and deadline margin must not be negative")
        if self.run_as_user <= 0:
            raise ValueError("runners must run as a non-root numeric uid")
        if self.metrics_port is not None and not 0 < self.metrics_port < 65536:
            raise ValueError("the runners' metrics port must be 1-65535")


DEFAULT_SETTINGS = RunnerSettings()
