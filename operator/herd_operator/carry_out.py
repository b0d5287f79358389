"""Carrying out what the reconcile functions decided, with API calls.

Every step is safe to repeat: names are deterministic, so a create that already happened
(before an operator restart, say) answers "already exists" and counts as done, and a
delete of something already gone is done as well.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from herd_operator.configmap import build_runner_configmap
from herd_operator.events import Event
from herd_operator.job import build_runner_job
from herd_operator.kube import CONFIGMAPS, JOBS, RUNS, Kube, Rejected
from herd_operator.merge_job import build_merge_job
from herd_operator.objects import metadata, parse_time, read_run
from herd_operator.results_location import results_store_of
from herd_operator.run_status import Action, RunReconcile, runners_rejected
from herd_operator.scheduling import LoadTestDecision
from herd_operator.settings import RunnerSettings


async def carry_out_loadtest(
    kube: Kube, namespace: str, decision: LoadTestDecision
) -> Event | None:
    """Create and delete the decided runs; a Warning when the API server refuses the run."""
    rejection = None
    if decision.create is not None:
        try:
            await kube.create(RUNS, decision.create)
        except Rejected as error:
            name = metadata(decision.create)["name"]
            rejection = Event("Warning", "RunRejected", f"the API server refused {name}: {error}")
    for name in decision.delete:
        await kube.delete(RUNS, namespace, name)
    return rejection


async def carry_out_run(
    kube: Kube,
    body: dict[str, Any],
    reconciled: RunReconcile,
    now: datetime,
    settings: RunnerSettings,
) -> RunReconcile:
    """Perform ``reconciled.actions``; returns what to write: ``reconciled``, or the
    ``runners_rejected`` status when the API server refuses the runners."""
    namespace, name = metadata(body)["namespace"], metadata(body)["name"]
    for action in reconciled.actions:
        if action is Action.CREATE_RUNNERS:
            run = read_run(body, settings.caps, settings.policy)
            try:
                # The ConfigMap first: the Job's pods mount it.
                await kube.create(CONFIGMAPS, build_runner_configmap(run, settings.results))
                release = parse_time(reconciled.status.get("releaseTime"))
                await kube.create(JOBS, build_runner_job(run, settings, release))
            except Rejected as error:
                return runners_rejected(body, str(error), now)
        elif action is Action.CREATE_MERGE:
            run = read_run(body)
            store = results_store_of(run, settings.results)
            assert store is not None  # a merge is asked for only where there is a store
            try:
                await kube.create(JOBS, build_merge_job(run, store, settings))
            except Rejected as error:
                # Retrying would not help: the run ends on its runners' summaries.
                assert reconciled.fallback is not None
                fallback = reconciled.fallback
                events = tuple(
                    replace(event, message=f"{event.message}: {error}")
                    if event.reason == "MergeFailed"
                    else event
                    for event in fallback.events
                )
                return replace(fallback, events=events)
        elif action is Action.SUSPEND_JOB:
            await kube.patch(JOBS, namespace, name, {"spec": {"suspend": True}})
        elif action is Action.DELETE_JOB:
            # ttlSecondsAfterFinished: the Job (with its pods) and the runners' input go;
            # the run and its results stay.
            await kube.delete(JOBS, namespace, name)
            await kube.delete(CONFIGMAPS, namespace, name)
    return reconciled
