"""Building the Dockerfile without a Docker daemon, and running the image as a pod would.

- The base: ``python:3.11-slim-bookworm`` comes from a container registry, and this machine
  reaches none (only PyPI, Debian and npm). So the test makes a stand-in with debootstrap:
  Debian bookworm (the distribution that image is built on) with Debian's Python 3.11 and
  ``python3-venv``. The Dockerfile takes it through ``--build-arg PYTHON_IMAGE``; every
  instruction of the Dockerfile runs unchanged (apt-get, the hashed pip installs from PyPI,
  the wheel build, the final stage). What differs: Python is Debian's 3.11 in ``/usr/bin``,
  not python.org's latest 3.11 in ``/usr/local/bin``.
- The build: ``buildah bud --isolation chroot`` (no daemon, no runtime), in a storage of its
  own. This machine reaches PyPI through a TLS-inspecting proxy, so the build's RUN steps get
  the host's CA bundle as a build-time volume; it is not part of the image.
- The run: the image's root filesystem mounted read-only in a new mount and PID namespace,
  ``/tmp`` a writable directory (as the pods' emptyDir), the image's ENV, USER and ENTRYPOINT
  applied as a container runtime would, so ``tini`` is PID 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("HERD_IMAGE_TEST_DIR", "/var/tmp/herd-image-test"))
DRIVER = os.environ.get("HERD_IMAGE_STORAGE_DRIVER", "overlay")
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_IMAGE = "localhost/herd-test-base:bookworm"
IMAGE = "localhost/herd:test"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TOOLS = ("buildah", "debootstrap", "unshare", "chroot", "mount")
# debootstrap and chroot live in sbin, which a non-login PATH may lack.
ENV = {**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"}


def why_not_buildable() -> str | None:
    """None when this machine can build and run the image; else why not, in plain words."""
    if os.geteuid() != 0:
        return "needs root (buildah --isolation chroot, debootstrap, mount namespaces)"
    missing = [tool for tool in TOOLS if shutil.which(tool, path=ENV["PATH"]) is None]
    if missing:
        return (
            f"missing {', '.join(missing)}: Debian packages buildah and debootstrap "
            "(scripts/test.sh installs them when run as root)"
        )
    for host, port in (("deb.debian.org", 80), ("pypi.org", 443)):
        try:
            socket.create_connection((host, port), timeout=5).close()
        except OSError as error:
            return f"cannot reach {host}:{port} ({error}): the build needs Debian and PyPI"
    return None


def buildah(*args: str, timeout: float = 900) -> str:
    command = [
        "buildah",
        "--root",
        str(WORK / "storage"),
        "--runroot",
        str(WORK / "run"),
        "--storage-driver",
        DRIVER,
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stderr[-4000:]}")
    return result.stdout.strip()


def _has_image(name: str) -> bool:
    return name in buildah("images", "--format", "{{.Name}}:{{.Tag}}").split()


def build_base() -> None:
    """The stand-in base image, made once per package list and kept in WORK."""
    key = hashlib.sha256(f"{SUITE} {MIRROR} {BASE_PACKAGES}".encode()).hexdigest()[:12]
    stamp = WORK / f"base-{key}.done"
    if stamp.exists() and _has_image(BASE_IMAGE):
        return
    rootfs = WORK / "base-rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    include = f"--include={','.join(BASE_PACKAGES)}"
    subprocess.run(
        ["debootstrap", "--variant=minbase", include, SUITE, str(rootfs), MIRROR],
        check=True,
        capture_output=True,
        timeout=900,
        env=ENV,
    )
    container = buildah("from", "scratch")
    try:
        mount = buildah("mount", container)
        subprocess.run(["cp", "-a", f"{rootfs}/.", mount], check=True, timeout=300)
        buildah("umount", container)
        path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        buildah("config", "--env", path, "--env", "LANG=C.UTF-8", "--cmd", "python3", container)
        buildah("commit", "--quiet", container, BASE_IMAGE)
    finally:
        buildah("rm", container)
    shutil.rmtree(rootfs, ignore_errors=True)
    stamp.write_text(key)


def build_image() -> None:
    """``buildah bud`` of the repository's Dockerfile on the stand-in base (layers cached)."""
    volume = []
    if HOST_CA_BUNDLE.exists():
        volume = ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    buildah(
        "bud",
        "--isolation",
        "chroot",
        "--layers",
        "--quiet",
        *volume,
        "--build-arg",
        f"PYTHON_IMAGE={BASE_IMAGE}",
        "--tag",
        IMAGE,
        str(ROOT),
        timeout=1500,
    )
    buildah("rmi", "--prune")  # earlier builds' images; cached layers stay


@dataclass(frozen=True)
class Image:
    """A built image: its config and its root filesystem, mounted for the tests."""

    config: dict
    rootfs: Path

    @property
    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config.get("Env", []))

    def command(self, args: list[str], tmp: Path, entrypoint: bool = True) -> list[str]:
        """The argv that runs ``args`` as a pod's container ``args`` would (ENTRYPOINT kept;
        ``entrypoint=False``: as a container ``command``, which replaces it): read-only root,
        ``tmp`` as /tmp, the image's user, and PID 1 in its own namespace."""
        user = self.config["User"]
        uid, _, gid = user.partition(":")
        script = (
            'set -e; root="$1"; tmp="$2"; userspec="$3"; shift 3\n'
            'mount --bind "$root" "$root"\n'
            'mount --bind "$tmp" "$root/tmp"\n'
            'mount -t proc proc "$root/proc"\n'
            'mount --rbind /dev "$root/dev"\n'
            'mount -o remount,bind,ro "$root"\n'
            'exec chroot --userspec="$userspec" "$root" "$@"\n'
        )
        argv = [*self.config.get("Entrypoint", []), *args] if entrypoint else args
        return [
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            str(self.rootfs),
            str(tmp),
            f"{uid}:{gid or uid}",
            "/usr/bin/env",
            "-i",
            f"--chdir={self.config.get('WorkingDir') or '/'}",
            *(f"{key}={value}" for key, value in self.env.items()),
            *argv,
        ]


def mounted_image() -> tuple[Image, str]:
    """The image's config and a mounted working container (remove it with ``release``)."""
    inspected = json.loads(buildah("inspect", "--type", "image", IMAGE))
    config = inspected["OCIv1"]["config"]
    config["Labels"] = config.get("Labels") or {}
    container = buildah("from", "--pull=never", IMAGE)
    return Image(config=config, rootfs=Path(buildah("mount", container))), container


def release(container: str) -> None:
    buildah("umount", container)
    buildah("rm", container)
