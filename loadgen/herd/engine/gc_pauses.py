"""Keeping garbage-collection pauses out of the load.

When the load starts the process holds a few hundred thousand objects from imports
and setup (botocore's service models, pydantic's schemas, the event loop, the pools)
that will live as long as it does. A full collection walks every one of them and
holds the event loop for 50-100 ms: an open loop at 10,000 req/s falls 1,000
requests behind, every few seconds. Frozen (``gc.freeze``), they are left out of
collections while the load runs; garbage the load itself makes is collected as
before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def setup_objects_frozen() -> Iterator[None]:
    """Leave every object that exists now out of garbage collection inside the block."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # a long-lived process (the tests, a notebook) collects them again
