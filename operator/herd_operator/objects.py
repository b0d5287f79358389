"""Reading Kubernetes objects (plain dicts from the API) into validated, typed views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from herd.api.errors import describe_validation_error
from herd.api.loading import SpecError
from herd.api.runs import LoadTestRun
from herd.api.spec import LoadTestSpec
from herd_operator.caps import NO_CAPS, Caps, cap_problems
from herd_operator.policy import OPEN_POLICY, OperatorPolicy, policy_problems


def rfc3339(moment: datetime) -> str:
    """Kubernetes' timestamp format: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def status_of(obj: dict[str, Any] | None) -> dict[str, Any]:
    return (obj or {}).get("status") or {}


@dataclass(frozen=True)
class RunObject:
    """A LoadTestRun whose spec snapshot is valid for running in a cluster."""

    name: str
    namespace: str
    uid: str
    created: datetime
    generation: int | None
    loadtest_name: str | None
    spec: LoadTestSpec
    status: dict[str, Any] = field(default_factory=dict)


def cluster_problems(
    spec: LoadTestSpec, prefix: str, caps: Caps = NO_CAPS, policy: OperatorPolicy = OPEN_POLICY
) -> list[str]:
    """What a valid spec still cannot do in a cluster (it can with ``herd run``): read a
    local directory, exceed the operator-wide caps, or ask what the policy refuses."""
    problems = cap_problems(spec, caps, prefix) + policy_problems(spec, policy, prefix)
    if spec.uploads is not None and spec.uploads.source.directory is not None:
        problems.append(
            f"{prefix}.uploads.source.directory: runner pods cannot read a local directory; "
            "use source.synthetic in a cluster"
        )
    return problems


def read_run(
    body: dict[str, Any], caps: Caps = NO_CAPS, policy: OperatorPolicy = OPEN_POLICY
) -> RunObject:
    """Validate a LoadTestRun object; raises SpecError naming every bad field.

    The caps and the policy apply to runs too: a run object created by hand is held to
    them as well."""
    try:
        run = LoadTestRun.model_validate(body)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error)) from None
    problems = cluster_problems(run.spec.load_test, "spec.loadTest", caps, policy)
    if problems:
        raise SpecError(problems)
    meta = metadata(body)
    created = parse_time(meta.get("creationTimestamp"))
    if created is None or not meta.get("uid") or not meta.get("namespace"):
        # The API server always sets these; a body without them is not from a cluster.
        raise SpecError(["metadata: uid, namespace and creationTimestamp are required"])
    return RunObject(
        name=run.metadata.name,
        namespace=meta["namespace"],
        uid=meta["uid"],
        created=created,
        generation=meta.get("generation"),
        loadtest_name=run.spec.load_test_name,
        spec=run.spec.load_test,
        status=status_of(body),
    )
