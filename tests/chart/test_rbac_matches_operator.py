"""The chart grants what the operator's code calls, read from its source: every
``Kube.get/list/create/patch/delete(RESOURCE, ...)`` in herd_operator, every resource kopf
watches for its handlers, and kopf's annotations and events. A new call without its RBAC
rule (a 403 in production) fails here, and so does a rule nothing uses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.chart.rendering import VALUE_SETS, of_kind, render
from tests.chart.test_chart import granted

OPERATOR = Path(__file__).resolve().parents[2] / "operator" / "herd_operator"
KUBE_VERBS = {"get", "list", "create", "patch", "delete"}
# herd_operator.kube's resource constants -> (API group, resource).
RESOURCES = {
    "LOADTESTS": ("herd.dev", "loadtests"),
    "RUNS": ("herd.dev", "loadtestruns"),
    "JOBS": ("batch", "jobs"),
    "PODS": ("", "pods"),
    "CONFIGMAPS": ("", "configmaps"),
}
# Granted without a call in herd_operator's source, each for a reason docs/install.md gives.
NOT_CALLS = {
    ("herd.dev", "loadtests/finalizers"): {"update"},  # blockOwnerDeletion on owned runs
    ("herd.dev", "loadtestruns/finalizers"): {"update"},  # ... on owned Jobs and ConfigMaps
    ("", "events"): {"create"},  # kopf.event
}

pytestmark = pytest.mark.skipif(
    not (OPERATOR / "kube.py").exists(), reason="herd_operator has no API edge (kube.py) here"
)


def _sources() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text()) for path in OPERATOR.glob("*.py")}


def _first_args_of_calls(trees: dict[str, ast.Module], function: str) -> set[str]:
    """Resource constants passed as the first argument to ``function`` anywhere."""
    found = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                if name == function and node.args and isinstance(node.args[0], ast.Name):
                    found.add(node.args[0].id)
    return found


def _api_calls(trees: dict[str, ast.Module]) -> dict[tuple[str, str], set[str]]:
    calls: dict[tuple[str, str], set[str]] = {}
    for tree in trees.values():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in KUBE_VERBS
                    and isinstance(node.func.value, ast.Attribute | ast.Name)
                    and (getattr(node.func.value, "attr", None) or node.func.value.id) == "kube"
                    and node.args
                    and isinstance(node.args[0], ast.Name)
                ):
                    continue
                argument = node.args[0].id
                # A resource passed in (e.g. _write_status(resource, ...)): its callers' constants.
                names = (
                    {argument}
                    if argument in RESOURCES
                    else _first_args_of_calls(trees, function.name)
                )
                subresource = None
                if node.func.attr == "patch":
                    extra = [*node.args[4:5], *(k.value for k in node.keywords)]
                    subresource = next(
                        (a.value for a in extra if isinstance(a, ast.Constant)), None
                    )
                for name in names:
                    group, resource = RESOURCES[name]
                    key = (group, f"{resource}/{subresource}" if subresource else resource)
                    calls.setdefault(key, set()).add(node.func.attr)
    return calls


def _kopf_needs(trees: dict[str, ast.Module]) -> dict[tuple[str, str], set[str]]:
    """kopf lists and watches every resource it has a handler or index for, and patches its
    progress annotations onto those with resume/create/update handlers."""
    needs: dict[tuple[str, str], set[str]] = {}
    source = "\n".join(ast.unparse(tree) for tree in trees.values())
    if "'batch', 'v1', 'jobs'" in source:
        needs[("batch", "jobs")] = {"list", "watch"}
    if "'v1', 'pods'" in source:
        needs[("", "pods")] = {"list", "watch"}
    for plural in ("loadtests", "loadtestruns"):
        needs[("herd.dev", plural)] = {"list", "watch", "patch"}
    return needs


def test_the_operator_source_is_understood():
    calls = _api_calls(_sources())
    # Sanity: the edge's documented calls are found (docs/operator.md, "Contract for the edge").
    assert (
        "create" in calls[("batch", "jobs")]
        and "patch" in calls[("herd.dev", "loadtestruns/status")]
    )


@pytest.mark.parametrize("name", ["default", "namespaced"])
def test_rbac_grants_exactly_what_the_operator_calls(name):
    trees = _sources()
    needed: dict[tuple[str, str], set[str]] = {}
    for source in (_api_calls(trees), _kopf_needs(trees), NOT_CALLS):
        for key, verbs in source.items():
            needed.setdefault(key, set()).update(verbs)
    objects = render(VALUE_SETS[name])
    (role,) = of_kind(objects, "ClusterRole") or of_kind(objects, "Role")[:1]
    grants = granted(role)
    grants.pop(("apiextensions.k8s.io", "customresourcedefinitions"), None)  # kopf, cluster only
    missing = {key: verbs - grants.get(key, set()) for key, verbs in needed.items()}
    unused = {key: verbs - needed.get(key, set()) for key, verbs in grants.items()}
    assert {k: v for k, v in missing.items() if v} == {}, "calls without an RBAC rule (403s)"
    assert {k: v for k, v in unused.items() if v} == {}, "RBAC rules no call uses"
