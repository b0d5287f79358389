"""An upload directory holds what is uploaded, and only that: a link out of it (to
``/etc/passwd``) or a file larger than an object may be is refused, naming the field,
before any traffic (issue #12 item 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from herd.api.spec import MAX_OBJECT_BYTES
from herd.demo.services import FAKE_AWS_ENV
from herd.engine.errors import ConfigError
from herd.engine.run import LoadRun, RunOptions
from herd.engine.staging import upload_files
from tests.cli.helpers import assert_no_traceback, error_lines, herd_run, write_spec
from tests.conftest import loadtest

FIELD = "spec.uploads.source.directory"


def inputs(tmp_path: Path) -> Path:
    directory = tmp_path / "inputs"
    directory.mkdir()
    (directory / "a.png").write_bytes(b"a")
    (directory / "b.png").write_bytes(b"b")
    return directory


def spec_for(directory: Path, target_url: str = "http://127.0.0.1:9/") -> dict:
    return {
        "target": {"url": target_url, "body": "{{ uploads[0].url }}"},
        # Never reached: a closed port, should a check be missed.
        "uploads": {
            "endpoint": "http://127.0.0.1:9",
            "bucket": "bkt",
            "source": {"directory": str(directory)},
        },
        "load": {"pattern": "burst", "requests": 2},
    }


def test_a_link_out_of_the_directory_is_refused(tmp_path: Path):
    directory = inputs(tmp_path)
    outside = tmp_path / "secret.txt"
    outside.write_text("not for upload")
    (directory / "c.png").symlink_to(outside)
    with pytest.raises(ConfigError) as caught:
        upload_files(str(directory))
    assert str(caught.value) == (
        f"{FIELD}: c.png is a link out of the directory (to {outside}); "
        "only files inside it are uploaded"
    )


def test_a_link_to_etc_passwd_is_refused_before_any_traffic(tmp_path: Path):
    directory = inputs(tmp_path)
    (directory / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(ConfigError, match=rf"^{FIELD}: passwd is a link out of the directory"):
        LoadRun(loadtest(spec_for(directory)), RunOptions(handle_signals=False)).check()


def test_links_that_stay_inside_are_uploaded_like_files(tmp_path: Path):
    directory = inputs(tmp_path)
    (directory / "sub").mkdir()
    (directory / "sub" / "d.png").write_bytes(b"d")
    (directory / "c.png").symlink_to(directory / "sub" / "d.png")
    (directory / "dangling").symlink_to(tmp_path / "gone")
    assert [p.name for p in upload_files(str(directory))] == ["a.png", "b.png", "c.png"]


def test_a_file_larger_than_an_object_may_be_is_refused_unread(tmp_path: Path):
    directory = inputs(tmp_path)
    with (directory / "huge.bin").open("wb") as huge:  # sparse: no disk, no memory
        huge.truncate(MAX_OBJECT_BYTES + 1)
    with pytest.raises(ConfigError) as caught:
        upload_files(str(directory))
    assert str(caught.value) == (
        f"{FIELD}: huge.bin is {MAX_OBJECT_BYTES + 1} bytes; a file is at most 256 MiB "
        "(each is held in memory to upload)"
    )


def test_a_file_of_exactly_the_limit_is_fine(tmp_path: Path):
    directory = inputs(tmp_path)
    with (directory / "limit.bin").open("wb") as limit:
        limit.truncate(MAX_OBJECT_BYTES)
    assert "limit.bin" in [p.name for p in upload_files(str(directory))]


def test_herd_run_says_so_in_one_line_and_exits_2(fresh_target, tmp_path: Path):
    directory = inputs(tmp_path)
    os.symlink("/etc/passwd", directory / "passwd")
    path = write_spec(tmp_path, spec_for(directory, f"{fresh_target.url}/w"))
    result = herd_run(path, "-q", env=FAKE_AWS_ENV)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"herd run failed: {FIELD}: passwd is a link out of the directory (to /etc/passwd); "
        "only files inside it are uploaded"
    ]
    assert fresh_target.record() == []
