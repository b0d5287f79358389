"""Durations as users write them in a LoadTest: ``150s``, ``2m``, ``250ms``, ``1h30m``.

Kept as float seconds inside herd and written back in a canonical form (``90`` -> ``1m30s``)
so generated CRD defaults and reports read like what a person would type.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
# No duration herd takes means anything beyond a week: a larger one is a typo, and an
# unbounded one (.inf) would remove the hard stop (maxDuration) and every timeout.
MAX_DURATION_SECONDS = 7 * 24 * 3600.0


def parse_duration(value: object) -> float:
    """Parse ``"1m30s"``-style text (or a plain number of seconds) into seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 150s, 2m or 250ms")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty duration; write e.g. 150s, 2m or 250ms")
        position, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            position = match.end()
        if position != len(text):
            raise ValueError(f"invalid duration {value!r}; write e.g. 150s, 2m, 250ms or 1h30m")
    else:
        raise ValueError("expected a duration such as 150s, 2m or 250ms")
    if not math.isfinite(seconds):
        raise ValueError("duration must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("duration must not be negative")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration must be at most {format_duration(MAX_DURATION_SECONDS)}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest text that reads back as exactly ``seconds``: 0.25 -> ``250ms``,
    90 -> ``1m30s``, 0.0004 -> ``0.0004s`` (an operator hands runners specs as text, so
    a value that changed on the way would be another spec, or an invalid one)."""
    text = _readable(seconds)
    if _read_back(text) == seconds:
        return text
    return f"{Decimal(repr(float(seconds))):f}s"  # every digit, never an exponent


def _readable(seconds: float) -> str:
    milliseconds = round(seconds * 1000)
    if milliseconds % 1000:
        if milliseconds < 1000:
            return f"{milliseconds}ms"
        return f"{Decimal(milliseconds) / 1000:f}s"
    whole = milliseconds // 1000
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    text += f"{secs}s" if secs or not text else ""
    return text


def _read_back(text: str) -> float:
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration such as 150s, 2m, 250ms or 1h30m.",
        }
    ),
]
