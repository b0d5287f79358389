"""Reading a LoadTest from YAML with errors a person can act on.

Every problem is reported as ``<field path>: <one-line reason>`` so that
``herd run`` can print it and exit 2, and the operator can put it in status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from herd.api.errors import FieldError
from herd.api.spec import LoadTest


class SpecError(ValueError):
    """A LoadTest that cannot be run; ``problems`` holds one line per bad field."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def field_path(location: tuple[int | str, ...]) -> str:
    """``("spec", "load", "stages", 0, "target")`` -> ``spec.load.stages[0].target``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def describe_validation_error(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        # Pydantic appends the failing union member / validator to the location;
        # the user only needs the field.
        location = tuple(
            part for part in item["loc"] if not (isinstance(part, str) and "[" in part)
        )
        message = item["msg"].removeprefix("Value error, ")
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, FieldError):
            location += tuple(cause.field.split("."))
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling against the spec reference)"
        problems.append(f"{field_path(location)}: {message}")
    return problems


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
        text = Path(path).read_text()
    except OSError as error:
        raise SpecError([f"{path}: {error.strerror or error}"]) from None
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise SpecError([f"{path}: not valid YAML: {error}".replace("\n", " ")]) from None
    if len(documents) != 1:
        raise SpecError([f"{path}: expected one LoadTest document, found {len(documents)}"])
    return parse_loadtest(documents[0])
