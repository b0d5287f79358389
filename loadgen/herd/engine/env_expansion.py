"""``${VAR}`` expansion from the environment, and redaction of what was expanded.

Header values and bodies often carry API keys (``Bearer ${RUNPOD_API_KEY}``). herd
expands them only when building requests and remembers every expanded value, so
anything it prints, logs or writes can be scrubbed of them. ``$${VAR}`` is a
literal ``${VAR}``. The AWS SDK reads its credentials from the environment without
herd expanding them; they are registered as secrets too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from herd.api.model import VARIABLE_REFERENCE, header_value_problem, http_url_problem
from herd.engine.errors import ConfigError
from herd.engine.log_setup import RedactingFilter
from herd.engine.scrub import REDACTED, scrub_credentials

_REFERENCE = VARIABLE_REFERENCE
# Very short values ("1", "on") would redact innocent text everywhere; they are
# not credentials.
_MIN_SECRET_LENGTH = 4
# What the AWS SDK signs uploads with (the key id too: it names the account). Real
# ones are at least 16 characters; shorter ones are a local store's ("testing" for
# moto), and redacting them would garble innocent words in every output.
_MIN_CREDENTIAL_LENGTH = 16
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


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

    def add_credentials(self, env: Mapping[str, str], names: Iterable[str]) -> None:
        """Register the values of the variables ``names`` that look like credentials."""
        for name in names:
            value = env.get(name, "")
            if len(value) >= _MIN_CREDENTIAL_LENGTH:
                self._secrets.add(value)

    def __call__(self, text: str) -> str:
        """``text`` without the registered secrets (nothing else changes: safe on any
        text, the HTML report's embedded scripts included)."""
        # Longest first, so a secret containing another is removed whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def scrub(self, text: str) -> str:
        """``text`` without the registered secrets nor anything shaped like a credential
        (for logs, messages and reports: text herd writes itself)."""
        return scrub_credentials(self(text))

    def logging_filter(self) -> logging.Filter:
        return RedactingFilter(self.scrub)


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


def missing_variables(
    fields: Iterable[tuple[str, str]], env: Mapping[str, str]
) -> dict[str, list[str]]:
    """Every variable the ``(field, text)`` pairs reference that ``env`` does not set,
    with the fields that use it: all of them at once, not one per attempt."""
    missing: dict[str, list[str]] = {}
    for field, text in fields:
        for escaped, name in _REFERENCE.findall(text):
            if not escaped and name not in env and field not in missing.get(name, []):
                missing.setdefault(name, []).append(field)
    return missing


def describe_missing(missing: Mapping[str, list[str]]) -> str:
    listed = "; ".join(f"{name} (in {', '.join(fields)})" for name, fields in missing.items())
    noun = "variable" if len(missing) == 1 else "variables"
    return f"environment {noun} not set: {listed}"


def expand_url(url: str, env: Mapping[str, str], redactor: Redactor, field: str) -> str:
    """``url`` expanded, and checked again: a value may make it one aiohttp refuses."""
    expanded = expand(url, env, redactor, field)
    problem = http_url_problem(expanded)
    if problem is not None:
        raise ConfigError(f"{field}: {problem} (after ${{VAR}} expansion)")
    return expanded


def expand_headers(
    headers: Mapping[str, str], env: Mapping[str, str], redactor: Redactor, field: str
) -> dict[str, str]:
    """Header values expanded; a value with CR or LF would inject headers of its own."""
    expanded = {}
    for name, value in headers.items():
        expanded[name] = expand(value, env, redactor, f"{field}.{name}")
        problem = header_value_problem(expanded[name])
        if problem is not None:
            raise ConfigError(f"{field}.{name}: {problem} (after ${{VAR}} expansion)")
    return expanded


def has_references(text: str) -> bool:
    return _REFERENCE.search(text) is not None
