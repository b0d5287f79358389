"""Reading a LoadTest from YAML with errors a person can act on.

Every problem is reported as ``<field path>: <one-line reason>`` so that
``herd run`` can print it and exit 2, and the operator can put it in status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from herd.api.errors import describe_validation_error, one_line
from herd.api.spec import LoadTest

# A Kubernetes object is at most 1.5 MiB; a local file may hold a larger inline body,
# but nothing near what would make reading it a memory problem.
MAX_FILE_BYTES = 8 * 1024**2
# YAML aliases let a small file describe a huge document (each alias repeats a whole
# subtree); no LoadTest comes near this many values once they are expanded.
MAX_DOCUMENT_NODES = 100_000


class SpecError(ValueError):
    """A LoadTest that cannot be run; ``problems`` holds one line per bad field.

    ``headline`` says what kind of problem it is, for the line a person reads first."""

    def __init__(self, problems: list[str], headline: str = "invalid LoadTest"):
        super().__init__("; ".join(problems))
        self.problems = problems
        self.headline = headline


def parse_loadtest(document: Any) -> LoadTest:
    """Validate an already-parsed object (a dict from YAML or the Kubernetes API)."""
    if not isinstance(document, dict):
        raise SpecError(
            ["(top level): expected a LoadTest object (apiVersion, kind, metadata, spec)"]
        )
    try:
        return LoadTest.model_validate(document)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error)) from None


def load_loadtest(path: str | Path) -> LoadTest:
    """Read and validate a LoadTest file (one YAML document)."""
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise SpecError(
            [f"{path}: {error.strerror or error}"], headline="cannot read the LoadTest file"
        ) from None
    return loads_loadtest(data, str(path))


def loads_loadtest(data: bytes | str, source: str) -> LoadTest:
    """Validate a LoadTest read from ``source`` (a file name, or ``-`` for stdin)."""
    if len(data) > MAX_FILE_BYTES:
        raise SpecError([f"{source}: larger than {MAX_FILE_BYTES // 1024**2} MiB"])
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise SpecError(
                [f"{source}: not UTF-8 text (byte {error.start}): a LoadTest is a YAML file"]
            ) from None
    try:
        documents = [doc for doc in yaml.safe_load_all(data) if doc is not None]
    except yaml.YAMLError as error:
        raise SpecError([one_line(f"{source}: not valid YAML: {error}")]) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise SpecError([f"{source}: nested too deeply to be a LoadTest"]) from None
    if len(documents) != 1:
        raise SpecError([f"{source}: expected one LoadTest document, found {len(documents)}"])
    if _exceeds_nodes(documents[0], MAX_DOCUMENT_NODES):
        raise SpecError(
            [f"{source}: more than {MAX_DOCUMENT_NODES} values once YAML aliases are expanded"]
        )
    return parse_loadtest(documents[0])


def _exceeds_nodes(document: Any, limit: int) -> bool:
    """Whether ``document``, walked as if every alias were a copy, has over ``limit`` nodes.

    Stops counting at the limit, so an alias bomb costs ``limit`` steps, not its size."""
    pending, count = [document], 0
    while pending:
        count += 1
        if count > limit:
            return True
        node = pending.pop()
        if isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list | tuple | set):
            pending.extend(node)
    return False
