"""A results store: keys to bytes, in a local directory or an S3-compatible bucket.

Everything that writes or reads results (``herd run --results``, runner pods, the
merge step, ``herd report``) goes through ``ResultsStore``; ``open_store`` picks the
kind from the location: ``s3://bucket/prefix`` or a local directory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol


class StoreError(Exception):
    """A store could not be read or written; the message names the location, no secret."""


class ResultsStore(Protocol):
    location: str
    """Where the store is, for people (``s3://bucket/prefix`` or a path); no credentials."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        ...

    async def keys(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (relative to the store), sorted."""
        ...


class LocalStore:
    """A directory: keys are relative paths under it."""

    def __init__(self, root: Path):
        self.root = root
        self.location = str(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StoreError(f"{key!r} is outside {self.location}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(_write_atomically, path, data)
        except OSError as error:
            raise StoreError(f"{path}: {error.strerror or error}") from None

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"{path}: {error.strerror or error}") from None

    async def keys(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix() for path in base.rglob("*") if path.is_file()
        )


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader never sees half a file: write beside it, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
