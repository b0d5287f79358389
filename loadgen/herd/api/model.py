"""The base of every LoadTest API model: how fields look on the wire and in docs.

Kubernetes convention on the wire (camelCase), snake_case in Python, unknown fields
rejected so that a typo never silently falls back to a default, and attribute
docstrings kept as field descriptions (the CRD schema and the docs read them).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        use_attribute_docstrings=True,
    )


def _check_http_url(url: str) -> str:
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError("must be an http:// or https:// URL")
    return url


HttpUrlText = Annotated[str, AfterValidator(_check_http_url)]
