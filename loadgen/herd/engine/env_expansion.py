"""``${VAR}`` expansion from the environment, and redaction of what was expanded.

Header values and bodies often carry API keys (``Bearer ${RUNPOD_API_KEY}``). herd
expands them only when building requests and remembers every expanded value, so
anything it prints, logs or writes can be scrubbed of them. ``$${VAR}`` is a
literal ``${VAR}``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
REDACTED = "<redacted>"
# Very short values ("1", "on") would redact innocent text everywhere; they are
# not credentials.
_MIN_SECRET_LENGTH = 4


class MissingVariable(LookupError):
    def __init__(self, field: str, variable: str):
        super().__init__(f"{field}: environment variable {variable} is not set")
        self.field = field
        self.variable = variable


class Redactor:
    """Collects secret values and removes them from text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= _MIN_SECRET_LENGTH:
            self._secrets.add(value)

    def __call__(self, text: str) -> str:
        # Longest first, so a secret containing another is removed whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def logging_filter(self) -> logging.Filter:
        redact = self

        class _RedactingFilter(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                record.msg = redact(record.getMessage())
                record.args = ()
                return True

        return _RedactingFilter()


def expand(text: str, env: Mapping[str, str], redactor: Redactor, field: str) -> str:
    """Replace ``${VAR}`` in ``text``; every value used is registered as a secret."""

    def substitute(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        if name not in env:
            raise MissingVariable(field, name)
        value = env[name]
        redactor.add(value)
        return value

    return _REFERENCE.sub(substitute, text)


def has_references(text: str) -> bool:
    return _REFERENCE.search(text) is not None
