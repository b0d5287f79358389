"""How many CPUs this process may use: affinity, cgroup CPU quota, and a pod's request.

``os.cpu_count()`` is the machine's count, not what a container or a ``taskset``
allows. The usable count is the smallest of: the CPUs in this process's affinity
mask; its cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` /
``cpu.cfs_period_us``, the tightest along the cgroup's ancestors), rounded up; and
``HERD_CPU_REQUEST`` (whole CPUs), which the operator sets from the runner pod's
CPU request through the Downward API: runner pods have no CPU limit by default,
so the request is the only CPU the pod is promised.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

CPU_REQUEST_ENV = "HERD_CPU_REQUEST"
CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
_V1_CPU_MOUNTS = ("cpu,cpuacct", "cpu", "cpuacct,cpu")


@dataclass(frozen=True)
class CpuBudget:
    affinity: int
    quota: float | None = None
    """CPUs the cgroup quota allows (e.g. 1.5); None without a quota."""
    request: int | None = None
    """Whole CPUs requested for the pod (``HERD_CPU_REQUEST``); None outside a pod."""

    @property
    def usable(self) -> int:
        bounds = [self.affinity]
        if self.quota is not None:
            bounds.append(math.ceil(self.quota))
        if self.request is not None:
            bounds.append(self.request)
        return max(1, min(bounds))

    def describe(self) -> str:
        parts = [f"affinity {self.affinity}"]
        parts.append(f"cgroup quota {self.quota:g}" if self.quota is not None else "no CPU quota")
        if self.request is not None:
            parts.append(f"pod requests {self.request}")
        plural = "" if self.usable == 1 else "s"
        return f"{self.usable} usable CPU{plural} ({', '.join(parts)})"


def parse_cpu_max(text: str) -> float | None:
    """cgroup v2 ``cpu.max`` (``max 100000``, ``150000 100000``) -> CPUs; None: no limit."""
    fields = text.split()
    if not fields or fields[0] == "max":
        return None
    period = int(fields[1]) if len(fields) > 1 else 100_000
    return _cpus(int(fields[0]), period)


def parse_cfs(quota_text: str, period_text: str) -> float | None:
    """cgroup v1 ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` -> CPUs, None if unlimited."""
    quota = int(quota_text.strip())
    if quota < 0:
        return None
    return _cpus(quota, int(period_text.strip()))


def _cpus(quota: int, period: int) -> float | None:
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> float | None:
    """The tightest CPU quota on this process's cgroup and its ancestors; None if none."""
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    paths: dict[str, str] = {}  # controllers -> cgroup path
    for line in lines:
        _, controllers, path = line.split(":", 2)
        paths[controllers] = path
    quotas: list[float] = []
    if (root / "cgroup.controllers").exists():  # v2 mounted at the root
        for directory in _up_to(root, paths.get("", "/")):
            quota = _read(directory / "cpu.max", parse_cpu_max)
            if quota is not None:
                quotas.append(quota)
    else:
        v1_path = next((p for c, p in paths.items() if "cpu" in c.split(",")), "/")
        for mount in (root / name for name in _V1_CPU_MOUNTS):
            if not mount.is_dir():
                continue
            for directory in _up_to(mount, v1_path):
                quota = _read_cfs(directory)
                if quota is not None:
                    quotas.append(quota)
            break
    return min(quotas, default=None)


def _up_to(mount: Path, cgroup_path: str) -> list[Path]:
    """The cgroup's directory and its ancestors up to the mount. In a container the
    path names the host's hierarchy while the mount is the container's own: then only
    the mount itself is there to read."""
    own = mount / cgroup_path.strip("/")
    if not own.is_dir():
        return [mount]
    directories = [own]
    while directories[-1] != mount:
        directories.append(directories[-1].parent)
    return directories


def _read(path: Path, parse: Callable[[str], float | None]) -> float | None:
    try:
        return parse(path.read_text())
    except (OSError, ValueError, IndexError):
        return None


def _read_cfs(directory: Path) -> float | None:
    try:
        return parse_cfs(
            (directory / "cpu.cfs_quota_us").read_text(),
            (directory / "cpu.cfs_period_us").read_text(),
        )
    except (OSError, ValueError):
        return None


def cpu_request(env: Mapping[str, str]) -> int | None:
    """Whole CPUs from ``HERD_CPU_REQUEST``; None when unset or 0 (no request)."""
    text = env.get(CPU_REQUEST_ENV, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"{CPU_REQUEST_ENV}: expected a whole number of CPUs, got {text!r}"
        ) from None
    if value < 0:
        raise ValueError(f"{CPU_REQUEST_ENV}: expected a whole number of CPUs, got {text!r}")
    return value or None


def affinity_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS has no affinity API
        return os.cpu_count() or 1


def cpu_budget(env: Mapping[str, str] | None = None) -> CpuBudget:
    """What this process may use, read now."""
    return CpuBudget(
        affinity=affinity_cpus(),
        quota=cgroup_cpu_quota(),
        request=cpu_request(os.environ if env is None else env),
    )
