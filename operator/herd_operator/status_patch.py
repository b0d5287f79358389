"""The JSON merge patch (RFC 7386) that turns one object into another.

The reconcile functions return a whole status; a merge patch of only that status would
keep keys the new status no longer has (a stale ``message``, ``results`` of a failed
run). The patch sets removed keys to ``null``, so the stored status equals the new one.
"""

from __future__ import annotations

from typing import Any


def merge_patch(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The smallest merge patch from ``old`` to ``new`` (``{}`` when they are equal)."""
    old = old or {}
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif key not in old or before != value:
            # A dict replacing a non-dict must not carry nulls: there is nothing to remove.
            patch[key] = _without_nulls(value)
    return patch


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value
