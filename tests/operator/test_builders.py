"""Runner ConfigMap and Job: whole objects compared in table tests (as k6-operator's
runner_test.go does), every manifest validated for Kubernetes 1.30 in strict mode."""

from __future__ import annotations

import copy
from datetime import timedelta

import kubernetes_validate
import pytest
import yaml

from herd import __version__
from herd.api.loading import parse_loadtest
from herd_operator.configmap import build_runner_configmap, runner_loadtest
from herd_operator.job import BACKOFF_LIMIT_PER_INDEX, build_runner_job, release_time
from herd_operator.naming import bounded_name
from herd_operator.objects import read_run
from herd_operator.settings import RunnerSettings
from tests.operator.fixtures import CREATED, FULL_SPEC, MINIMAL_SPEC, run_body

KUBERNETES = "1.30"
RELEASE = f"{(CREATED + timedelta(seconds=60)).timestamp():.3f}"

LABELS = {
    "app.kubernetes.io/name": "herd",
    "app.kubernetes.io/instance": "sdxl-burst",
    "app.kubernetes.io/component": "runner",
    "app.kubernetes.io/part-of": "herd",
    "app.kubernetes.io/managed-by": "herd-operator",
    "app.kubernetes.io/version": __version__,
    "herd.dev/run": "sdxl-burst-g1",
    "herd.dev/loadtest": "sdxl-burst",
}
OWNER = [
    {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTestRun",
        "name": "sdxl-burst-g1",
        "uid": "sdxl-burst-g1-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }
]
METRICS_PORT = {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}
HARDENED_CONTAINER = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def command(runners: int) -> list[str]:
    return [
        "herd", "run", "/etc/herd/loadtest.yaml",
        "--runner-index", "$(JOB_COMPLETION_INDEX)",
        "--runners", str(runners),
        "--release-at", RELEASE,
        "--run-id", "sdxl-burst-g1",
        "--report", "/tmp/herd/report.json",
        "--summary", "/dev/termination-log",
        "--quiet",
        "--no-verdict-exit",
        "--metrics-port", "9090",
    ]  # fmt: skip


def expected_job(runners: int, deadline: int, container: dict, pod: dict, grace: int = 60) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "sdxl-burst-g1",
            "namespace": "perf",
            "labels": LABELS,
            "ownerReferences": OWNER,
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": runners,
            "parallelism": runners,
            "backoffLimitPerIndex": 0,
            "maxFailedIndexes": runners,
            "activeDeadlineSeconds": deadline,
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": grace,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "fsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "runner",
                            "args": command(runners),
                            "securityContext": HARDENED_CONTAINER,
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "ports": [METRICS_PORT],
                            "volumeMounts": [
                                {"name": "loadtest", "mountPath": "/etc/herd", "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                            **container,
                        }
                    ],
                    "volumes": [
                        {"name": "loadtest", "configMap": {"name": "sdxl-burst-g1"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    ],
                    **pod,
                },
            },
        },
    }


BASE_ENV = [
    {"name": "HOME", "value": "/tmp"},
    {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    {
        "name": "HERD_CPU_REQUEST",
        "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1"}},
    },
]

JOB_CASES = {
    "minimal": (
        MINIMAL_SPEC,
        expected_job(
            runners=3,
            deadline=60 + 900 + 120,  # startup allowance + maxDuration (15m default) + margin
            container={
                "image": f"ghcr.io/herd-dev/herd:{__version__}",
                "env": BASE_ENV,
                "resources": {
                    "requests": {"cpu": "1", "memory": "512Mi"},
                    "limits": {"memory": "1Gi"},
                },
            },
            pod={},
        ),
    ),
    "full": (
        FULL_SPEC,
        expected_job(
            runners=3,
            deadline=60 + 600 + 120,
            container={
                "image": "registry.example/herd:1.2.3",
                "imagePullPolicy": "IfNotPresent",
                "env": [
                    *BASE_ENV,
                    {
                        "name": "RUNPOD_API_KEY",
                        "valueFrom": {"secretKeyRef": {"name": "runpod", "key": "api-key"}},
                    },
                    {"name": "AWS_REGION", "value": "eu-ro-1"},
                ],
                "envFrom": [{"secretRef": {"name": "s3-credentials"}}],
                "resources": {
                    "requests": {"cpu": "2", "memory": "1Gi"},
                    "limits": {"memory": "2Gi"},
                },
            },
            pod={
                "serviceAccountName": "herd-runner",
                "nodeSelector": {"pool": "load"},
                "tolerations": [{"key": "load", "operator": "Exists", "effect": "NoSchedule"}],
                "affinity": FULL_SPEC["runner"]["affinity"],
            },
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(JOB_CASES))
def test_runner_job_whole_object(case):
    spec, expected = JOB_CASES[case]
    assert build_runner_job(read_run(run_body(spec))) == expected


@pytest.mark.parametrize("case", sorted(JOB_CASES))
def test_runner_manifests_are_valid_kubernetes(case):
    run = read_run(run_body(JOB_CASES[case][0]))
    for manifest in (build_runner_job(run), build_runner_configmap(run)):
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


def test_validation_catches_a_broken_manifest():
    job = build_runner_job(read_run(run_body()))
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = "no"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES, strict=True)


def test_one_runner_is_still_an_indexed_job():
    job = build_runner_job(read_run(run_body({**MINIMAL_SPEC, "parallelism": 1})))
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 1
    assert "--runners" in (cmd := job["spec"]["template"]["spec"]["containers"][0]["args"])
    assert cmd[cmd.index("--runners") + 1] == "1"


def test_never_retried_and_one_lost_runner_does_not_end_the_others():
    assert BACKOFF_LIMIT_PER_INDEX == 0
    spec = build_runner_job(read_run(run_body()))["spec"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    # A Job-wide backoffLimit would fail the Job, and stop every runner, at the first loss.
    assert "backoffLimit" not in spec
    assert spec["maxFailedIndexes"] == spec["completions"] == 3


def test_settings_shape_the_job():
    settings = RunnerSettings(
        default_image="mirror.example/herd:dev",
        startup_allowance_seconds=300,
        deadline_margin_seconds=30,
        run_as_user=1000,
        tmp_size_limit="1Gi",
        grace_margin_seconds=5,
    )
    run = read_run(run_body())
    job = build_runner_job(run, settings)
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "mirror.example/herd:dev"
    assert job["spec"]["activeDeadlineSeconds"] == 300 + 900 + 30
    assert pod["securityContext"]["runAsUser"] == container["securityContext"]["runAsUser"] == 1000
    assert pod["volumes"][1]["emptyDir"] == {"sizeLimit": "1Gi"}
    assert pod["terminationGracePeriodSeconds"] == 30 + 5
    release = container["args"][container["args"].index("--release-at") + 1]
    assert (
        float(release)
        == release_time(run, settings).timestamp()
        == (CREATED + timedelta(seconds=300)).timestamp()
    )


def test_runners_serve_metrics_on_the_named_port_the_settings_give():
    job = build_runner_job(read_run(run_body()), RunnerSettings(metrics_port=9300))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9300, "protocol": "TCP"}]
    assert container["args"][container["args"].index("--metrics-port") + 1] == "9300"
    # No port in the settings: no /metrics and no container port.
    job = build_runner_job(read_run(run_body()), RunnerSettings(metrics_port=None))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert "ports" not in container and "--metrics-port" not in container["args"]
    assert "--remote-write" not in container["args"]


def test_runners_remote_write_where_the_settings_say():
    url = "http://prometheus.monitoring.svc:9090/api/v1/write"
    job = build_runner_job(read_run(run_body()), RunnerSettings(remote_write=url))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][container["args"].index("--remote-write") + 1] == url


@pytest.mark.parametrize(
    "bad", [{"run_as_user": 0}, {"startup_allowance_seconds": -1}, {"metrics_port": 0}]
)
def test_settings_refuse_unsafe_values(bad):
    with pytest.raises(ValueError):
        RunnerSettings(**bad)


def test_secrets_never_appear_in_the_manifests():
    spec = copy.deepcopy(FULL_SPEC)
    run = read_run(run_body(spec))
    text = yaml.safe_dump([build_runner_job(run), build_runner_configmap(run)])
    assert "${RUNPOD_API_KEY}" in text  # the reference travels, expanded only in the runner
    assert "secretKeyRef" in text and "s3-credentials" in text


def test_configmap_whole_object():
    run = read_run(run_body())
    configmap = build_runner_configmap(run)
    document = yaml.safe_load(configmap["data"]["loadtest.yaml"])
    assert configmap == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "sdxl-burst-g1",
            "namespace": "perf",
            "labels": LABELS,
            "ownerReferences": OWNER,
        },
        "immutable": True,
        "data": {"loadtest.yaml": yaml.safe_dump(runner_loadtest(run), sort_keys=False)},
    }
    assert document["metadata"] == {"name": "sdxl-burst", "namespace": "perf"}


@pytest.mark.parametrize("spec", [MINIMAL_SPEC, FULL_SPEC], ids=["minimal", "full"])
def test_runner_file_is_the_snapshot_without_thresholds(spec):
    run = read_run(run_body(spec))
    document = yaml.safe_load(build_runner_configmap(run)["data"]["loadtest.yaml"])
    runner_spec = parse_loadtest(document).spec  # what `herd run` will read
    assert runner_spec.thresholds == []
    assert runner_spec.model_copy(update={"thresholds": run.spec.thresholds}) == run.spec


@pytest.mark.parametrize(
    ("base", "suffix", "expected"),
    [
        ("sdxl-burst", "g1", "sdxl-burst-g1"),
        ("a" * 60, "28500000", f"{'a' * 37}-{'?'}-28500000"),
    ],
)
def test_run_names_fit_hostnames(base, suffix, expected):
    name = bounded_name(base, suffix)
    assert len(name) <= 52
    if "?" in expected:
        assert name.startswith("a" * 37) and name.endswith("-28500000")
        assert bounded_name("a" * 61, suffix) != name  # cut names stay distinct
    else:
        assert name == expected
