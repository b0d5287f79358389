"""Names that plainly carry credentials: what herd will not copy out of a response.

A worker id is read from a response and shown in reports, summaries and the
LoadTest's status, to anyone who may read those. Pointed at a credential-bearing
header (``Set-Cookie``) or JSON field (``$.db.password``), it would copy an internal
secret out of the target into them (an SSRF read-back). Such names are refused when
the spec is read; values that get through anyway are hashed at run time
(``herd.engine.worker_ids``).
"""

from __future__ import annotations

import re

# Headers that carry credentials by definition, whatever their words say.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "www-authenticate",
        "proxy-authenticate",
        "authentication-info",
        "proxy-authentication-info",
        "cookie",
        "set-cookie",
        "set-cookie2",
        "x-api-key",
        "x-csrf-token",
        "x-xsrf-token",
    }
)
# A word (of a name split at -, _, ., spaces and camelCase) that names a credential.
_CREDENTIAL_WORDS = frozenset(
    {
        "auth",
        "authn",
        "authz",
        "bearer",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "creds",
        "csrf",
        "jwt",
        "key",
        "keys",
        "pass",
        "passphrase",
        "passwd",
        "password",
        "passwords",
        "pwd",
        "secret",
        "secrets",
        "session",
        "sessionid",
        "sessions",
        "sid",
        "signature",
        "token",
        "tokens",
        "xsrf",
    }
)
_CREDENTIAL_PREFIXES = ("authori", "authent", "password", "secret", "token", "credential")
# Written as one word in any case (``dbpassword``, ``APIKEY``), still plain enough.
_CREDENTIAL_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "cookie",
    "apikey",
    "accesskey",
    "privatekey",
    "sessionid",
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def credential_word(name: str) -> str | None:
    """The word of ``name`` that says it holds a credential, or None."""
    if name.strip().lower() in CREDENTIAL_HEADERS:
        return name.strip()
    lowered = name.lower()
    for part in _CREDENTIAL_PARTS:
        if part in lowered:
            return part
    words: list[str] = _WORD.findall(name)
    for word in map(str.lower, words):
        if word in _CREDENTIAL_WORDS or word.startswith(_CREDENTIAL_PREFIXES):
            return word
    return None
