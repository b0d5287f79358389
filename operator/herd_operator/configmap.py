"""The ConfigMap holding the LoadTest file each runner pod runs (``/etc/herd/loadtest.yaml``)."""

from __future__ import annotations

from typing import Any

import yaml

from herd.api.results import ResultsSpec, S3ResultsSpec
from herd.api.spec import API_GROUP, API_VERSION, KIND
from herd_operator.naming import run_labels, run_owner_reference
from herd_operator.objects import RunObject

LOADTEST_FILE = "loadtest.yaml"


def runner_loadtest(run: RunObject, default_results: S3ResultsSpec | None = None) -> dict[str, Any]:
    """The LoadTest document a runner executes with ``herd run``.

    Thresholds are left out on purpose: a runner sees only its share of the load, so
    its own verdict would be meaningless (``workers >= 2`` on one of three runners, a
    p95 of a third of the requests) and a failed one would exit 1 and fail the Job.
    The operator judges thresholds on the merged results instead. A spec without
    ``results`` gets the operator's default store (``default_results``), with its
    endpoint and region, so the runner writes where the merge will read.
    """
    update: dict[str, Any] = {"thresholds": []}
    if run.spec.results is None and default_results is not None:
        update["results"] = ResultsSpec(s3=default_results)
    spec = run.spec.model_copy(update=update)
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {"name": run.loadtest_name or run.name, "namespace": run.namespace},
        "spec": spec.model_dump(mode="json", by_alias=True),
    }


def build_runner_configmap(
    run: RunObject, default_results: S3ResultsSpec | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": run.name,
            "namespace": run.namespace,
            "labels": run_labels(run.loadtest_name, run.name, "runner"),
            "ownerReferences": [run_owner_reference(run.name, run.uid)],
        },
        "immutable": True,
        "data": {
            LOADTEST_FILE: yaml.safe_dump(runner_loadtest(run, default_results), sort_keys=False)
        },
    }
