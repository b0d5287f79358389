"""The kopf handlers: the thin edge between Kubernetes events and ``Reconcilers``.

Each handler only decodes what kopf hands it and calls a reconcile; nothing here
decides anything. Handlers are registered on a registry the caller passes in, so an
operator (or a test) builds its own set without module-level state.

- LoadTest created, changed or seen at startup, and a timer when it is due → reconcile
  the LoadTest.
- LoadTestRun created, changed or seen at startup, a timer when it is due, and any event
  of its runner Job or pods (found by the ``herd.dev/run`` label) → reconcile the run,
  with the Job and pods from kopf's indexes (filled before any handler runs, so a
  restarted operator sees the Job it created before and does not create another).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

from herd.api.crd import LOADTEST_PLURAL, RUN_PLURAL
from herd.api.spec import API_GROUP, API_VERSION
from herd_operator.merge_job import MERGE_COMPONENT
from herd_operator.naming import COMPONENT_LABEL, RUN_LABEL
from herd_operator.reconcilers import Reconcilers, RunnerObjects, loadtest_key, run_key

RunnerIndex = kopf.Index[tuple[str, str], dict[str, Any]]
"""Runner Jobs (or pods) by (namespace, run name), as snapshots of their bodies."""


def _namespaced(namespace: str | None) -> str:
    """kopf types ``namespace`` for cluster-wide resources too; herd's are all namespaced."""
    if namespace is None:
        raise kopf.PermanentError("herd's resources are namespaced; this one has no namespace")
    return namespace


def _runner_objects(namespace: str, run: str, indexes: Mapping[str, Any]) -> RunnerObjects:
    """The run's Job and pods from kopf's indexes, which kopf passes to every handler as
    keyword arguments named after the index functions (so its handler protocols leave
    them to ``**kwargs``)."""
    runner_jobs: RunnerIndex = indexes["runner_jobs"]
    runner_pods: RunnerIndex = indexes["runner_pods"]
    key = (namespace, run)
    jobs, merge_jobs = _by_component(runner_jobs.get(key, []))
    pods, merge_pods = _by_component(runner_pods.get(key, []))
    return RunnerObjects(
        job=jobs[0] if jobs else None,
        pods=pods,
        merge_job=merge_jobs[0] if merge_jobs else None,
        merge_pods=merge_pods,
    )


def _by_component(
    bodies: Iterable[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The runners' objects and the merge's (both carry the run's label)."""
    runners: list[dict[str, Any]] = []
    merge: list[dict[str, Any]] = []
    for body in bodies:
        labels = (body.get("metadata") or {}).get("labels") or {}
        (merge if labels.get(COMPONENT_LABEL) == MERGE_COMPONENT else runners).append(body)
    return runners, merge


def _snapshot(body: kopf.Body) -> dict[str, Any]:
    return copy.deepcopy(dict(body))


def register(registry: kopf.OperatorRegistry, edge: Reconcilers, tick_seconds: float) -> None:
    """Register herd's handlers on ``registry``; timers look every ``tick_seconds``."""
    loadtests: dict[str, Any] = {
        "group": API_GROUP,
        "version": API_VERSION,
        "plural": LOADTEST_PLURAL,
        "registry": registry,
    }
    runs: dict[str, Any] = {**loadtests, "plural": RUN_PLURAL}
    runner_objects: dict[str, Any] = {"labels": {RUN_LABEL: kopf.PRESENT}, "registry": registry}

    @kopf.on.login(id="login", registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # The same source as the reconcilers' client: in-cluster, else KUBECONFIG.
        return kopf.login_via_client(**kwargs)

    @kopf.on.resume(**loadtests, id="loadtest")
    @kopf.on.create(**loadtests, id="loadtest")
    @kopf.on.update(**loadtests, id="loadtest")
    async def loadtest_changed(namespace: str | None, name: str, **_: Any) -> None:
        await edge.loadtest(_namespaced(namespace), name)

    @kopf.timer(**loadtests, id="loadtest-due", interval=tick_seconds)
    async def loadtest_due(namespace: str | None, name: str, **_: Any) -> None:
        if edge.requeue.is_due(loadtest_key(_namespaced(namespace), name)):
            await edge.loadtest(_namespaced(namespace), name)

    @kopf.on.event(**loadtests, id="loadtest-deleted")
    def loadtest_event(type: str, namespace: str | None, name: str, **_: Any) -> None:
        if type == "DELETED":
            edge.forget(loadtest_key(_namespaced(namespace), name))

    @kopf.index("batch", "v1", "jobs", **runner_objects, id="runner_jobs")
    def runner_jobs(
        namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
    ) -> dict[tuple[str, str], dict[str, Any]]:
        return {(_namespaced(namespace), labels[RUN_LABEL]): _snapshot(body)}

    @kopf.index("v1", "pods", **runner_objects, id="runner_pods")
    def runner_pods(
        namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
    ) -> dict[tuple[str, str], dict[str, Any]]:
        return {(_namespaced(namespace), labels[RUN_LABEL]): _snapshot(body)}

    @kopf.on.resume(**runs, id="run")
    @kopf.on.create(**runs, id="run")
    @kopf.on.update(**runs, id="run")
    async def run_changed(namespace: str | None, name: str, **indexes: Any) -> None:
        namespace = _namespaced(namespace)
        await edge.run(namespace, name, _runner_objects(namespace, name, indexes))

    @kopf.timer(**runs, id="run-due", interval=tick_seconds)
    async def run_due(namespace: str | None, name: str, **indexes: Any) -> None:
        namespace = _namespaced(namespace)
        if edge.requeue.is_due(run_key(namespace, name)):
            runners = _runner_objects(namespace, name, indexes)
            await edge.run(namespace, name, runners)

    @kopf.on.event(**runs, id="run-deleted")
    def run_event(type: str, namespace: str | None, name: str, **_: Any) -> None:
        if type == "DELETED":
            edge.forget(run_key(_namespaced(namespace), name))

    @kopf.on.event("batch", "v1", "jobs", **runner_objects, id="runner-job")
    @kopf.on.event("v1", "pods", **runner_objects, id="runner-pod")
    async def runner_changed(namespace: str | None, labels: kopf.Labels, **indexes: Any) -> None:
        namespace = _namespaced(namespace)
        run = labels[RUN_LABEL]
        await edge.run(namespace, run, _runner_objects(namespace, run, indexes))

    @kopf.on.probe(id="runsByPhase", registry=registry)
    def runs_by_phase(**_: Any) -> dict[str, int]:
        return edge.metrics.phase_counts()
