"""Worker ids as short, safe tokens, whatever a response puts where they are read.

A worker id travels into reports, summaries, metrics and the LoadTest's status. The
spec refuses headers and JSON fields named like credentials (``herd.api.credentials``);
this is the run-time half: a value that is not a short plain token (a long string,
odd characters, a JSON object or list) is replaced by a stable hash of it, so
responses from one worker still count as one and nothing readable is copied out.
The hash is a keyed BLAKE2b with a fixed herd key, the same in every process and
runner of a run (their worker tables merge); 64 bits leave nothing to read back from
a long or random value. A short secret written in plain characters passes as it is:
that is what the spec's refusal of credential names is for.
"""

from __future__ import annotations

import json
import re
from hashlib import blake2b

SAFE_WORKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,63}")
HASHED_PREFIX = "h-"
_HASH_KEY = b"herd worker id"
# Raw values remembered with their safe form, so a worker seen again costs one dict
# lookup: only short ones (memory stays bounded however many distinct ids arrive).
_REMEMBERED_VALUES = 10_000
_REMEMBERED_LENGTH = 128


def hashed(text: str) -> str:
    digest = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, key=_HASH_KEY)
    return HASHED_PREFIX + digest.hexdigest()


def safe_worker_id(value: str) -> str:
    """``value`` if it is a short plain token, else its hash."""
    return value if SAFE_WORKER_ID.fullmatch(value) else hashed(value)


class WorkerIds:
    """Safe worker ids for the values responses carry, the common ones remembered."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def from_header(self, value: str) -> str:
        known = self._known.get(value)
        if known is not None:
            return known
        safe = safe_worker_id(value)
        if len(value) <= _REMEMBERED_LENGTH and len(self._known) < _REMEMBERED_VALUES:
            self._known[value] = safe
        return safe

    def from_json(self, value: object) -> str:
        """A JSON value: a string or a number as a header's, anything else hashed."""
        if isinstance(value, str):
            return self.from_header(value)
        if isinstance(value, bool | int | float):
            return self.from_header(str(value))
        return hashed(json.dumps(value, sort_keys=True, separators=(",", ":")))
