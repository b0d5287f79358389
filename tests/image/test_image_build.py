"""The Dockerfile built without a Docker daemon, then run as the operator's pods run it:
read-only root, /tmp writable, uid 65532, tini as PID 1 (see daemonless.py for how, and for
what differs from a build on python:3.11-slim-bookworm)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

from herd import __version__
from herd.demo.services import child_server, free_port
from tests.image import daemonless
from tests.image.test_dockerfile import pins

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

REASON = daemonless.why_not_buildable()
if REASON:
    pytest.skip(f"cannot build the image here: {REASON}", allow_module_level=True)


@pytest.fixture(scope="module")
def image() -> Iterator[daemonless.Image]:
    daemonless.WORK.mkdir(parents=True, exist_ok=True)
    daemonless.build_base()
    daemonless.build_image()
    built, container = daemonless.mounted_image()
    try:
        yield built
    finally:
        daemonless.release(container)


@pytest.fixture
def pod_tmp(tmp_path: Path) -> Path:
    """The pod's emptyDir on /tmp: writable by the image's user only."""
    tmp = tmp_path / "emptydir"
    tmp.mkdir()
    os.chown(tmp, 65532, 65532)
    return tmp


def run_in_pod(image, args, tmp) -> subprocess.CompletedProcess:
    return subprocess.run(
        image.command(args, tmp), capture_output=True, text=True, timeout=120, env=daemonless.ENV
    )


def test_image_config_is_non_root_with_tini_and_labels(image):
    config = image.config
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]
    assert config["WorkingDir"] == "/tmp"
    assert image.env["HOME"] == "/tmp" and image.env["PATH"].startswith("/opt/herd/bin:")
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "herd"
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.source"].startswith("https://")


def test_herd_version_runs_with_a_read_only_root(image, pod_tmp):
    result = run_in_pod(image, ["herd", "--version"], pod_tmp)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"herd, version {__version__}"
    assert list(pod_tmp.iterdir()) == [], "nothing is written, not even to /tmp"


def test_runs_as_uid_65532_under_tini_as_pid_1(image, pod_tmp):
    probe = "import os; print(os.getuid(), os.getgid(), os.getppid(), open('/proc/1/comm').read())"
    result = run_in_pod(image, ["python3", "-c", probe], pod_tmp)
    assert result.returncode == 0, result.stderr
    uid, gid, parent, pid1 = result.stdout.split()
    assert (uid, gid, parent, pid1) == ("65532", "65532", "1", "tini")


def test_root_filesystem_is_read_only_and_tmp_is_writable(image, pod_tmp):
    script = (
        "import pathlib\n"
        "pathlib.Path('/tmp/ok').write_text('x')\n"
        "try:\n"
        "    pathlib.Path('/opt/herd/x').write_text('x')\n"
        "except OSError as error:\n"
        "    print(error.errno)\n"
    )
    result = run_in_pod(image, ["python3", "-c", script], pod_tmp)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "30"  # EROFS
    assert (pod_tmp / "ok").read_text() == "x"


def test_final_image_has_no_build_tools_or_sources(image):
    root = image.rootfs
    for path in ("usr/bin/gcc", "usr/bin/cc", "usr/bin/make", "usr/bin/apt-get-build-dep"):
        assert not (root / path).exists(), path
    for path in ("src", "wheels", "opt/build", "opt/herd/bin/pip"):
        assert not (root / path).exists(), f"/{path} belongs to the build stage"
    compiled = list((root / "opt/herd/lib/python3.11/site-packages/herd").rglob("*.pyc"))
    assert compiled, "bytecode is compiled at build time (the root is read-only at run time)"


def test_installed_packages_are_the_locked_versions(image, pod_tmp):
    listing = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    result = run_in_pod(image, ["python3", "-c", listing], pod_tmp)
    assert result.returncode == 0, result.stderr
    installed = {canonicalize_name(k): v for k, v in json.loads(result.stdout).items()}
    locked = {
        name: version
        for name, (version, _) in pins(daemonless.ROOT / "requirements" / "image.txt").items()
    }
    assert installed.pop("herd") == __version__
    assert installed == locked


def test_operator_and_runner_code_import(image, pod_tmp):
    imports = "import kopf, kubernetes, herd_operator.job, herd.cli.main, herd.engine.run"
    result = run_in_pod(image, ["python3", "-c", imports], pod_tmp)
    assert result.returncode == 0, result.stderr


def test_herd_operator_command_is_in_the_image(image, pod_tmp):
    host = subprocess.run(
        [sys.executable, "-m", "herd.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    if " operator " not in host.stdout:
        pytest.skip("`herd operator` is not in this tree yet (issue 5's kopf edge and CLI)")
    result = run_in_pod(image, ["herd", "operator", "--help"], pod_tmp)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "entrypoint", [True, False], ids=["args-under-tini", "command-herd-as-pid-1"]
)
def test_sigterm_reaches_herd_run_and_every_request_is_accounted_for(image, pod_tmp, entrypoint):
    """What the kubelet does to a runner pod that is stopped: SIGTERM to PID 1; the report and
    summary must still be written, with every planned request accounted for. PID 1 is tini
    when the pod gives ``args`` (the image's ENTRYPOINT stays), herd itself when the pod
    gives a ``command``: herd installs its own SIGTERM handler, so both must hold."""
    port = free_port()
    sim = [sys.executable, "-m", "herd.cli", "sim", "--port", str(port), "--cold-start", "0s"]
    sim += ["--min-workers", "4", "--max-workers", "4", "--service-time", "300ms"]
    loadtest = {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": {"name": "stopped"},
        "spec": {
            "target": {"url": f"http://127.0.0.1:{port}/generate", "body": "{}"},
            "load": {"pattern": "rate", "rate": 10, "duration": "2m", "drainTimeout": "5s"},
        },
    }
    (pod_tmp / "loadtest.yaml").write_text(yaml.safe_dump(loadtest))
    args = ["herd", "run", "/tmp/loadtest.yaml", "--report", "/tmp/report.json"]
    args += ["--summary", "/tmp/termination-log", "--quiet"]
    with child_server(sim, port, "/health") as server:
        pod = subprocess.Popen(
            image.command(args, pod_tmp, entrypoint=entrypoint),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=daemonless.ENV,
        )
        try:
            _wait_for_requests(server.url, at_least=10, process=pod)
            pid1 = _only_child(pod.pid)  # PID 1 of the pod's namespace, seen from here
            assert Path(f"/proc/{pid1}/comm").read_text().strip() == (
                "tini" if entrypoint else "herd"
            )
            os.kill(pid1, signal.SIGTERM)
            _, stderr = pod.communicate(timeout=60)
        finally:
            if pod.poll() is None:
                pod.kill()
                pod.wait()
    assert pod.returncode == 128 + signal.SIGTERM, stderr.decode()[-2000:]
    report = json.loads((pod_tmp / "report.json").read_text())
    requests = report["requests"]
    assert report["stopped"] == "SIGTERM"
    assert requests["sent"] >= 10 and requests["never_sent"] > 0
    assert requests["planned"] == requests["ok"] + requests["failed"] + requests["never_sent"]
    assert report["never_sent_reasons"].get("SIGTERM") == requests["never_sent"]
    summary = (pod_tmp / "termination-log").read_bytes()
    assert 0 < len(summary) <= 4096, "the termination message the operator reads"


def _wait_for_requests(url: str, at_least: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        with urllib.request.urlopen(f"{url}/_sim/record", timeout=5) as response:
            if json.load(response)["summary"]["total_requests"] >= at_least:
                return
        time.sleep(0.2)
    raise AssertionError(f"herd run in the image sent fewer than {at_least} requests in 60s")


def _only_child(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])
