"""The runner Job: one Indexed Job whose N pods each send their share of the load.

``completionMode: Indexed`` gives every pod a stable index (``JOB_COMPLETION_INDEX``,
set by the Job controller), which the runner passes to ``herd run --runner-index``;
``parallelism = completions = N`` starts all N at once. Runners stage their uploads,
then wait for a common wall-clock release time, so the load starts together.
Each runner writes a compact summary of its results to its termination message,
where the operator reads it without the runner needing any API access.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from herd.api.policy import RUNNER_POLICY_ENV
from herd.api.runner import RunnerSpec
from herd.engine.multicore.cpus import CPU_REQUEST_ENV
from herd_operator.caps import request_ceiling
from herd_operator.configmap import LOADTEST_FILE
from herd_operator.naming import run_labels, run_owner_reference
from herd_operator.objects import RunObject
from herd_operator.policy import runner_policy
from herd_operator.results_location import results_store_of, store_uri
from herd_operator.settings import DEFAULT_SETTINGS, RunnerSettings

CONTAINER = "runner"
CONFIG_DIR = "/etc/herd"
TMP_DIR = "/tmp"
REPORT_PATH = f"{TMP_DIR}/herd/report.json"
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
METRICS_PORT_NAME = "metrics"
"""The runner container's port for ``/metrics``: what the chart's PodMonitor scrapes."""

# A failed runner is never retried: a retry would send its share of the load again,
# late and alone, so the endpoint would see neither the planned load nor a
# synchronized start, and requests would be counted twice. A failure is reported.
# The limit is per index (Kubernetes >= 1.29): a runner lost to OOM, eviction, SIGKILL
# or its node fails its index only, and the others go on to report their results.
BACKOFF_LIMIT_PER_INDEX = 0


def max_failed_indexes(runners: int) -> int:
    """Every index may fail without failing the Job early: the Job ends (``Failed``,
    reason ``FailedIndexes``, if any index failed) only when every runner has ended, so
    a runner that finishes after another failed still reports."""
    return runners


def release_time(run: RunObject, settings: RunnerSettings = DEFAULT_SETTINGS) -> datetime:
    """When all runners start their load: derived from the run, so it survives restarts."""
    return run.created + timedelta(seconds=settings.startup_allowance_seconds)


def job_release_time(job: dict[str, Any]) -> datetime | None:
    """The release time a runner Job was created with (its ``--release-at``)."""
    for container in ((job.get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or []:
        args = container.get("args") or []
        if container.get("name") == CONTAINER and "--release-at" in args[:-1]:
            try:
                seconds = float(args[args.index("--release-at") + 1])
            except ValueError:
                return None
            return datetime.fromtimestamp(seconds, UTC)
    return None


def active_deadline_seconds(run: RunObject, settings: RunnerSettings = DEFAULT_SETTINGS) -> int:
    return (
        settings.startup_allowance_seconds
        + math.ceil(run.spec.load.max_duration)
        + settings.deadline_margin_seconds
    )


def runner_args(
    run: RunObject, settings: RunnerSettings = DEFAULT_SETTINGS, release: datetime | None = None
) -> list[str]:
    # $(JOB_COMPLETION_INDEX) is expanded by the kubelet from the variable the Job
    # controller adds to every container of an Indexed Job.
    return [
        "herd",
        "run",
        f"{CONFIG_DIR}/{LOADTEST_FILE}",
        "--runner-index",
        "$(JOB_COMPLETION_INDEX)",
        "--runners",
        str(run.spec.parallelism),
        "--release-at",
        f"{(release or release_time(run, settings)).timestamp():.3f}",
        "--run-id",
        run.name,
        "--report",
        REPORT_PATH,
        "--summary",
        TERMINATION_MESSAGE_PATH,
        "--quiet",
        # The operator judges the merged results; a runner exiting 1 for its own share
        # (no success in it) would fail the Job and end the other runners.
        "--no-verdict-exit",
        *_pushgateway_default(run, settings),
        *_metrics_port(settings),
        *_results_args(run, settings),
    ]


def _metrics_port(settings: RunnerSettings) -> list[str]:
    port = [] if settings.metrics_port is None else ["--metrics-port", str(settings.metrics_port)]
    return port + (["--remote-write", settings.remote_write] if settings.remote_write else [])


def _results_args(run: RunObject, settings: RunnerSettings) -> list[str]:
    # The runner adds NAMESPACE/LOADTEST/RUN (its --run-id) below the prefix; the store's
    # endpoint and region come with the spec in its ConfigMap (configmap.runner_loadtest),
    # credentials from its env/envFrom only.
    store = results_store_of(run, settings.results)
    return [] if store is None else ["--results", store_uri(store)]


def _pushgateway_default(run: RunObject, settings: RunnerSettings) -> list[str]:
    # --pushgateway overrides the spec's, so it is given only where the spec names none.
    if settings.pushgateway and run.spec.metrics is None:
        return ["--pushgateway", settings.pushgateway]
    return []


def _policy_env(run: RunObject, settings: RunnerSettings) -> list[dict[str, Any]]:
    """The runner's policy: target rules and a request ceiling (``herd.api.policy``).

    Last in the list, and a spec may not name the variable: of two entries of one name the
    later wins, and ``env`` wins over ``envFrom``, so no Secret key can replace it."""
    policy = runner_policy(run.spec, settings.policy, request_ceiling(run.spec, settings.caps))
    return [] if policy.is_empty else [{"name": RUNNER_POLICY_ENV, "value": policy.encode()}]


def _container_env(runner: RunnerSpec) -> list[dict[str, Any]]:
    fixed: list[dict[str, Any]] = [
        {"name": "HOME", "value": TMP_DIR},  # tools that write to ~ get the writable /tmp
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        # herd run --processes auto: one process per CPU the pod requests (rounded up to
        # whole CPUs), or per its CPU limit when lower; runners have no limit by default.
        {
            "name": CPU_REQUEST_ENV,
            "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1"}},
        },
    ]
    return fixed + [var.model_dump(by_alias=True, exclude_none=True) for var in runner.env]


def _container(
    run: RunObject, settings: RunnerSettings, runner: RunnerSpec, uid: int, release: datetime | None
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": runner.image or settings.default_image,
        # args, not command: the image's entrypoint (tini, PID 1) forwards SIGTERM to herd,
        # which drains and accounts for every request before the pod goes.
        "args": runner_args(run, settings, release),
        "env": _container_env(runner) + _policy_env(run, settings),
        "resources": runner.resources.model_dump(by_alias=True),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationMessagePath": TERMINATION_MESSAGE_PATH,
        # A runner that fails before it has a summary to write (a target the policy refuses,
        # an invalid spec) leaves its one-line reason as the tail of its log: the run's
        # status then says why. A summary written to the file always wins.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "loadtest", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": TMP_DIR},
        ],
    }
    if settings.metrics_port is not None:
        container["ports"] = [
            {"name": METRICS_PORT_NAME, "containerPort": settings.metrics_port, "protocol": "TCP"}
        ]
    if runner.env_from:
        container["envFrom"] = [
            source.model_dump(by_alias=True, exclude_none=True) for source in runner.env_from
        ]
    if runner.image_pull_policy:
        container["imagePullPolicy"] = runner.image_pull_policy
    return container


def _pod_spec(run: RunObject, settings: RunnerSettings, release: datetime | None) -> dict[str, Any]:
    runner, uid = run.spec.runner, settings.run_as_user
    pod: dict[str, Any] = {
        "restartPolicy": "Never",  # with backoffLimitPerIndex 0: a failed runner stays failed
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,  # no service variables in the env that ${VAR} reads
        "terminationGracePeriodSeconds": math.ceil(run.spec.load.drain_timeout)
        + settings.grace_margin_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(run, settings, runner, uid, release)],
        "volumes": [
            {"name": "loadtest", "configMap": {"name": run.name}},
            {"name": "tmp", "emptyDir": {"sizeLimit": settings.tmp_size_limit}},
        ],
    }
    if runner.service_account_name:
        pod["serviceAccountName"] = runner.service_account_name
    if runner.node_selector:
        pod["nodeSelector"] = dict(runner.node_selector)
    if runner.tolerations:
        pod["tolerations"] = [
            toleration.model_dump(by_alias=True, exclude_none=True)
            for toleration in runner.tolerations
        ]
    if runner.affinity:
        pod["affinity"] = runner.affinity
    return pod


def build_runner_job(
    run: RunObject, settings: RunnerSettings = DEFAULT_SETTINGS, release: datetime | None = None
) -> dict[str, Any]:
    """The Indexed Job of ``spec.parallelism`` runners for ``run`` (touches no API), released
    at ``release`` (default: the startup allowance after the run's creation)."""
    labels = run_labels(run.loadtest_name, run.name, "runner")
    runners = run.spec.parallelism
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": run.name,
            "namespace": run.namespace,
            "labels": labels,
            "ownerReferences": [run_owner_reference(run.name, run.uid)],
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": runners,
            "parallelism": runners,
            # No backoffLimit: with a per-index limit it would count the failures of
            # all indexes together and end the Job at the first one.
            "backoffLimitPerIndex": BACKOFF_LIMIT_PER_INDEX,
            "maxFailedIndexes": max_failed_indexes(runners),
            "activeDeadlineSeconds": active_deadline_seconds(run, settings),
            "template": {
                "metadata": {"labels": labels},
                "spec": _pod_spec(run, settings, release),
            },
        },
    }
