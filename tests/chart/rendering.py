"""Rendering charts/herd with the real Helm library (helm-python-sdk binds Helm's Go SDK)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

helm = pytest.importorskip(
    "helm_python", reason="helm-python-sdk is missing: bash scripts/setup.sh test installs it"
)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "herd"
KUBERNETES = "1.30"
RELEASE, NAMESPACE = "herd", "herd-system"


def ci_values(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text())


def merged(*layers: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge value layers as Helm does with several -f files (later wins)."""
    result: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merged(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
    return result


# The value sets every structural and policy test runs on: defaults and every optional
# feature, each in cluster-wide and namespaced mode, and what the kind end-to-end run installs.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": ci_values("namespaced"),
    "all-features": ci_values("all-features"),
    "all-features-namespaced": merged(ci_values("all-features"), ci_values("namespaced")),
    "kind-e2e": yaml.safe_load((ROOT / "tests" / "e2e" / "values-kind.yaml").read_text()),
    "kube-prometheus-stack": yaml.safe_load(
        (CHART / "values-kube-prometheus-stack.yaml").read_text()
    ),
}


def load_chart():
    return helm.Chart.load(CHART)


def render(values: dict[str, Any] | None = None, namespace: str = NAMESPACE) -> list[dict]:
    """Every object `helm install` would create from templates/ (crds/ not included)."""
    with load_chart() as chart:
        manifests = chart.render(values or {}, name=RELEASE, namespace=namespace, is_install=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc is not None]
    return objects


def notes(values: dict[str, Any] | None = None) -> str:
    with load_chart() as chart:
        manifests = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def chart_crds() -> list[dict]:
    with load_chart() as chart:
        return [yaml.safe_load(crd["data"]) for crd in chart.crds]


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def of_component(objects: list[dict], kind: str, component: str) -> list[dict]:
    """Objects of ``kind`` labelled ``app.kubernetes.io/component: component``."""
    return [
        obj
        for obj in of_kind(objects, kind)
        if obj["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]


def operator_deployment(objects: list[dict]) -> dict:
    (deployment,) = of_component(objects, "Deployment", "operator")
    return deployment


def operator_container(objects: list[dict]) -> dict:
    (container,) = operator_deployment(objects)["spec"]["template"]["spec"]["containers"]
    return container


def env_of(container: dict) -> dict[str, Any]:
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in container["env"]}
