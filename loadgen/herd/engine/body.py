"""Request bodies: a sandboxed Jinja2 template rendered once per request.

A body without template syntax is encoded once and reused: the common case costs
nothing per request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from herd.engine.env_expansion import Redactor, expand


@dataclass(frozen=True, slots=True)
class RequestContext:
    """``request`` in a body template."""

    index: int  # global request number, unique across runners
    runner: int  # runner index (0 when run locally)


@dataclass(frozen=True, slots=True)
class StagedObject:
    """One staged input, as ``uploads[i]`` in a body template."""

    bucket: str
    key: str
    size: int
    uri: str  # s3://bucket/key
    url: str  # what the spec asked for: presigned GET URL or the s3:// URI


class BodyError(ValueError):
    pass


def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


class BodyRenderer:
    def __init__(self, template: str | None, env: Mapping[str, str], redactor: Redactor):
        self._static: bytes | None = None
        self._template = None
        if template is None:
            return
        text = expand(template, env, redactor, "spec.target.body")
        if "{{" in text or "{%" in text or "{#" in text:
            self._template = _environment().from_string(text)
        else:
            self._static = text.encode()

    @property
    def has_body(self) -> bool:
        return self._static is not None or self._template is not None

    @property
    def fixed(self) -> bool:
        """Every request gets the same body, ``fixed_body``: nothing to render per request."""
        return self._template is None

    @property
    def fixed_body(self) -> bytes | None:
        """The body of every request when ``fixed`` (None: requests have no body)."""
        return self._static

    def render(self, request: RequestContext, uploads: Sequence[StagedObject] = ()) -> bytes | None:
        if self._template is None:
            return self._static
        try:
            return self._template.render(request=request, uploads=list(uploads)).encode()
        except TemplateError as error:
            raise BodyError(f"spec.target.body: {error}") from None
