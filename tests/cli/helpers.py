"""Running ``herd run`` the way a person does, and reading what it said."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.servers import REPO


def loadtest_document(spec: dict[str, Any], name: str = "cli") -> dict[str, Any]:
    return {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": {"name": name},
        "spec": spec,
    }


def write_spec(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "loadtest.yaml"
    path.write_text(yaml.safe_dump(loadtest_document(spec)))
    return path


def herd_run(
    *args: str | Path,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``herd run ARGS`` in its own interpreter, as from a shell."""
    return subprocess.run(
        [sys.executable, "-m", "herd.cli", "run", *map(str, args)],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def error_lines(stderr: str) -> list[str]:
    """What herd said on stderr, without its log records (timestamped lines)."""
    return [line for line in stderr.splitlines() if line and not line[:4].isdigit()]


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout
