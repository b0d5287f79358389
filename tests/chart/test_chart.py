"""charts/herd rendered and linted by the real Helm library: every object valid for Kubernetes
1.30, least-privilege RBAC, a hardened operator pod, and CRDs identical to crds/."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from herd.api.crd import crd_documents
from herd_operator.caps import Caps, caps_from_environment
from herd_operator.job import build_runner_job
from herd_operator.objects import read_run
from herd_operator.policy import DEFAULT_DENIED_TARGETS, DEFAULT_POLICY, policy_from_environment
from tests.chart.monitoring import validate_monitoring_object
from tests.chart.rendering import (
    CHART,
    KUBERNETES,
    NAMESPACE,
    ROOT,
    VALUE_SETS,
    chart_crds,
    env_of,
    helm,
    merged,
    notes,
    of_component,
    of_kind,
    operator_container,
    operator_deployment,
    render,
)
from tests.operator.fixtures import run_body

VALUE_SET_NAMES = sorted(VALUE_SETS)
MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


@pytest.fixture(scope="module", params=VALUE_SET_NAMES)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(VALUE_SETS[request.param])


@pytest.mark.parametrize("name", VALUE_SET_NAMES)
def test_helm_lint_is_clean(name):
    report = helm.lint(CHART, VALUE_SETS[name], strict=True, kube_version=f"v{KUBERNETES}.0")
    # Severity 1 is informational ("icon is recommended"); warnings and errors fail.
    findings = [message for message in report["messages"] if message["severity"] >= 2]
    assert not findings and not report["errors"], findings or report["errors"]


def test_every_rendered_object_is_valid_for_kubernetes_strict(rendered):
    name, objects = rendered
    assert objects, f"{name}: nothing rendered"
    for obj in objects:
        where = f"{name}: {obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in MONITORING_KINDS:  # prometheus-operator CRDs: not in Kubernetes' schemas
            validate_monitoring_object(obj)
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{where}: {error.message} at {list(error.absolute_path)}")


def test_object_names_are_unique_per_namespace(rendered):
    name, objects = rendered
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys)), f"{name}: duplicate objects"


def test_the_chart_renders_what_each_mode_promises():
    kinds = {name: sorted({o["kind"] for o in render(VALUE_SETS[name])}) for name in VALUE_SETS}
    assert kinds["default"] == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "ServiceAccount",
    ]
    assert kinds["namespaced"] == ["Deployment", "Role", "RoleBinding", "ServiceAccount"]
    optional = {
        "ConfigMap",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PodMonitor",
        "PrometheusRule",
        "Service",
        "ServiceMonitor",
    }
    assert set(kinds["all-features"]) == {*kinds["default"], *optional}
    assert set(kinds["all-features-namespaced"]) == {*kinds["namespaced"], *optional}


# --- RBAC -------------------------------------------------------------------------------------

# What herd_operator.kube and kopf call (herd_operator.handlers): a change here is deliberate.
EXPECTED_NAMESPACED_RULES = {
    ("herd.dev", "loadtests"): {"get", "list", "watch", "patch"},
    ("herd.dev", "loadtestruns"): {"get", "list", "watch", "create", "patch", "delete"},
    ("herd.dev", "loadtests/status"): {"patch"},
    ("herd.dev", "loadtestruns/status"): {"patch"},
    ("herd.dev", "loadtests/finalizers"): {"update"},
    ("herd.dev", "loadtestruns/finalizers"): {"update"},
    ("batch", "jobs"): {"list", "watch", "create", "patch", "delete"},
    ("", "pods"): {"list", "watch"},
    ("", "configmaps"): {"create", "delete"},
    ("", "events"): {"create"},
}
KOPF_CLUSTER_RULES = {("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"}}


def granted(role: dict) -> dict[tuple[str, str], set[str]]:
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


def roles(objects: list[dict]) -> list[dict]:
    return of_kind(objects, "Role") + of_kind(objects, "ClusterRole")


def test_no_rbac_rule_has_a_wildcard_or_names_secrets(rendered):
    name, objects = rendered
    assert roles(objects), f"{name}: no RBAC rendered"
    for role in roles(objects):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(field, []), f"{name}: wildcard in {field}: {rule}"
            assert "nonResourceURLs" not in rule
            assert "secrets" not in rule["resources"], "runners read Secrets, never the operator"
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])


def test_cluster_mode_grants_exactly_the_operators_needs_cluster_wide():
    objects = render(VALUE_SETS["default"])
    (cluster_role,) = of_kind(objects, "ClusterRole")
    assert granted(cluster_role) == EXPECTED_NAMESPACED_RULES | KOPF_CLUSTER_RULES
    (binding,) = of_kind(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": cluster_role["metadata"]["name"],
    }
    (account,) = of_kind(objects, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    assert "--all-namespaces" in operator_container(objects)["args"]


def test_namespaced_mode_grants_nothing_cluster_wide():
    objects = render(VALUE_SETS["namespaced"])
    assert not of_kind(objects, "ClusterRole") and not of_kind(objects, "ClusterRoleBinding")
    watched = VALUE_SETS["namespaced"]["watch"]["namespaces"]
    role_namespaces = sorted(role["metadata"]["namespace"] for role in of_kind(objects, "Role"))
    assert role_namespaces == sorted(watched)
    for role in of_kind(objects, "Role"):
        assert granted(role) == EXPECTED_NAMESPACED_RULES
    for binding in of_kind(objects, "RoleBinding"):
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"][0]["namespace"] == NAMESPACE  # the operator's own namespace
    args = operator_container(objects)["args"]
    assert "--all-namespaces" not in args
    assert [arg for arg in args if arg.startswith("--namespace=")] == [
        f"--namespace={namespace}" for namespace in watched
    ]


def test_namespaced_mode_defaults_to_the_release_namespace():
    objects = render({"watch": {"scope": "namespaces"}})
    assert [role["metadata"]["namespace"] for role in of_kind(objects, "Role")] == [NAMESPACE]
    assert f"--namespace={NAMESPACE}" in operator_container(objects)["args"]


def test_rbac_create_false_renders_no_rbac():
    objects = render({"rbac": {"create": False}})
    assert not roles(objects)
    assert not of_kind(objects, "RoleBinding") and not of_kind(objects, "ClusterRoleBinding")


# --- the operator pod ------------------------------------------------------------------------


def test_every_container_is_hardened(rendered):
    name, objects = rendered
    pod = operator_deployment(objects)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["enableServiceLinks"] is False
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert isinstance(context["runAsUser"], int) and context["runAsUser"] > 0
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["privileged"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        # The only writable path, as the image expects (HOME=/tmp).
        assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    (tmp,) = pod["volumes"]
    assert tmp["emptyDir"]["sizeLimit"]


def test_probes_target_the_operators_health_endpoints(rendered):
    _, objects = rendered
    container = operator_container(objects)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    # kopf's liveness endpoint, and /readyz beside /metrics (herd_operator.health).
    assert f"--liveness=http://0.0.0.0:{ports['health']}/healthz" in container["args"]
    assert f"--metrics-port={ports['metrics']}" in container["args"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


def test_args_keep_the_images_tini_entrypoint(rendered):
    _, objects = rendered
    container = operator_container(objects)
    assert "command" not in container, "a command would replace tini as PID 1"
    assert container["args"][:2] == ["herd", "operator"]


@pytest.mark.parametrize(
    ("level", "flags"), [("warning", []), ("info", ["-v"]), ("debug", ["-vv"])]
)
def test_log_level_maps_to_herd_operator_verbosity(level, flags):
    args = operator_container(render({"operator": {"logLevel": level}}))["args"]
    assert [arg for arg in args if arg in ("-v", "-vv")] == flags


def test_the_rendered_args_are_accepted_by_herd_operator(rendered):
    """Parse the container's args with the real `herd operator` command line (no run)."""
    cli = pytest.importorskip("herd.cli.operator", reason="`herd operator` is not in this tree")
    operator = cli.operator
    _, objects = rendered
    args = operator_container(objects)["args"]
    assert args[:2] == ["herd", "operator"]
    with operator.make_context("herd operator", list(args[2:])) as context:
        params = context.params
    namespaces = [arg.split("=", 1)[1] for arg in args if arg.startswith("--namespace=")]
    assert params["all_namespaces"] is (not namespaces)
    assert list(params["namespaces"]) == namespaces


def test_one_operator_at_a_time():
    deployment = operator_deployment(render())
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({}, "ghcr.io/herd-dev/herd:{app_version}"),
        (
            {"repository": "registry.example.com/herd", "tag": "1.2.3"},
            "registry.example.com/herd:1.2.3",
        ),
        (
            {"repository": "r.example/herd", "tag": "1.2.3", "digest": "sha256:" + "a" * 64},
            "r.example/herd@sha256:" + "a" * 64,
        ),
    ],
    ids=["default", "tag", "digest-wins"],
)
def test_the_operator_and_its_runners_use_the_values_image(image, expected):
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    expected = expected.format(app_version=app_version)
    container = operator_container(render({"image": image}))
    assert container["image"] == expected
    assert f"--runner-image={expected}" in container["args"]
    runner_image = "registry.example.com/runner:9"
    container = operator_container(render({"image": image, "runners": {"image": runner_image}}))
    assert container["image"] == expected
    assert f"--runner-image={runner_image}" in container["args"]


def test_selector_labels_are_a_stable_subset_of_the_pod_labels(rendered):
    _, objects = rendered
    deployment = operator_deployment(objects)
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert set(selector) == {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/component",
    }
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"].startswith("herd-")


def test_long_release_names_are_truncated_to_63_characters():
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render({}, name="r" * 53, namespace=NAMESPACE, is_install=True)
    for path, text in manifests.items():
        if path.endswith("NOTES.txt"):
            continue
        for obj in yaml.safe_load_all(text):
            if isinstance(obj, dict) and "metadata" in obj:
                assert len(obj["metadata"]["name"]) <= 63
                assert all(len(value) <= 63 for value in obj["metadata"]["labels"].values())


# --- optional features ------------------------------------------------------------------------


def test_optional_features_are_off_by_default():
    kinds = {obj["kind"] for obj in render()}
    assert not kinds & {"NetworkPolicy", "ConfigMap", "Service", *MONITORING_KINDS}
    assert "HERD_RUNNER_PUSHGATEWAY" not in env_of(operator_container(render()))


def test_prometheus_rule_carries_the_alert_rules_of_alerts():
    objects = render(VALUE_SETS["all-features"])
    (rule,) = of_kind(objects, "PrometheusRule")
    source = yaml.safe_load((ROOT / "alerts" / "herd.rules.yaml").read_text())
    assert rule["spec"]["groups"] == source["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_dashboard_configmap_carries_the_dashboards_for_the_grafana_sidecar():
    objects = render(VALUE_SETS["all-features"])
    (config_map,) = [
        o for o in of_kind(objects, "ConfigMap") if o["metadata"]["name"] != "argocd-cm"
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "monitoring"
    sources = sorted((ROOT / "dashboards").glob("*.json"))
    assert sorted(config_map["data"]) == [path.name for path in sources]
    for path in sources:
        assert json.loads(config_map["data"][path.name]) == json.loads(path.read_text())


def test_monitors_scrape_the_operators_metrics_port():
    objects = render(VALUE_SETS["all-features"])
    container = operator_container(objects)
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "metrics")
    assert f"--metrics-port={port}" in container["args"]
    (service,) = of_component(objects, "Service", "operator")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    selector = operator_deployment(objects)["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == selector
    (service_monitor,) = of_component(objects, "ServiceMonitor", "operator")
    assert service_monitor["spec"]["endpoints"][0]["port"] == "metrics"
    (pod_monitor,) = [m for m in of_kind(objects, "PodMonitor") if m["metadata"]["name"] == "herd"]
    assert pod_monitor["spec"]["selector"]["matchLabels"] == selector
    # The operator's series carry the LoadTests' namespaces: not replaced by the operator's.
    endpoints = service_monitor["spec"]["endpoints"] + pod_monitor["spec"]["podMetricsEndpoints"]
    assert [endpoint["honorLabels"] for endpoint in endpoints] == [True, True]


def test_runner_network_policy_selects_the_operators_runner_pods_and_no_operator():
    objects = render(VALUE_SETS["all-features-namespaced"])
    policies = of_kind(objects, "NetworkPolicy")
    assert sorted(p["metadata"]["namespace"] for p in policies) == ["load-tests", "staging"]
    job = build_runner_job(read_run(run_body()))
    runner_labels = job["spec"]["template"]["metadata"]["labels"]
    operator_labels = operator_deployment(objects)["spec"]["template"]["metadata"]["labels"]
    for policy in policies:
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert selector.items() <= runner_labels.items()
        assert not selector.items() <= operator_labels.items()
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        # Runners serve nothing but their metrics port (all-features: 9400).
        assert policy["spec"]["ingress"] == [
            {"ports": [{"port": 9400, "protocol": "TCP"}], "from": [{"namespaceSelector": {}}]}
        ]
        dns, *rest = policy["spec"]["egress"]
        assert {port["port"] for port in dns["ports"]} == {53}
        peers = [peer for rule in rest for peer in rule["to"]]
        assert {"namespaceSelector": {}} in peers  # in-cluster targets and a Pushgateway
        blocked = [peer["ipBlock"]["except"] for peer in peers if "ipBlock" in peer]
        assert ["169.254.169.254/32"] in blocked, "the cloud metadata service must stay blocked"


def test_cluster_mode_network_policy_goes_to_the_release_and_listed_namespaces():
    policies = of_kind(render(VALUE_SETS["all-features"]), "NetworkPolicy")
    assert sorted(p["metadata"]["namespace"] for p in policies) == ["herd-system", "load-tests"]


def test_runner_defaults_and_caps_reach_the_operator():
    values = merged(VALUE_SETS["all-features"], {"limits": {"maxRate": 12.5}})
    env = env_of(operator_container(render(values)))
    assert env["HERD_RUNNER_PUSHGATEWAY"] == "http://prometheus-pushgateway.monitoring.svc:9091"
    assert {key: env[key] for key in env if key.startswith("HERD_MAX_")} == {
        "HERD_MAX_REQUESTS": "100000",
        "HERD_MAX_RATE": "12.5",
        "HERD_MAX_CONCURRENCY": "1000",
        "HERD_MAX_DURATION": "1h",
        "HERD_MAX_PARALLELISM": "10",
        "HERD_MAX_ACTIVE_RUNS_PER_NAMESPACE": "5",
    }
    # ... in the form herd operator reads them
    assert caps_from_environment(env) == Caps(
        max_requests=100_000,
        max_rate=12.5,
        max_concurrency=1000,
        max_duration=3600.0,
        max_parallelism=10,
        max_active_runs_per_namespace=5,
    )
    assert env["HTTPS_PROXY"] == "http://proxy.example.com:3128"  # extraEnv


def test_the_default_policy_reaches_the_operator_as_the_code_defines_it():
    env = env_of(operator_container(render()))
    assert policy_from_environment(env) == DEFAULT_POLICY
    assert DEFAULT_POLICY.targets.deny == list(DEFAULT_DENIED_TARGETS)
    assert env["HERD_MAX_ACTIVE_RUNS_PER_NAMESPACE"] == "3"


def test_policy_values_reach_the_operator_in_the_form_it_reads():
    env = env_of(operator_container(render(VALUE_SETS["all-features"])))
    policy = policy_from_environment(env)
    assert policy.runner_images == ["registry.example.com/platform/herd-runner:*"]
    fields = policy.runner_fields
    assert fields.service_account_name and fields.tolerations and fields.env_from
    assert policy.targets.allow == ["api.runpod.ai", "10.0.0.0/8"]
    assert policy.targets.deny == list(DEFAULT_DENIED_TARGETS)  # defaults kept
    # no cap on active runs: no variable, so herd operator sets none
    unset = render({"limits": {"maxActiveRunsPerNamespace": None}})
    assert "HERD_MAX_ACTIVE_RUNS_PER_NAMESPACE" not in env_of(operator_container(unset))


def test_notes_name_the_crd_upgrade_step():
    assert "kubectl apply --server-side -f crds/" in notes()


# --- CRDs and copied files --------------------------------------------------------------------


def test_chart_crds_are_the_generated_crds():
    shipped = {crd["metadata"]["name"]: crd for crd in chart_crds()}
    generated = {doc["metadata"]["name"]: doc for doc in crd_documents().values()}
    assert shipped == generated, (
        "charts/herd/crds/ is stale: run .venv/bin/python scripts/generate.py"
    )
    for name in crd_documents():
        top, copy = ROOT / "crds" / name, CHART / "crds" / name
        assert copy.read_bytes() == top.read_bytes(), f"{copy} differs from {top}"


def test_chart_crds_are_valid_for_kubernetes_strict():
    for crd in chart_crds():
        kubernetes_validate.validate(crd, KUBERNETES, strict=True)


@pytest.mark.parametrize(
    ("source", "pattern"), [("alerts", "herd.rules.yaml"), ("dashboards", "*.json")]
)
def test_chart_copies_of_alerts_and_dashboards_are_current(source, pattern):
    originals = {path.name: path.read_bytes() for path in (ROOT / source).glob(pattern)}
    copies = {path.name: path.read_bytes() for path in (CHART / "files" / source).glob(pattern)}
    assert copies == originals, (
        f"charts/herd/files/{source} differs from {source}/: "
        "run .venv/bin/python scripts/generate.py"
    )


def test_the_results_store_default_reaches_the_operator_and_parses():
    from herd_operator.results_location import results_default_from_environment

    assert not any(
        name.startswith("HERD_RESULTS_S3_") for name in env_of(operator_container(render()))
    )
    s3 = {
        "bucket": "load-results",
        "prefix": "team-a/",
        "endpoint": "https://s3.example",
        "region": "eu-ro-1",
    }
    env = env_of(operator_container(render({"results": {"s3": s3}})))
    store = results_default_from_environment(env)
    assert store is not None
    assert (store.bucket, store.prefix, str(store.endpoint), store.region) == (
        "load-results",
        "team-a/",
        "https://s3.example",
        "eu-ro-1",
    )
