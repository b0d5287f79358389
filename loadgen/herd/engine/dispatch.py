"""Issuing requests as tasks, and accounting for every one of them.

A request's path: (inline mode) stage its inputs -> render its body -> call.
Whatever happens on the way — a staging failure, a stop, a hard deadline — the
request ends up counted exactly once: ``sent`` (then ``ok`` or ``failed``) or
``never_sent`` with a reason. A request is ``sent`` once it has a pooled
connection: the open loop takes its slot before launching it (``has_slot``), and
one it launches but never calls gives the slot back. Requests the plan held but no
task ever started are counted by the runner from the plan, so
``planned = ok + failed + never_sent`` holds however the run ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

from herd.engine.body import BodyError, BodyRenderer, RequestContext, StagedObject
from herd.engine.calls import Caller
from herd.engine.recorder import Recorder
from herd.engine.records import RequestRecord, now
from herd.engine.slots import Slots
from herd.engine.staging import Stager, StagingFailed

log = logging.getLogger(__name__)

Prestaged = Mapping[int, Sequence[StagedObject] | StagingFailed]


class _NotSent(Exception):
    """A request ended before its call, and has been counted ``never_sent``."""


class Dispatcher:
    def __init__(
        self,
        caller: Caller,
        renderer: BodyRenderer,
        recorder: Recorder,
        runner_index: int,
        inline_stager: Stager | None = None,
        prestaged: Prestaged | None = None,
    ):
        self._caller = caller
        self._renderer = renderer
        self._recorder = recorder
        self._runner_index = runner_index
        self._inline_stager = inline_stager
        self._prestaged = prestaged
        self._tasks: set[asyncio.Task[None]] = set()
        self.launched = 0
        self.stop_reason: str | None = None  # set once: nothing new is sent after it
        self.stopping = False  # stop_reason is set: read before every request, so a plain flag
        self.release_time = 0.0  # when a burst's barrier opened
        self._template_error_logged = False
        # Nothing to stage or render per request: the call itself is all there is to run.
        self._direct = inline_stager is None and prestaged is None and renderer.fixed
        self._fixed_body = renderer.fixed_body

    @property
    def active(self) -> int:
        return len(self._tasks)

    @property
    def slots(self) -> Slots:
        """The HTTP pool's slots: the open loop waits for them at its in-flight cap."""
        return self._caller.slots

    def never_sent(self, reason: str, count: int = 1) -> None:
        """Count planned requests no task will ever carry (the load ended, no connection)."""
        self._recorder.on_never_sent(reason, count)

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stopping = True

    def launch(
        self,
        index: int,
        intended: float,
        gate: asyncio.Event | None = None,
        has_slot: bool = False,
        pool_wait: float = 0.0,
    ) -> None:
        """Start request ``index`` as its own task (open loop and burst)."""
        self.track(
            asyncio.get_running_loop().create_task(
                self.run_one(index, intended, gate, has_slot, pool_wait)
            )
        )

    def track(self, task: asyncio.Task[None]) -> None:
        """Register a task whose requests must be drained or aborted with the rest."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def run_one(
        self,
        index: int,
        intended: float,
        gate: asyncio.Event | None = None,
        has_slot: bool = False,
        pool_wait: float = 0.0,
    ) -> Coroutine[Any, Any, None]:
        """One request, from staging to last byte, to await or run as a task. It never
        raises except on cancellation. ``has_slot``: its pool slot is taken already,
        after waiting ``pool_wait`` seconds for it."""
        self.launched += 1
        record = RequestRecord(index, intended)
        record.pool_wait = pool_wait
        if self._direct and gate is None:  # one coroutine less on every request's path
            return self._caller.call(record, self._fixed_body, has_slot)
        return self._prepare_and_call(record, gate, has_slot)

    async def _prepare_and_call(
        self, record: RequestRecord, gate: asyncio.Event | None, has_slot: bool
    ) -> None:
        try:
            body = await self._prepare(record, gate)
        except (_NotSent, asyncio.CancelledError) as ended:
            if has_slot:  # not handed to the call, which would have given it back
                self.slots.release()
            if isinstance(ended, _NotSent):
                return
            raise
        await self._caller.call(record, body, has_slot)

    def _not_sent(self, reason: str) -> _NotSent:
        self._recorder.on_never_sent(reason)
        return _NotSent()

    async def _prepare(self, record: RequestRecord, gate: asyncio.Event | None) -> bytes | None:
        """Wait at the gate, stage and render: the body, or ``_NotSent`` once counted."""
        index = record.index
        if gate is not None:
            try:
                await gate.wait()
            except asyncio.CancelledError:
                self._recorder.on_never_sent(self.stop_reason or "stopped")
                raise
            record.intended = self.release_time
        uploads: Sequence[StagedObject] = ()
        if self._inline_stager is not None:
            try:
                uploads = await self._inline_stager.stage(index)
            except StagingFailed as failure:
                raise self._not_sent(failure.reason) from None
            except asyncio.CancelledError:
                self._recorder.on_never_sent(self.stop_reason or "stopped")
                raise
            if self.stopping:
                raise self._not_sent(self.stop_reason or "stopped")
        elif self._prestaged is not None:
            staged = self._prestaged.get(index)
            if isinstance(staged, StagingFailed):
                raise self._not_sent(staged.reason)
            if staged is None:
                raise self._not_sent(self.stop_reason or "not_staged")
            uploads = staged
        try:
            return self._renderer.render(RequestContext(index, self._runner_index), uploads)
        except BodyError as error:
            if not self._template_error_logged:
                log.error("%s", error)
                self._template_error_logged = True
            raise self._not_sent("template_error") from None

    def release(self, gate: asyncio.Event) -> None:
        """Open a burst's barrier: every waiting request's intended start is now."""
        self.release_time = now()
        gate.set()
        held = self._caller.held
        if held is not None:
            # Queued behind the wake-up of every request waiting at the gate, so it
            # runs once each has written its request into its corked connection.
            asyncio.get_running_loop().call_soon(held.let_go)

    async def wait(
        self, timeout: float | None = None, interrupt: asyncio.Event | None = None
    ) -> bool:
        """Wait until no request is active; False if the timeout or ``interrupt`` came first."""
        deadline = None if timeout is None else now() + timeout
        while self._tasks:
            waiters: set[asyncio.Task[Any]] = set(self._tasks)
            interrupt_waiter = None
            if interrupt is not None:
                if interrupt.is_set():
                    return False
                interrupt_waiter = asyncio.ensure_future(interrupt.wait())
                waiters.add(interrupt_waiter)
            remaining = None if deadline is None else max(0.0, deadline - now())
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if interrupt_waiter is not None:
                    interrupt_waiter.cancel()
            if deadline is not None and now() >= deadline and self._tasks:
                return False
        return True

    async def abort(self, error_class: str) -> None:
        """Cancel everything still active; in-flight requests fail with ``error_class``."""
        self._caller.abort_class = error_class
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
