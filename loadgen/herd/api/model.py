"""The base of every LoadTest API model: how fields look on the wire and in docs.

Kubernetes convention on the wire (camelCase), snake_case in Python, unknown fields
rejected so that a typo never silently falls back to a default, and attribute
docstrings kept as field descriptions (the CRD schema and the docs read them).

Also the checks on what herd sends: URLs as aiohttp will parse them and header
names and values as HTTP allows them. They run when a spec is validated and again
on the values ``${VAR}`` expands to, so a bad value is an error naming its field,
never a request that fails inside the HTTP client.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from yarl import URL

from herd.api.errors import FieldError


class ApiModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        use_attribute_docstrings=True,
        allow_inf_nan=False,  # no field means anything at infinity
    )


VARIABLE_REFERENCE = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``${VAR}`` (expanded from the environment at run time) or ``$${VAR}`` (a literal)."""

_CONTROL = re.compile(r"[\x00-\x20\x7f]")  # a space too: in a URL it must be %20
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an RFC 9110 token
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # CR, LF, NUL, …; not tab


def http_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a request URL, or None. Parsed with yarl as aiohttp parses
    it. The reason never repeats the URL: it may hold an expanded secret."""
    if _CONTROL.search(url):
        return "must not contain spaces or control characters (percent-encode them)"
    try:
        parsed = URL(url)
    except ValueError as error:  # yarl's reasons: bad port, bad IPv6 literal, no host
        return f"not a valid URL: {error}"
    if parsed.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parsed.raw_host:
        return "must name a host"
    if parsed.raw_user is not None or parsed.raw_password is not None:
        return (
            "must not carry credentials (user:password@): URLs are printed and reported; "
            "send them in a header instead (an Authorization header set from ${VAR})"
        )
    if parsed.explicit_port == 0:
        return "port must be from 1 to 65535"
    return None


def _placeholders(text: str) -> str:
    """``text`` with each ``${VAR}`` as a value that is valid anywhere in a URL, so the
    rest of it can be checked before the environment is known."""
    return VARIABLE_REFERENCE.sub(lambda match: "${" + match[2] + "}" if match[1] else "1", text)


def _check_http_url(url: str) -> str:
    problem = http_url_problem(_placeholders(url))
    if problem is not None:
        raise ValueError(problem)
    return url


HttpUrlText = Annotated[str, AfterValidator(_check_http_url)]


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as a header value, or None (never repeats it)."""
    if _HEADER_VALUE_FORBIDDEN.search(value):
        return "must not contain CR, LF or other control characters"
    return None


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise FieldError(
                (name,),
                "not a valid header name (letters, digits and !#$%&'*+-.^_`|~; no spaces)",
            )
        problem = header_value_problem(value)
        if problem is not None:
            raise FieldError((name,), problem)
    return headers


Headers = Annotated[dict[str, str], AfterValidator(_check_headers)]
"""Request headers: names are HTTP tokens, values hold no CR/LF (no header injection)."""
