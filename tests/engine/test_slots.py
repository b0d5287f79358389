"""Pool slots: free ones are taken at once, waiters are served in order, and no slot
is lost or doubled when a wait is cancelled (a pool timeout, a stop)."""

from __future__ import annotations

import asyncio

import pytest

from herd.engine.slots import Slots


async def _take(slots: Slots, order: list[str], name: str) -> None:
    if not slots.take_free():
        await slots.wait()
    order.append(name)


async def test_free_slots_are_taken_without_waiting_and_come_back():
    slots = Slots(2)
    assert slots.take_free() and slots.take_free()
    assert not slots.take_free()
    slots.release()
    assert slots.free == 1
    assert slots.take_free()


async def test_waiters_are_served_first_come_first_served():
    slots, order = Slots(1), []
    assert slots.take_free()
    waiting = [asyncio.ensure_future(_take(slots, order, name)) for name in "abc"]
    await asyncio.sleep(0)
    assert order == []
    for _ in range(3):
        slots.release()
        await asyncio.sleep(0)
    await asyncio.gather(*waiting)
    assert order == ["a", "b", "c"]
    assert slots.free == 0
    assert not slots.take_free()  # every slot handed over is still taken


async def test_a_newcomer_does_not_jump_the_queue():
    slots, order = Slots(1), []
    assert slots.take_free()
    first = asyncio.ensure_future(_take(slots, order, "waiting"))
    await asyncio.sleep(0)
    slots.release()  # handed to the waiter, not left free for the newcomer
    assert not slots.take_free()
    await first
    assert order == ["waiting"]


async def test_a_cancelled_wait_takes_no_slot():
    slots, order = Slots(1), []
    assert slots.take_free()
    gone = asyncio.ensure_future(_take(slots, order, "gone"))
    stays = asyncio.ensure_future(_take(slots, order, "stays"))
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    slots.release()
    await stays
    assert order == ["stays"]
    slots.release()
    assert slots.free == 1


async def test_a_slot_handed_to_a_waiter_that_is_cancelled_passes_on():
    slots, order = Slots(1), []
    assert slots.take_free()
    gone = asyncio.ensure_future(_take(slots, order, "gone"))
    stays = asyncio.ensure_future(_take(slots, order, "stays"))
    await asyncio.sleep(0)
    slots.release()  # handed to "gone"...
    gone.cancel()  # ...which is cancelled before it can run
    with pytest.raises(asyncio.CancelledError):
        await gone
    await stays
    assert order == ["stays"]
    slots.release()
    assert slots.free == 1


async def test_a_timed_out_wait_leaves_the_count_whole():
    slots = Slots(1)
    assert slots.take_free()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await slots.wait()
    slots.release()
    assert slots.free == 1 and slots.take_free()
