"""Where a LoadTest's results go: an S3-compatible bucket and prefix (``spec.results``).

Credentials never appear here: like staging, the store is written with what the
runner's environment gives the AWS SDK (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, a role, ...), so a spec can be shown, stored and reported freely.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from herd.api.credentials import credential_word
from herd.api.errors import FieldError
from herd.api.model import ApiModel, HttpUrlText

BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$"
DEFAULT_PREFIX = "herd-results/"
MAX_PREFIX_CHARS = 512
_PREFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!-_.*'()/")


class S3ResultsSpec(ApiModel):
    """An S3 (or S3-compatible) bucket that receives each runner's full report under
    ``PREFIX/NAMESPACE/LOADTEST/RUN/runner-INDEX.json`` (docs/results.md). Credentials
    come from the runner's environment, never from the spec."""

    bucket: str = Field(pattern=BUCKET_PATTERN)
    """Bucket the results are written to; it must exist, and the credentials must be
    allowed to write to it (and read it, for ``herd report`` and the merge)."""
    prefix: str = Field(default=DEFAULT_PREFIX, max_length=MAX_PREFIX_CHARS)
    """Key prefix; herd adds ``NAMESPACE/LOADTEST/RUN/`` below it. Letters, digits and
    ``!-_.*'()/``; no empty, ``.`` or ``..`` parts."""
    endpoint: HttpUrlText | None = None
    """S3 API endpoint for S3-compatible stores. When unset: ``AWS_ENDPOINT_URL_S3``,
    else ``AWS_ENDPOINT_URL`` from the environment (as every AWS SDK reads them), else AWS."""
    region: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    """S3 region (for S3-compatible stores, the provider's name, e.g. ``eu-ro-1``);
    the AWS SDK's default (``AWS_REGION``, ``AWS_DEFAULT_REGION``, ...) when unset."""

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        # A clearer error than "extra field" for the one mistake that would leak.
        if isinstance(data, dict):
            for name in data:
                if isinstance(name, str) and credential_word(name):
                    raise FieldError(
                        (name,),
                        "credentials never go in the spec: the results store is written with "
                        "the runner's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                        "a Secret in runner.envFrom, ...)",
                    )
        return data

    @field_validator("prefix")
    @classmethod
    def _a_plain_prefix(cls, prefix: str) -> str:
        if bad := sorted(set(prefix) - _PREFIX_CHARS):
            raise ValueError(
                f"{''.join(bad)!r} may not appear in a prefix (use [A-Za-z0-9!-_.*'()/])"
            )
        parts = prefix.strip("/").split("/") if prefix.strip("/") else []
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError("no empty, '.' or '..' parts (between slashes)")
        return prefix


class ResultsSpec(ApiModel):
    """Where each runner's full report goes when the run ends (also after SIGTERM and
    ``maxDuration``); ``herd report`` and the merge read it back."""

    s3: S3ResultsSpec
    """An S3-compatible bucket and prefix."""
