"""Where a run's results go: its LoadTest's ``spec.results.s3``, else the operator-wide
default (the chart's ``results.s3``, ``HERD_RESULTS_S3_*``), else nowhere (the runners'
termination-message summaries are then all the status has)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from herd.api.results import S3ResultsSpec
from herd.results.layout import HTML, MERGED, run_prefix
from herd_operator.objects import RunObject

ENV_PREFIX = "HERD_RESULTS_S3_"
_FIELDS = ("bucket", "prefix", "endpoint", "region")


def results_default_from_environment(env: Mapping[str, str]) -> S3ResultsSpec | None:
    """The operator-wide store from ``HERD_RESULTS_S3_BUCKET`` (unset or empty: none),
    ``_PREFIX``, ``_ENDPOINT`` and ``_REGION``; a bad value is a ``ValueError`` naming it."""
    values = {name: env.get(ENV_PREFIX + name.upper(), "") for name in _FIELDS}
    if not values["bucket"]:
        return None
    try:
        return S3ResultsSpec.model_validate({k: v for k, v in values.items() if v})
    except ValidationError as error:
        problems = "; ".join(
            f"{ENV_PREFIX}{str(e['loc'][0]).upper()}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(f"invalid results store: {problems}") from None


def results_store_of(run: RunObject, default: S3ResultsSpec | None) -> S3ResultsSpec | None:
    """The store the run's results go to: its spec's, else the operator's default."""
    return run.spec.results.s3 if run.spec.results is not None else default


def store_uri(store: S3ResultsSpec) -> str:
    """``s3://BUCKET/PREFIX`` as ``herd run --results`` takes it."""
    return f"s3://{store.bucket}/{store.prefix.strip('/')}".rstrip("/")


def run_uri(store: S3ResultsSpec, run: RunObject) -> str:
    """The run's own prefix, ``s3://BUCKET/PREFIX/NAMESPACE/LOADTEST/RUN/``: where the
    runners write (``herd run`` adds the same parts) and the merge reads."""
    key = run_prefix(store.prefix, run.namespace, run.loadtest_name or run.name, run.name)
    return f"s3://{store.bucket}/{key}"


def merged_uris(store: S3ResultsSpec, run: RunObject) -> tuple[str, str]:
    """``merged.json`` and ``report.html`` of the run."""
    base = run_uri(store, run)
    return base + MERGED, base + HTML
