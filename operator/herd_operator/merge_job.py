"""The merge Job of a run with a results store: one pod, in the run's namespace, that
merges the runners' full reports exactly into ``merged.json`` and ``report.html`` beside
them, and hands the merged numbers back in its termination message.

It runs as the runners do (same image, pod security, env and Secrets, no service account
token), so it reads and writes the store with the run's own credentials: the operator
never holds a tenant's S3 credentials, and a tenant's Secret never leaves its namespace.
"""

from __future__ import annotations

import copy
from typing import Any

from herd.api.results import S3ResultsSpec
from herd_operator.job import CONTAINER, TERMINATION_MESSAGE_PATH, build_runner_job
from herd_operator.naming import run_labels
from herd_operator.objects import RunObject
from herd_operator.results_location import run_uri
from herd_operator.settings import DEFAULT_SETTINGS, RunnerSettings

MERGE_COMPONENT = "merge"
MERGE_DEADLINE_SECONDS = 600
"""A merge reads N reports and writes two files: minutes at most, even for 10,000 runners."""


def merge_job_name(run_name: str) -> str:
    return f"{run_name}-merge"


def merge_args(store: S3ResultsSpec, run: RunObject) -> list[str]:
    return [
        "herd",
        "report",
        run_uri(store, run),
        "--runners",
        str(run.spec.parallelism),
        "--merge",
        "--summary",
        TERMINATION_MESSAGE_PATH,
        "--quiet",
        "--no-verdict-exit",
    ]


def _store_env(store: S3ResultsSpec) -> list[dict[str, Any]]:
    # herd report reads an s3:// source's endpoint and region as the AWS SDKs do; the
    # merge pod stages nothing, so these reach the results store only.
    env = []
    if store.endpoint:
        env.append({"name": "AWS_ENDPOINT_URL_S3", "value": str(store.endpoint)})
    if store.region:
        env.append({"name": "AWS_REGION", "value": store.region})
    return env


def build_merge_job(
    run: RunObject, store: S3ResultsSpec, settings: RunnerSettings = DEFAULT_SETTINGS
) -> dict[str, Any]:
    """The run's merge Job (touches no API): the runner pod's hardening and credentials,
    ``herd report … --merge`` as its command, never retried, owned by the run."""
    job = copy.deepcopy(build_runner_job(run, settings))
    labels = run_labels(run.loadtest_name, run.name, MERGE_COMPONENT)
    job["metadata"]["name"] = merge_job_name(run.name)
    job["metadata"]["labels"] = labels
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == CONTAINER
    container["name"] = MERGE_COMPONENT
    container["args"] = merge_args(store, run)
    container["env"] = [*container["env"], *_store_env(store)]
    # Its input is the store, not the LoadTest file (whose ConfigMap may be gone by now).
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "loadtest"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "loadtest"]
    job["spec"] = {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 0,  # a failed merge falls back to the summaries; never run twice
        "activeDeadlineSeconds": MERGE_DEADLINE_SECONDS,
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }
    return job
