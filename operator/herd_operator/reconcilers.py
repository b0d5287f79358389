"""Read, decide, act, write: one reconcile of a LoadTest or a LoadTestRun.

Each reconcile reads the object itself fresh from the API (never a cached body, so a
status this operator just wrote is never reconciled from an older copy), calls the pure
decision function, carries out what it returned, writes the whole status in one
patch of the status subresource, and emits the Events. Reconciles of the same object
never overlap (one lock per object): kopf serializes the handlers of one object, but a
run is also reconciled from its Job's and pods' events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from herd.api.status import TERMINAL_PHASES
from herd_operator.carry_out import carry_out_loadtest, carry_out_run
from herd_operator.events import Event
from herd_operator.kube import JOBS, LOADTESTS, RUNS, Kube, Resource
from herd_operator.namespace_slots import RUNNER_JOB_LABELS, Slots, is_waiting, namespace_slots
from herd_operator.naming import LOADTEST_LABEL
from herd_operator.objects import metadata, status_of
from herd_operator.operator_metrics import OperatorMetrics
from herd_operator.requeue import Requeue
from herd_operator.run_status import Action, RunReconcile, reconcile_run
from herd_operator.scheduling import next_action
from herd_operator.settings import DEFAULT_SETTINGS, RunnerSettings
from herd_operator.status_patch import merge_patch

Emit = Callable[[dict[str, Any], Event], None]
"""Posts a Kubernetes Event about an object (kopf's poster in the operator)."""
Key = tuple[str, str, str]


def loadtest_key(namespace: str, name: str) -> Key:
    return ("LoadTest", namespace, name)


def run_key(namespace: str, name: str) -> Key:
    return ("LoadTestRun", namespace, name)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunnerObjects:
    """A run's runner Job and pods, as the operator last saw them."""

    job: dict[str, Any] | None = None
    pods: list[dict[str, Any]] = field(default_factory=list)
    merge_job: dict[str, Any] | None = None
    merge_pods: list[dict[str, Any]] = field(default_factory=list)


class Reconcilers:
    def __init__(
        self,
        kube: Kube,
        metrics: OperatorMetrics,
        requeue: Requeue,
        emit: Emit,
        settings: RunnerSettings = DEFAULT_SETTINGS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.kube, self.metrics, self.requeue = kube, metrics, requeue
        self._emit, self._settings, self._clock = emit, settings, clock
        self._locks: defaultdict[Key, asyncio.Lock] = defaultdict(asyncio.Lock)
        # One run at a time takes a namespace's last slot (limits.maxActiveRunsPerNamespace);
        # the runs waiting for one are woken when a run of their namespace ends.
        self._namespace_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waiting: defaultdict[str, set[str]] = defaultdict(set)

    async def loadtest(self, namespace: str, name: str) -> None:
        key = loadtest_key(namespace, name)
        async with self._locks[key]:
            with self._counting_errors("LoadTest"):
                await self._loadtest(key, namespace, name)

    async def _loadtest(self, key: Key, namespace: str, name: str) -> None:
        body = await self.kube.get(LOADTESTS, namespace, name)
        if body is None:
            self.forget(key)
            return
        runs = await self.kube.list(RUNS, namespace, {LOADTEST_LABEL: name})
        settings = self._settings
        decision = next_action(body, runs, self._clock(), settings.caps, settings.policy)
        events, status = list(decision.events), decision.status
        rejection = await carry_out_loadtest(self.kube, namespace, decision)
        if rejection is not None:
            status = {**status, "message": rejection.message}
            events.append(rejection)
        await self._write_status(LOADTESTS, body, status)
        self._emit_all(body, events)
        self.requeue.after(key, decision.requeue_after)

    async def run(self, namespace: str, name: str, runners: RunnerObjects) -> None:
        key = run_key(namespace, name)
        async with self._locks[key]:
            with self._counting_errors("LoadTestRun"):
                await self._run(key, namespace, name, runners)

    async def _run(self, key: Key, namespace: str, name: str, runners: RunnerObjects) -> None:
        body = await self.kube.get(RUNS, namespace, name)
        if body is None:
            self.forget(key)
            return
        now = self._clock()
        reconciled = self._reconcile(body, runners, now)
        cap = self._settings.caps.max_active_runs_per_namespace
        if cap is not None and Action.CREATE_RUNNERS in reconciled.actions:
            async with self._namespace_locks[namespace]:
                slots = await self._slots(body, namespace, cap)
                reconciled = self._reconcile(body, runners, now, slots)
                reconciled = await self._carry_out(body, reconciled, now)
        else:
            reconciled = await self._carry_out(body, reconciled, now)
        before = status_of(body)
        await self._write_status(RUNS, body, reconciled.status)
        self._emit_all(body, reconciled.events)
        self.metrics.observe_run(namespace, body, before, reconciled.status)
        self.requeue.after(key, reconciled.requeue_after)
        self._wake_waiting(namespace, name, before, reconciled.status)
        loadtest = (body.get("spec") or {}).get("loadTestName")
        if loadtest and before.get("phase") != reconciled.status.get("phase"):
            # The LoadTest's status shows its runs' phases and its latest results.
            self.requeue.soon(loadtest_key(namespace, loadtest))

    def _reconcile(
        self,
        body: dict[str, Any],
        runners: RunnerObjects,
        now: datetime,
        slots: Slots | None = None,
    ) -> RunReconcile:
        return reconcile_run(
            body,
            runners.job,
            runners.pods,
            now,
            self._settings,
            slots,
            merge_job=runners.merge_job,
            merge_pods=runners.merge_pods,
        )

    async def _carry_out(
        self, body: dict[str, Any], reconciled: RunReconcile, now: datetime
    ) -> RunReconcile:
        return await carry_out_run(self.kube, body, reconciled, now, self._settings)

    async def _slots(self, body: dict[str, Any], namespace: str, cap: int) -> Slots:
        """Read fresh from the API (not kopf's index): a Job created a moment ago by the
        run before this one must count."""
        jobs = await self.kube.list(JOBS, namespace, RUNNER_JOB_LABELS)
        runs = await self.kube.list(RUNS, namespace, {})
        return namespace_slots(body, jobs, runs, cap)

    def _wake_waiting(
        self, namespace: str, name: str, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        waiting = self._waiting[namespace]
        if is_waiting({"status": after}):
            waiting.add(name)
            return
        waiting.discard(name)
        if after.get("phase") in TERMINAL_PHASES and before.get("phase") != after.get("phase"):
            self._wake(namespace)

    def _wake(self, namespace: str) -> None:
        """A slot may have freed up: the runs waiting in ``namespace`` look again now."""
        for other in sorted(self._waiting[namespace]):
            self.requeue.soon(run_key(namespace, other))

    def forget(self, key: Key) -> None:
        """The object is gone: drop what is kept about it."""
        self.requeue.forget(key)
        lock = self._locks.get(key)
        if lock is not None and not lock.locked():
            del self._locks[key]
        if key[0] == "LoadTestRun":
            self.metrics.forget_run(key[1], key[2])
            self._waiting[key[1]].discard(key[2])
            self._wake(key[1])  # a deleted run's runners go with it

    async def _write_status(
        self, resource: Resource, body: dict[str, Any], status: dict[str, Any]
    ) -> None:
        """The one place status is written: the whole status, as one merge patch."""
        patch = merge_patch(status_of(body), status)
        if patch:
            meta = metadata(body)
            await self.kube.patch(
                resource, meta["namespace"], meta["name"], {"status": patch}, "status"
            )

    def _emit_all(self, body: dict[str, Any], events: list[Event] | tuple[Event, ...]) -> None:
        for event in events:
            self._emit(body, event)

    @contextlib.contextmanager
    def _counting_errors(self, kind: str) -> Iterator[None]:
        try:
            yield
        except Exception:
            self.metrics.reconcile_errors.labels(kind).inc()
            raise
