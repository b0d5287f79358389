"""``--namespace``: the operator serves the namespaces it is given and no others, with no
cluster-wide access (kopf neither lists namespaces nor watches CRDs)."""

from __future__ import annotations

import asyncio

from herd_operator.kube import LOADTESTS, RUNS
from tests.operator_e2e.api import eventually
from tests.operator_e2e.conftest import NAMESPACE, Cluster, operator_options
from tests.operator_e2e.loadtests import burst_spec, loadtest
from tests.operator_e2e.operators import running_operator


async def test_only_the_named_namespaces_are_served(cluster: Cluster, target) -> None:
    cluster.kubelet.paused = True  # runs need not finish here
    served = loadtest("served", burst_spec(target.url))
    ignored = loadtest("ignored", burst_spec(target.url)) | {
        "metadata": {"name": "ignored", "namespace": "elsewhere"}
    }
    async with running_operator(operator_options(namespaces=(NAMESPACE,))):
        await cluster.api.create(LOADTESTS, served)
        await cluster.api.create(LOADTESTS, ignored)
        await eventually(
            lambda: cluster.api.get(RUNS, NAMESPACE, "served-g1"), 15, "the served run"
        )
        await asyncio.sleep(1.0)  # time enough for a run in "elsewhere", were it served
    assert await cluster.api.list(RUNS, "elsewhere") == []
    assert "status" not in await cluster.api.get(LOADTESTS, "elsewhere", "ignored")
    cluster_wide = [r for r in cluster.server if r.namespace is None and r.action is not None]
    assert not [r for r in cluster_wide if r.resource.plural in ("namespaces", "loadtests")]
    assert not [r for r in cluster_wide if r.resource.plural == "customresourcedefinitions"]
