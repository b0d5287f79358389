"""During the load, what existed before it is left out of garbage collection, and
only then: afterwards the process collects everything again."""

from __future__ import annotations

import gc

from herd.engine.gc_pauses import setup_objects_frozen


def test_setup_objects_are_frozen_for_the_block_only():
    with setup_objects_frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_made_during_the_load_is_still_collected():
    class Node:
        pass

    with setup_objects_frozen():
        node = Node()
        node.self = node
        del node
        assert gc.collect() >= 1
