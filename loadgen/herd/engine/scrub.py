"""Credential material recognised by its shape, for text herd did not expand itself.

The ``Redactor`` removes the values herd expanded from ``${VAR}``; this removes what
other code can put in text: the AWS SDK's signatures and access key ids, presigned
URLs' signing parameters, ``Authorization``-like header values, and the password of
a URL written as ``scheme://user:password@host``.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

_AWS_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b")
# SigV4 headers and query strings (Credential=, Signature=, X-Amz-Signature=,
# X-Amz-Credential=, X-Amz-Security-Token=), SigV2 ones (AWSAccessKeyId=, Signature=),
# and botocore's "Signature:\n<hex>" debug line.
_SIGNING_PARAMETER = re.compile(
    r"(?i)\b(credential|signature|security-token|awsaccesskeyid)(=|:\s*)[^\s&,;'\"<>]+"
)
# A header name, then what separates it from its value in the ways code prints headers:
# "Name: value", "'Name': 'value'", "'Name': b'value'", '"name": "value"', "Name=value".
# Not after a dot: "spec.target.headers.Authorization: ..." is a field path, not a header.
_CREDENTIAL_HEADER = re.compile(
    r"""(?ix)
    (?<![\w.-])
    ( (?:proxy-)?authorization | x-amz-security-token | x-api-key | api-key
      | set-cookie | cookie )
    ( ['"]? \s* [:=] \s* (?:b(?=['"]))? )
    (?: (['"]) .*? (?<!\\) \3 | [^\r\n]+ )
    """
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#@'\"<>\[\]]+@")


def _header_value(match: re.Match[str]) -> str:
    quote = match[3] or ""
    return f"{match[1]}{match[2]}{quote}{REDACTED}{quote}"


def scrub_credentials(text: str) -> str:
    """``text`` without anything shaped like a credential."""
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _CREDENTIAL_HEADER.sub(_header_value, text)
    text = _SIGNING_PARAMETER.sub(rf"\1\2{REDACTED}", text)
    return _AWS_ACCESS_KEY_ID.sub(REDACTED, text)
