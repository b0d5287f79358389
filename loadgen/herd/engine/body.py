"""Request bodies: a sandboxed Jinja2 template rendered once per request.

A body without template syntax is encoded once and reused: the common case costs
nothing per request. A render that fails, for whatever reason (Jinja's own errors,
``1 // 0``, a value too large for the sandbox's bounds), is a ``BodyError``: that
request is a ``template_error``, and the run goes on.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from herd.engine.env_expansion import Redactor, expand
from herd.engine.sandbox import MAX_VALUE_CHARS, BoundedSandbox, RenderBudget


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


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class BodyRenderer:
    def __init__(self, template: str | None, env: Mapping[str, str], redactor: Redactor):
        self._static: bytes | None = None
        self._template = None
        if template is None:
            return
        text = expand(template, env, redactor, "spec.target.body")
        if "{{" in text or "{%" in text or "{#" in text:
            try:
                self._template = BoundedSandbox().from_string(text)
            except Exception as error:  # a syntax error, or one an expanded ${VAR} made
                raise BodyError(
                    f"spec.target.body: template does not compile (after ${{VAR}} expansion): "
                    f"{_describe(error)}"
                ) from None
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
        template, size, parts = self._template, 0, []
        try:
            with RenderBudget():
                # Not ``generate()``: on an error it rewrites the traceback for display,
                # in a reference cycle that keeps what the render built alive.
                context = template.new_context({"request": request, "uploads": list(uploads)})
                for part in template.root_render_func(context):
                    size += len(part)
                    if size > MAX_VALUE_CHARS:
                        raise BodyError(f"a rendered body is at most {MAX_VALUE_CHARS} characters")
                    parts.append(part)
            return "".join(parts).encode()
        except Exception as error:  # every failure is this request's, none may escape
            reason = _describe(error)
            # The failed render's frames hold what it built (up to 16 Mi characters a
            # value): let them go with this request, not with a later collection.
            traceback.clear_frames(error.__traceback__)
            parts.clear()
        raise BodyError(f"spec.target.body: {reason}")
