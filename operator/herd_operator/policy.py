"""The operator-wide policy: what a LoadTest author may ask of runner pods, and where
runners may connect.

Whoever may create a LoadTest in a namespace gets pods that run the image, service account,
scheduling and Secrets the spec names, and that send requests (with ``${VAR}`` expanded
from those Secrets) wherever ``target.url`` says. The cluster admin decides how much of
that a LoadTest author may have (chart values ``policy.*``, passed as ``HERD_POLICY``, one
JSON document). A spec the policy refuses is ``Invalid`` before any Job exists, with the
field and the policy value in its message, as for the caps.

Target hosts are checked here as far as a spec tells them (literal addresses, names), and
again by every runner after ``${VAR}`` and DNS (``herd.api.policy``, ``HERD_RUNNER_POLICY``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from pydantic import Field, ValidationError

from herd.api.errors import describe_validation_error
from herd.api.model import ApiModel
from herd.api.policy import (
    RUNNER_POLICY_ENV,
    HostRule,
    RunnerPolicy,
    TargetPolicy,
    as_address,
    url_host,
)
from herd.api.spec import LoadTestSpec

POLICY_ENV = "HERD_POLICY"
"""The operator's variable holding the policy (JSON, the chart's ``policy`` values)."""

DEFAULT_DENIED_TARGETS = (
    "169.254.0.0/16",  # link-local: the cloud metadata services (AWS, GCP, Azure, ...)
    "fe80::/10",  # link-local IPv6
    "fd00:ec2::254/128",  # AWS's IPv6 metadata address
    "100.100.100.200/32",  # Alibaba Cloud's metadata address
    "metadata.google.internal",
)
API_SERVER_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
"""How pods name the cluster's API server (the ``default/kubernetes`` Service)."""


class RunnerFields(ApiModel):
    """Which ``spec.runner`` fields a LoadTest may set."""

    service_account_name: bool = False
    """``spec.runner.serviceAccountName``: a service account can carry cloud credentials
    (workload identity) and RBAC the LoadTest's author does not have."""
    tolerations: bool = False
    """``spec.runner.tolerations``: taints keep pods off nodes (control plane, GPU or
    dedicated pools) for a reason."""
    node_selector: bool = True
    """``spec.runner.nodeSelector``: narrows where runners go; it grants no node a taint
    keeps them off."""
    affinity: bool = True
    """``spec.runner.affinity``: narrows where runners go, like ``nodeSelector``."""
    env_from: bool = True
    """``spec.runner.envFrom``: every key of a Secret in the LoadTest's namespace."""
    secret_key_ref: bool = True
    """``spec.runner.env[].valueFrom.secretKeyRef``: a key of a Secret in the namespace."""


class TargetRules(TargetPolicy):
    """Hosts runners may connect to (target, scaling probe, uploads endpoint, Pushgateway)."""

    deny: list[HostRule] = Field(default_factory=lambda: list(DEFAULT_DENIED_TARGETS))
    """CIDRs and DNS names runners never connect to. Default: link-local addresses, the
    cloud metadata addresses and ``metadata.google.internal``."""
    deny_api_server: bool = True
    """Also deny the cluster's API server: its address as the operator reaches it
    (``KUBERNETES_SERVICE_HOST``, the client's server) and the ``kubernetes.default.svc``
    names."""


class OperatorPolicy(ApiModel):
    """What LoadTests may ask of runners (``HERD_POLICY``); the default is the chart's."""

    runner_images: list[str] = Field(default_factory=list)
    """Images ``spec.runner.image`` may name besides the operator's default runner image:
    exact references, or prefixes ending in ``*`` (``registry.example.com/herd:*``)."""
    runner_fields: RunnerFields = Field(default_factory=RunnerFields)
    """Which scheduling and Secret fields of ``spec.runner`` a LoadTest may set."""
    targets: TargetRules = Field(default_factory=TargetRules)
    """Hosts runners may connect to."""

    def effective(self, default_image: str, api_server: Sequence[str] = ()) -> OperatorPolicy:
        """This policy as one operator enforces it: its default runner image allowed, and
        the ``api_server_rules`` of its cluster denied (if ``denyApiServer``)."""
        images = [default_image, *(i for i in self.runner_images if i != default_image)]
        targets = self.targets
        if targets.deny_api_server:
            denied = list(dict.fromkeys([*targets.deny, *api_server]))
            targets = targets.model_copy(update={"deny": denied})
        return self.model_copy(update={"runner_images": images, "targets": targets})

    def runner_targets(self) -> TargetPolicy:
        """The target rules runners enforce themselves."""
        return TargetPolicy(allow=self.targets.allow, deny=self.targets.deny)


DEFAULT_POLICY = OperatorPolicy()
"""The chart's defaults: the operator's image only, no service accounts or tolerations,
Secrets allowed, link-local and metadata addresses (and the API server) denied."""

OPEN_POLICY = OperatorPolicy(
    runner_images=["*"],
    runner_fields=RunnerFields(service_account_name=True, tolerations=True),
    targets=TargetRules(deny=[], deny_api_server=False),
)
"""Nothing refused: what the pure functions assume unless told a policy."""


def policy_from_environment(environ: Mapping[str, str]) -> OperatorPolicy:
    """The policy in ``HERD_POLICY``, or the chart's defaults when it is unset or empty.

    Raises ValueError naming the variable and the field when the document is not valid."""
    text = environ.get(POLICY_ENV, "").strip()
    if not text:
        return DEFAULT_POLICY
    try:
        return OperatorPolicy.model_validate_json(text)
    except ValidationError as error:
        problems = "; ".join(describe_validation_error(error))
        raise ValueError(f"{POLICY_ENV} is not a valid policy: {problems}") from None


def api_server_rules(server_url: str | None, environ: Mapping[str, str]) -> list[str]:
    """Deny rules for the cluster's API server: the ``kubernetes.default.svc`` names, the
    Service address pods are given (``KUBERNETES_SERVICE_HOST``), and the host the operator
    reaches it at, unless that is a loopback address (an operator outside the cluster,
    through a tunnel: runner pods cannot reach that address)."""
    rules = list(API_SERVER_NAMES)
    hosts = [environ.get("KUBERNETES_SERVICE_HOST", "").strip()]
    if server_url:
        hosts.append(urlsplit(server_url).hostname or "")
    for host in filter(None, hosts):
        address = as_address(host)
        if address is None:
            rules.append(host.lower())
        elif not address.is_loopback:
            rules.append(str(ipaddress.ip_network(address)))
    return list(dict.fromkeys(rules))


def allows_image(policy: OperatorPolicy, image: str) -> bool:
    return any(
        image.startswith(pattern[:-1]) if pattern.endswith("*") else image == pattern
        for pattern in policy.runner_images
    )


def _target_fields(spec: LoadTestSpec) -> dict[str, str]:
    """Every URL runners connect to that the spec names, by its field."""
    urls = {"target.url": spec.target.url}
    if spec.scaling_probe is not None:
        urls["scalingProbe.url"] = spec.scaling_probe.url
    if spec.uploads is not None and spec.uploads.endpoint:
        urls["uploads.endpoint"] = spec.uploads.endpoint
    if spec.metrics is not None and spec.metrics.pushgateway:
        urls["metrics.pushgateway"] = spec.metrics.pushgateway
    return urls


def policy_problems(spec: LoadTestSpec, policy: OperatorPolicy, prefix: str = "spec") -> list[str]:
    """Every way ``spec`` asks for more than ``policy`` allows, one line each, naming the
    field and the policy value."""
    runner, fields, problems = spec.runner, policy.runner_fields, []
    if runner.image is not None and not allows_image(policy, runner.image):
        problems.append(
            f"{prefix}.runner.image: {runner.image} is not an image the operator's policy "
            f"allows (policy.runnerImages: {', '.join(policy.runner_images)})"
        )
    asked = {
        "serviceAccountName": (bool(runner.service_account_name), fields.service_account_name),
        "tolerations": (bool(runner.tolerations), fields.tolerations),
        "nodeSelector": (bool(runner.node_selector), fields.node_selector),
        "affinity": (bool(runner.affinity), fields.affinity),
        "envFrom": (bool(runner.env_from), fields.env_from),
    }
    for name, (is_set, allowed) in asked.items():
        if is_set and not allowed:
            problems.append(
                f"{prefix}.runner.{name}: not allowed by the operator's policy "
                f"(policy.runnerFields.{name}: false)"
            )
    for index, var in enumerate(runner.env):
        if var.name == RUNNER_POLICY_ENV:
            problems.append(
                f"{prefix}.runner.env[{index}].name: {RUNNER_POLICY_ENV} is set by the operator"
            )
        if var.value_from is not None and not fields.secret_key_ref:
            problems.append(
                f"{prefix}.runner.env[{index}].valueFrom.secretKeyRef: not allowed by the "
                "operator's policy (policy.runnerFields.secretKeyRef: false)"
            )
    for field, url in _target_fields(spec).items():
        host = url_host(url)
        refusal = policy.targets.refuse_host(host) if host is not None else None
        if refusal is not None:
            problems.append(
                f"{prefix}.{field}: host {host} is refused by the operator's policy: "
                f"{refusal.reason} (policy.targets.{refusal.listed})"
            )
    return problems


def runner_policy(spec: LoadTestSpec, policy: OperatorPolicy, ceiling: int | None) -> RunnerPolicy:
    """What the operator hands each runner of ``spec`` (``HERD_RUNNER_POLICY``)."""
    return RunnerPolicy(targets=policy.runner_targets(), max_requests=ceiling)


def describe(policy: OperatorPolicy) -> str:
    """One line for the operator's startup log."""
    fields = policy.runner_fields
    allowed = [name for name, on in fields.model_dump(by_alias=True).items() if on]
    targets = policy.targets
    return (
        f"runner images {', '.join(policy.runner_images) or '(none)'}; "
        f"runner fields allowed: {', '.join(allowed) or 'none'}; "
        f"targets denied: {', '.join(targets.deny) or 'none'}; "
        f"allowed: {', '.join(targets.allow) or 'any other'}"
    )
