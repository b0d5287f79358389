"""Reading a LoadTest file: whatever the file holds, the answer is a LoadTest or a
SpecError that says what is wrong (issue #12 items 12, 15)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from herd.api.loading import MAX_DOCUMENT_NODES, SpecError, load_loadtest, loads_loadtest


def refused(path_or_text, source: str = "lt.yaml") -> SpecError:
    with pytest.raises(SpecError) as caught:
        if isinstance(path_or_text, Path):
            load_loadtest(path_or_text)
        else:
            loads_loadtest(path_or_text, source)
    return caught.value


def test_a_binary_file_is_an_invalid_spec_not_a_crash(tmp_path: Path):
    path = tmp_path / "lt.yaml"
    path.write_bytes(b"\x00\xeb\xff" + os.urandom(64))
    error = refused(path)
    assert error.headline == "invalid LoadTest"
    assert error.problems == [f"{path}: not UTF-8 text (byte 1): a LoadTest is a YAML file"]


def test_a_missing_file_says_it_cannot_be_read_not_that_it_is_invalid(tmp_path: Path):
    error = refused(tmp_path / "nothing.yaml")
    assert error.headline == "cannot read the LoadTest file"
    assert error.problems == [f"{tmp_path / 'nothing.yaml'}: No such file or directory"]


def test_a_directory_cannot_be_read_either(tmp_path: Path):
    error = refused(tmp_path)
    assert error.headline == "cannot read the LoadTest file"
    assert error.problems == [f"{tmp_path}: Is a directory"]


def test_yaml_aliases_cannot_blow_a_small_file_up():
    # Each level repeats the one before ten times: 10**9 values from a few hundred bytes.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    error = refused("\n".join(lines))
    assert error.problems == [
        f"lt.yaml: more than {MAX_DOCUMENT_NODES} values once YAML aliases are expanded"
    ]


def test_a_self_referencing_document_is_refused():
    assert "values once YAML aliases are expanded" in refused("&a [*a]").problems[0]


def test_deep_nesting_is_refused_not_a_recursion_error():
    error = refused("[" * 100_000)
    assert error.problems[0].startswith("lt.yaml: ")


def test_a_byte_order_mark_is_fine(tmp_path: Path):
    path = tmp_path / "lt.yaml"
    path.write_bytes(
        b"\xef\xbb\xbfapiVersion: herd.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: x}\n"
        b"spec: {target: {url: 'http://127.0.0.1:9/'}, load: {pattern: burst, requests: 1}}\n"
    )
    assert load_loadtest(path).metadata.name == "x"
