"""How many CPUs a runner may use: cgroup quota files, affinity, the pod's request."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from herd.engine.multicore.cpus import (
    CpuBudget,
    cgroup_cpu_quota,
    cpu_request,
    parse_cfs,
    parse_cpu_max,
)


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("max 100000\n", None),
        ("max\n", None),
        ("200000 100000\n", 2.0),
        ("150000 100000\n", 1.5),
        ("50000 100000\n", 0.5),
        ("100000\n", 1.0),  # the period defaults to 100 ms
        ("", None),
    ],
)
def test_cgroup_v2_cpu_max(text, cpus):
    assert parse_cpu_max(text) == cpus


@pytest.mark.parametrize(
    ("quota", "period", "cpus"),
    [("-1\n", "100000\n", None), ("250000\n", "100000\n", 2.5), ("50000", "100000", 0.5)],
)
def test_cgroup_v1_cfs_quota(quota, period, cpus):
    assert parse_cfs(quota, period) == cpus


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_v2_takes_the_tightest_quota_of_the_cgroup_and_its_ancestors(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "cpu memory\n")
    write(root / "kubepods.slice" / "cpu.max", "300000 100000\n")
    write(root / "kubepods.slice" / "pod1" / "cpu.max", "max 100000\n")
    write(root / "kubepods.slice" / "pod1" / "runner" / "cpu.max", "max 100000\n")
    self_cgroup = tmp_path / "self"
    write(self_cgroup, "0::/kubepods.slice/pod1/runner\n")
    assert cgroup_cpu_quota(root, self_cgroup) == 3.0


def test_v2_in_a_container_reads_its_own_root(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "cpu\n")
    write(root / "cpu.max", "150000 100000\n")
    self_cgroup = tmp_path / "self"
    write(self_cgroup, "0::/\n")
    assert cgroup_cpu_quota(root, self_cgroup) == 1.5


def test_v2_without_a_quota_anywhere(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "cpu\n")
    write(root / "user.slice" / "cpu.max", "max 100000\n")
    self_cgroup = tmp_path / "self"
    write(self_cgroup, "0::/user.slice\n")
    assert cgroup_cpu_quota(root, self_cgroup) is None


def test_v1_reads_the_cpu_controller_and_falls_back_to_the_mount(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "200000\n")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    self_cgroup = tmp_path / "self"
    # A container sees the host's path in /proc/self/cgroup but only its own mount.
    write(self_cgroup, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    assert cgroup_cpu_quota(root, self_cgroup) == 2.0


def test_v1_nested_cgroup(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(root / "cpu" / "cpu.cfs_period_us", "100000\n")
    write(root / "cpu" / "job" / "cpu.cfs_quota_us", "50000\n")
    write(root / "cpu" / "job" / "cpu.cfs_period_us", "100000\n")
    self_cgroup = tmp_path / "self"
    write(self_cgroup, "2:cpu:/job\n")
    assert cgroup_cpu_quota(root, self_cgroup) == 0.5


def test_no_cgroup_files_means_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path / "none", tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("budget", "usable"),
    [
        (CpuBudget(affinity=8), 8),
        (CpuBudget(affinity=8, quota=1.5), 2),  # a quota is rounded up
        (CpuBudget(affinity=8, quota=0.2), 1),  # at least one
        (CpuBudget(affinity=2, quota=4.0), 2),
        (CpuBudget(affinity=8, request=3), 3),
        (CpuBudget(affinity=8, quota=6.0, request=4), 4),
    ],
)
def test_usable_cpus_are_the_tightest_bound(budget, usable):
    assert budget.usable == usable


def test_the_pods_cpu_request_comes_from_the_environment():
    assert cpu_request({}) is None
    assert cpu_request({"HERD_CPU_REQUEST": "0"}) is None  # no request set on the pod
    assert cpu_request({"HERD_CPU_REQUEST": "4"}) == 4
    with pytest.raises(ValueError, match="HERD_CPU_REQUEST: expected a whole number"):
        cpu_request({"HERD_CPU_REQUEST": "two"})


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) missing")
def test_affinity_is_what_taskset_allows():
    probe = "from herd.engine.multicore.cpus import cpu_budget; print(cpu_budget({}).affinity)"
    pinned = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert pinned.stdout.strip() == "1"
