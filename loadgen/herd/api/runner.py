"""``spec.runner``: the pods that generate the load in a cluster.

Cluster only: ``herd run`` ignores it. The operator copies these fields into the
runner Job's pod template; everything security-relevant (user, capabilities,
service account token) is fixed by the operator and cannot be loosened here.
Secrets reach runners only as environment variables from Secrets named here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool, StrictInt, WithJsonSchema, model_validator

from herd.api.errors import FieldError
from herd.api.model import ApiModel

# Kubernetes resource quantity syntax (as in the API's own OpenAPI schema).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
RESERVED_ENV_NAMES = frozenset({"JOB_COMPLETION_INDEX", "HOME"})
"""Set by Kubernetes or the operator for the runner; overriding them breaks the run."""


def _quantity_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a quantity such as 500m, 2 or 1Gi")
    text = str(value)
    if not re.match(QUANTITY_PATTERN, text):
        raise ValueError(f"{text!r} is not a quantity such as 500m, 2 or 1Gi")
    return text


Quantity = Annotated[
    str,
    BeforeValidator(_quantity_text),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]


class ResourceRequirements(ApiModel):
    """CPU and memory for each runner container."""

    requests: dict[str, Quantity] = Field(default_factory=lambda: {"cpu": "1", "memory": "512Mi"})
    """Reserved for each runner (``cpu``, ``memory``, ``ephemeral-storage``). ``cpu`` also
    sets how many processes a runner uses, one core each: one per requested CPU, rounded
    up (as many as its share of the load keeps busy); allow about 100Mi of memory each."""
    limits: dict[str, Quantity] = Field(default_factory=lambda: {"memory": "1Gi"})
    """Caps for each runner. No CPU limit by default: CFS throttling would stall the
    runner's event loop and show up as latency, the client distortion herd rules out.
    A CPU limit also caps the runner's processes (one per CPU, rounded up)."""


class Toleration(ApiModel):
    """Lets runners schedule onto nodes with a matching taint."""

    key: str | None = None
    """Taint key to tolerate; empty with ``Exists`` tolerates every taint."""
    operator: Literal["Exists", "Equal"] | None = None
    """``Equal`` (the default) matches ``value``; ``Exists`` matches any value."""
    value: str | None = None
    """Taint value to match with ``Equal``."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match; empty matches every effect."""
    toleration_seconds: StrictInt | None = None
    """With ``NoExecute``: how long a runner stays on a node after the taint appears."""


class SecretKeySelector(ApiModel):
    """One key of a Secret in the LoadTest's namespace."""

    name: str
    """Name of the Secret."""
    key: str
    """Key within the Secret."""
    optional: StrictBool | None = None
    """When true, a missing Secret or key leaves the variable unset instead of failing."""


class EnvVarSource(ApiModel):
    """Where a variable's value comes from: a key of a Secret."""

    secret_key_ref: SecretKeySelector


class EnvVar(ApiModel):
    """An environment variable for the runners, for ``${VAR}`` in the spec: a plain
    ``value`` (for non-secret settings) or ``valueFrom.secretKeyRef``."""

    name: str = Field(pattern=ENV_NAME_PATTERN)
    """Variable name, as ``${NAME}`` in the spec refers to it."""
    value: str | None = None
    """A plain value (never for secrets: it would be readable in the object)."""
    value_from: EnvVarSource | None = None
    """The value from a key of a Secret."""

    @model_validator(mode="after")
    def _one_source(self) -> EnvVar:
        if (self.value is None) == (self.value_from is None):
            raise FieldError("value", "set exactly one of value or valueFrom")
        if self.name in RESERVED_ENV_NAMES:
            raise FieldError("name", f"{self.name} is set for the runner and cannot be overridden")
        return self


class SecretEnvSource(ApiModel):
    """A Secret whose keys all become environment variables."""

    name: str
    """Name of the Secret."""
    optional: StrictBool | None = None
    """When true, a missing Secret is ignored instead of failing the runners."""


class EnvFromSource(ApiModel):
    """Every key of a Secret as an environment variable, optionally prefixed."""

    secret_ref: SecretEnvSource
    """The Secret whose keys become variables."""
    prefix: str | None = None
    """Prepended to every key to form the variable name."""


class RunnerSpec(ApiModel):
    """How runner pods are scheduled and what they may read."""

    image: str | None = None
    """Runner image; by default the herd image of the operator's own version."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """When the kubelet pulls the image; Kubernetes' default when unset."""
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    """CPU and memory requests and limits of each runner."""
    node_selector: dict[str, str] = Field(default_factory=dict)
    """Node labels the runner pods must match (e.g. a dedicated load-generation pool)."""
    tolerations: list[Toleration] = Field(default_factory=list)
    """Taints the runner pods tolerate."""
    affinity: dict[str, Any] | None = None
    """A Kubernetes ``Affinity`` (nodeAffinity, podAffinity, podAntiAffinity), passed to
    the pods as written; the API server validates it when the Job is created."""
    service_account_name: str | None = None
    """Service account for the pods, e.g. for cloud workload identity to S3. Its API
    token is never mounted: runners do not talk to the Kubernetes API."""
    env: list[EnvVar] = Field(default_factory=list)
    """Variables for ``${VAR}`` in the spec; secrets only through ``valueFrom``."""
    env_from: list[EnvFromSource] = Field(default_factory=list)
    """Secrets whose keys all become variables (e.g. AWS credentials for uploads)."""
