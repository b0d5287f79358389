"""The Dockerfile and its lock files, read as text: fast checks that need no build."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from herd import __version__

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# Where the image runs: Linux, CPython 3.11 (the markers of the lock's requirements).
IMAGE_ENVIRONMENT = {
    **default_environment(),
    "sys_platform": "linux",
    "platform_system": "Linux",
    "python_version": "3.11",
    "implementation_name": "cpython",
}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n\s*",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in joined.splitlines()
        if line.strip()
    ]


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction, arguments in instructions(DOCKERFILE):
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, arguments))
    return result


def pins(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile --generate-hashes file."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
            found[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return found


def test_two_stages_and_the_final_one_installs_nothing():
    build, final = stages()
    assert " AS build" in build[0][1]
    final_runs = [arguments for instruction, arguments in final if instruction == "RUN"]
    assert final_runs == [], "the final stage only copies from the build stage"
    copies = [arguments for instruction, arguments in final if instruction == "COPY"]
    assert all(arguments.startswith("--from=build ") for arguments in copies)


def test_runs_as_a_numeric_non_root_user_with_tini_as_pid_1():
    final = dict(stages()[-1])
    uid, _, gid = final["USER"].partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    assert final["ENTRYPOINT"] == '["/usr/bin/tini", "--"]'
    assert "HOME=/tmp" in final["ENV"] and "PYTHONDONTWRITEBYTECODE=1" in final["ENV"]


def test_dependencies_install_from_hashes_and_wheels_only():
    runs = " ".join(arguments for instruction, arguments in stages()[0] if instruction == "RUN")
    for lock in ("requirements/image.txt", "requirements/build.txt"):
        assert f"--require-hashes --only-binary :all: -r {lock}" in runs
    assert "--no-build-isolation" in runs  # herd's wheel uses the pinned setuptools
    assert "pip uninstall --yes pip" in runs


def test_labels_name_the_image_and_its_version():
    labels = " ".join(
        arguments for instruction, arguments in stages()[-1] if instruction == "LABEL"
    )
    for key in ("title", "description", "source", "licenses", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert f"ARG VERSION={__version__}" in DOCKERFILE, "Dockerfile's VERSION default is stale"


def test_every_locked_requirement_is_pinned_with_hashes():
    for lock in ("image.txt", "build.txt"):
        locked = pins(ROOT / "requirements" / lock)
        assert locked, lock
        unhashed = [name for name, (_, hashes) in locked.items() if not hashes]
        assert unhashed == [], f"{lock}: no hashes for {unhashed}"


def test_the_lock_covers_what_herd_and_the_operator_need():
    """A dependency added to pyproject.toml (or requirements/image.in) must be locked too:
    run `bash requirements/lock.sh`."""
    locked = pins(ROOT / "requirements" / "image.txt")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(text) for text in project["dependencies"]]
    image_in = (ROOT / "requirements" / "image.in").read_text().splitlines()
    wanted += [Requirement(line) for line in image_in if line.strip() and line[0] != "#"]
    problems = []
    for requirement in wanted:
        if requirement.marker and not requirement.marker.evaluate(IMAGE_ENVIRONMENT):
            continue
        version = locked.get(canonicalize_name(requirement.name), (None, []))[0]
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement} (locked: {version})")
    assert problems == [], "requirements/image.txt is stale: bash requirements/lock.sh"


def test_build_context_is_an_allow_list():
    ignore = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line]
    patterns = [line for line in ignore if not line.startswith("#")]
    assert patterns[0] == "*", "exclude everything first, then allow what the image needs"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "README.md",
        "loadgen",
        "operator",
        "requirements/image.txt",
        "requirements/build.txt",
    }
