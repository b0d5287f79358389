"""values.schema.json: bad values fail at install with a message naming the value and the rule,
and the caps' ceilings are herd's own hard limits."""

from __future__ import annotations

import json

import pytest

from herd.api import spec as api
from herd.api.durations import DURATION_PATTERN
from tests.chart.rendering import CHART, VALUE_SETS, helm, load_chart, render

SCHEMA = json.loads((CHART / "values.schema.json").read_text())

# (values, the path Helm names, words of the reason): what a typo or an unsafe setting gives.
BAD_VALUES = [
    ({"limits": {"maxRate": 1_000_000}}, "/limits/maxRate", "maximum"),
    ({"limits": {"maxRequests": 0}}, "/limits/maxRequests", "minimum"),
    ({"limits": {"maxParallelism": 1000}}, "/limits/maxParallelism", "maximum"),
    ({"limits": {"maxDuration": "1 hour"}}, "/limits/maxDuration", "does not match pattern"),
    ({"limits": {"maxRequest": 10}}, "/limits", "additional properties 'maxRequest'"),
    (
        {"limits": {"maxActiveRunsPerNamespace": 0}},
        "/limits/maxActiveRunsPerNamespace",
        "minimum",
    ),
    ({"policy": {"runnerField": {}}}, "/policy", "additional properties 'runnerField'"),
    (
        {"policy": {"runnerFields": {"tolerations": "yes"}}},
        "/policy/runnerFields/tolerations",
        "got string, want boolean",
    ),
    (
        {"policy": {"runnerFields": {"hostNetwork": True}}},
        "/policy/runnerFields",
        "additional properties 'hostNetwork'",
    ),
    (
        {"policy": {"targets": {"deny": ["http://169.254.169.254/"]}}},
        "/policy/targets/deny/0",
        "does not match pattern",
    ),
    ({"policy": {"runnerImages": ["a b"]}}, "/policy/runnerImages/0", "does not match pattern"),
    ({"watch": {"scope": "everywhere"}}, "/watch/scope", "must be one of"),
    ({"watch": {"namespaces": ["Not_A_Namespace"]}}, "/watch/namespaces/0", "pattern"),
    ({"image": {"digest": "latest"}}, "/image/digest", "does not match pattern"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy", "must be one of"),
    ({"runners": {"pushgateway": "pushgateway:9091"}}, "/runners/pushgateway", "pattern"),
    ({"runners": {"remoteWrite": "prometheus:9090"}}, "/runners/remoteWrite", "pattern"),
    # Runners run as non-root: no port below 1024.
    ({"runners": {"metrics": {"port": 80}}}, "/runners/metrics/port", "minimum"),
    (
        {"runners": {"metrics": {"podMonitor": {"interval": "5"}}}},
        "/runners/metrics/podMonitor/interval",
        "pattern",
    ),
    ({"pushgateway": {"persistence": {"size": "lots"}}}, "/pushgateway/persistence/size", ""),
    ({"pushgateway": {"enable": True}}, "/pushgateway", "additional properties 'enable'"),
    (
        {"operator": {"securityContext": {"readOnlyRootFilesystem": False}}},
        "/operator/securityContext/readOnlyRootFilesystem",
        "value must be true",
    ),
    (
        {"operator": {"securityContext": {"allowPrivilegeEscalation": True}}},
        "/operator/securityContext/allowPrivilegeEscalation",
        "value must be false",
    ),
    (
        {"operator": {"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}},
        "/operator/securityContext/capabilities/drop",
        "",
    ),
    (
        {"operator": {"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}},
        "/operator/securityContext/capabilities",
        "additional properties 'add'",
    ),
    (
        {"operator": {"podSecurityContext": {"runAsUser": 0}}},
        "/operator/podSecurityContext/runAsUser",
        "minimum",
    ),
    (
        {"operator": {"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}}},
        "/operator/podSecurityContext/seccompProfile/type",
        "must be one of",
    ),
    ({"operator": {"healthPort": 80}}, "/operator/healthPort", "minimum"),
    (
        {"operator": {"resources": {"limits": {"memory": "lots"}}}},
        "/operator/resources/limits/memory",
        "does not match pattern",
    ),
    ({"metrics": {"serviceMonitor": {"enabled": "yes"}}}, "/metrics/serviceMonitor/enabled", ""),
    ({"metrics": {"serviceMonitor": {"interval": "30"}}}, "/metrics/serviceMonitor/interval", ""),
    ({"replicas": 2}, "", "additional properties 'replicas'"),
]


@pytest.mark.parametrize(
    ("values", "path", "reason"), BAD_VALUES, ids=[path or "/" for _, path, _ in BAD_VALUES]
)
def test_bad_values_fail_at_install_with_the_schemas_message(values, path, reason):
    with pytest.raises(helm.HelmValuesError) as failure:
        render(values)
    message = str(failure.value)
    assert f"at '{path}'" in message and reason in message, message


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_the_documented_value_sets_pass_the_schema(name):
    with load_chart() as chart:
        chart.validate_schema(chart.merge_values(VALUE_SETS[name]))


def test_platforms_that_assign_uids_can_drop_the_numeric_user():
    # OpenShift's restricted SCC picks the uid: a null removes runAsUser, non-root stays required.
    unset = {"runAsUser": None, "runAsGroup": None}
    objects = render(
        {"operator": {"podSecurityContext": {**unset, "fsGroup": None}, "securityContext": unset}}
    )
    (deployment,) = [obj for obj in objects if obj["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert "runAsUser" not in pod["securityContext"]
    assert pod["containers"][0]["securityContext"]["runAsNonRoot"] is True


def test_caps_cannot_exceed_herds_own_hard_limits():
    caps = SCHEMA["properties"]["limits"]["properties"]
    assert caps["maxRequests"]["maximum"] == api.MAX_REQUESTS
    assert caps["maxRate"]["maximum"] == api.MAX_RATE
    assert caps["maxConcurrency"]["maximum"] == api.MAX_CONCURRENCY
    assert caps["maxParallelism"]["maximum"] == api.MAX_PARALLELISM
    assert caps["maxDuration"]["pattern"] == DURATION_PATTERN


def test_default_caps_are_well_below_the_hard_limits():
    with load_chart() as chart:
        limits = chart.values["limits"]
    assert limits["maxRequests"] <= api.MAX_REQUESTS // 100
    assert limits["maxRate"] <= api.MAX_RATE // 100
    assert limits["maxConcurrency"] <= api.MAX_CONCURRENCY // 100
    assert limits["maxParallelism"] <= api.MAX_PARALLELISM // 10


def test_every_object_in_the_schema_rejects_unknown_keys():
    """A misspelt value must fail, not be ignored (free-form Kubernetes types excepted)."""
    free_form = {"global", "egress", "valueFrom", "affinity", "tolerations"}

    def walk(node: dict, name: str) -> list[str]:
        problems = []
        if node.get("type") == "object" and "properties" in node:
            if node.get("additionalProperties") is not False:
                problems.append(name)
        for key, child in node.get("properties", {}).items():
            if key not in free_form:
                problems += walk(child, f"{name}.{key}")
        if isinstance(node.get("items"), dict):
            problems += walk(node["items"], f"{name}[]")
        return problems

    assert walk(SCHEMA, "values") == []
