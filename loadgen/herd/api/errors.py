"""A validation error that knows which field it is about.

Cross-field checks run in model validators, where pydantic reports the error at
the model's location; raising ``FieldError`` lets the error message name the
exact field (``spec.load.duration``) instead of its parent. A tuple names a path
whose parts may hold dots themselves (a header name, a map key).

``describe_validation_error`` turns pydantic's errors into one line per field,
``<field path>: <reason>``, for every document herd validates (a LoadTest, the
operator's policy, a runner's policy).
"""

from __future__ import annotations

import re

from pydantic import ValidationError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class FieldError(ValueError):
    def __init__(self, field: str | tuple[str, ...], message: str):
        super().__init__(message)
        self.path = tuple(field.split(".")) if isinstance(field, str) else field
        self.field = ".".join(self.path)


def field_path(location: tuple[int | str, ...]) -> str:
    """``("spec", "load", "stages", 0, "target")`` -> ``spec.load.stages[0].target``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part or not part.isprintable():  # a key of "" or with a newline: quoted
            path += f"[{part!r}]"
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
            location += cause.path
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling against the spec reference)"
        problems.append(f"{field_path(location)}: {one_line(message)}")
    return problems


def one_line(text: str) -> str:
    """A message that may quote user text (a parser's), as the one line it must be."""
    return _CONTROL.sub(" ", text)
