"""Live metrics of cluster runs: the runners' metrics port, their PodMonitor, and the chart's
Pushgateway that runners push their final numbers to, as the operator and runners use them."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from herd.cli.operator import operator
from herd_operator.job import METRICS_PORT_NAME, build_runner_job
from herd_operator.objects import read_run
from herd_operator.settings import RunnerSettings
from tests.chart.rendering import (
    NAMESPACE,
    VALUE_SETS,
    env_of,
    merged,
    of_component,
    of_kind,
    operator_container,
    render,
)
from tests.operator.fixtures import run_body

MONITORED = {
    "runners": {"metrics": {"podMonitor": {"enabled": True}}},
    "pushgateway": {"enabled": True, "serviceMonitor": {"enabled": True}},
}


def runner_job_of(objects: list[dict]) -> dict:
    """The runner Job that the operator these values configure would create: its args and
    environment parsed by the real ``herd operator`` command line (no run)."""
    container = operator_container(objects)
    env = {k: v for k, v in env_of(container).items() if isinstance(v, str)}
    with mock.patch.dict(os.environ, env):
        with operator.make_context("herd operator", list(container["args"][2:])) as context:
            params = context.params
    settings = RunnerSettings(
        metrics_port=params["runner_metrics_port"] or None,
        pushgateway=params["runner_pushgateway"] or None,
        remote_write=params["runner_remote_write"] or None,
    )
    return build_runner_job(read_run(run_body()), settings)


def runner_container(job: dict) -> dict:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def runner_pod_monitor(objects: list[dict]) -> dict:
    (monitor,) = [
        m for m in of_kind(objects, "PodMonitor") if m["metadata"]["name"].endswith("-runners")
    ]
    return monitor


@pytest.mark.parametrize("port", [9090, 9400])
def test_the_pod_monitor_scrapes_the_port_the_operator_gives_runner_pods(port):
    objects = render(merged(MONITORED, {"runners": {"metrics": {"port": port}}}))
    job = runner_job_of(objects)
    container = runner_container(job)
    assert container["ports"] == [
        {"name": METRICS_PORT_NAME, "containerPort": port, "protocol": "TCP"}
    ]
    assert container["args"][container["args"].index("--metrics-port") + 1] == str(port)

    monitor = runner_pod_monitor(objects)
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == METRICS_PORT_NAME and endpoint["path"] == "/metrics"
    # The runner pods' own labels, and none that the operator's pod also has.
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    operator_pod = of_component(objects, "Deployment", "operator")[0]["spec"]["template"]
    assert not selector.items() <= operator_pod["metadata"]["labels"].items()
    # The pod's namespace is the series' namespace; herd's own copy is dropped.
    assert endpoint["honorLabels"] is False
    assert {"action": "labeldrop", "regex": "exported_namespace"} in endpoint["metricRelabelings"]


def test_the_pod_monitor_watches_the_namespaces_runners_run_in():
    cluster = runner_pod_monitor(render(MONITORED))
    assert cluster["metadata"]["namespace"] == NAMESPACE
    assert cluster["spec"]["namespaceSelector"] == {"any": True}
    namespaced = merged(MONITORED, {"watch": {"scope": "namespaces", "namespaces": ["a", "b"]}})
    monitor = runner_pod_monitor(render(namespaced))
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["a", "b"]}


def test_runners_push_to_the_charts_pushgateway_when_it_is_deployed():
    objects = render(MONITORED)
    (service,) = of_component(objects, "Service", "pushgateway")
    (deployment,) = of_component(objects, "Deployment", "pushgateway")
    (port,) = service["spec"]["ports"]
    url = f"http://{service['metadata']['name']}.{NAMESPACE}.svc:{port['port']}"
    args = runner_container(runner_job_of(objects))["args"]
    assert args[args.index("--pushgateway") + 1] == url
    # The Service reaches the Pushgateway's pod on the port it listens on.
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    (listening,) = container["ports"]
    assert listening["name"] == port["targetPort"]
    assert f"--web.listen-address=:{listening['containerPort']}" in container["args"]
    # Prometheus keeps the pushed run labels: honorLabels on the Service's named port.
    (monitor,) = of_component(objects, "ServiceMonitor", "pushgateway")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {**endpoint, "port": port["name"], "honorLabels": True}
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    # A Pushgateway named in the values wins over the chart's own.
    elsewhere = "http://pushgateway.monitoring.svc:9091"
    objects = render(merged(MONITORED, {"runners": {"pushgateway": elsewhere}}))
    args = runner_container(runner_job_of(objects))["args"]
    assert args[args.index("--pushgateway") + 1] == elsewhere


def test_the_pushgateway_keeps_its_persistence_file_on_a_claim_or_an_emptydir():
    objects = render(MONITORED)
    (deployment,) = of_component(objects, "Deployment", "pushgateway")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (mount,) = container["volumeMounts"]
    assert f"--persistence.file={mount['mountPath']}/pushgateway.data" in container["args"]
    (volume,) = pod["volumes"]
    (claim,) = of_component(objects, "PersistentVolumeClaim", "pushgateway")
    assert volume == {
        "name": mount["name"],
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"

    objects = render(merged(MONITORED, {"pushgateway": {"persistence": {"enabled": False}}}))
    assert not of_kind(objects, "PersistentVolumeClaim")
    (deployment,) = of_component(objects, "Deployment", "pushgateway")
    (volume,) = deployment["spec"]["template"]["spec"]["volumes"]
    assert volume["emptyDir"] == {"sizeLimit": "1Gi"}


@pytest.mark.parametrize("name", ["all-features", "kube-prometheus-stack"])
def test_the_pushgateway_is_hardened(name):
    (deployment,) = of_component(render(VALUE_SETS[name]), "Deployment", "pushgateway")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] > 0
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["limits"]["memory"]


def test_without_a_metrics_port_runners_serve_nothing_and_nothing_scrapes_them():
    values = merged(
        MONITORED, {"runners": {"metrics": {"port": None}, "networkPolicy": {"enabled": True}}}
    )
    objects = render(values)
    container = runner_container(runner_job_of(objects))
    assert "ports" not in container and "--metrics-port" not in container["args"]
    assert not [
        m for m in of_kind(objects, "PodMonitor") if m["metadata"]["name"].endswith("-runners")
    ]
    (policy,) = of_kind(objects, "NetworkPolicy")
    assert policy["spec"]["ingress"] == []


def test_the_kube_prometheus_stack_values_turn_on_every_part_the_dashboard_needs():
    objects = render(VALUE_SETS["kube-prometheus-stack"])
    monitors = of_kind(objects, "PodMonitor") + of_kind(objects, "ServiceMonitor")
    names = {m["metadata"]["name"] for m in monitors}
    assert {"herd-runners", "herd-pushgateway", "herd"} <= names
    # kube-prometheus-stack's Prometheus selects monitors by its release label.
    assert all(m["metadata"]["labels"]["release"] == "kube-prometheus-stack" for m in monitors)
    assert of_component(objects, "Deployment", "pushgateway")
    assert [c for c in of_kind(objects, "ConfigMap") if "herd.json" in c["data"]]


def test_runners_remote_write_to_the_url_the_values_give():
    url = "http://prometheus.monitoring.svc:9090/api/v1/write"
    objects = render({"runners": {"remoteWrite": url}})
    args = runner_container(runner_job_of(objects))["args"]
    assert args[args.index("--remote-write") + 1] == url
    assert "--remote-write" not in runner_container(runner_job_of(render()))["args"]
