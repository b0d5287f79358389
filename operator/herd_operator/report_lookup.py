"""``herd report lt/NAME`` and ``herd report ltr/RUN``: where a cluster run's results are,
from its status (the current kubeconfig's cluster and namespace)."""

from __future__ import annotations

from typing import Any

from herd.results.layout import MERGED
from herd.results.source import ClusterResolver, SourceError
from herd_operator.kube import LOADTESTS, RUNS, Kube, api_client


class ResultsNotFound(SourceError):
    """The name does not lead to stored results; the message says why."""


def results_of_status(run: str, status: dict[str, Any]) -> str:
    """The run's results prefix (``s3://…/RUN/``) from its status."""
    results = status.get("results") or {}
    report = results.get("report")
    if not report:
        source = results.get("source") or "none yet"
        raise ResultsNotFound(
            f"ltr/{run} has no stored results (status.results.source: {source}); "
            "`kubectl get ltr {run} -o yaml` shows what status has"
        )
    return str(report).removesuffix(MERGED)


async def lookup(kube: Kube, source: str, namespace: str) -> str:
    """The results prefix of ``lt/NAME`` (its latest run) or ``ltr/RUN``."""
    kind, _, name = source.partition("/")
    if kind in ("lt", "loadtest"):
        loadtest = await kube.get(LOADTESTS, namespace, name)
        if loadtest is None:
            raise ResultsNotFound(f"no LoadTest {namespace}/{name}")
        status = loadtest.get("status") or {}
        run = (status.get("summary") or {}).get("run") or status.get("lastRun")
        if not run:
            raise ResultsNotFound(f"LoadTest {namespace}/{name} has no finished run yet")
        name = run
    elif kind not in ("ltr", "loadtestrun"):
        raise ResultsNotFound(f"{source}: give lt/NAME or ltr/RUN")
    body = await kube.get(RUNS, namespace, name)
    if body is None:
        raise ResultsNotFound(f"no LoadTestRun {namespace}/{name}")
    return results_of_status(name, body.get("status") or {})


def kubeconfig_resolver(namespace: str | None = None) -> ClusterResolver:
    """``herd report``'s resolver for the current kubeconfig (its context's namespace
    unless ``namespace`` is given); connects only when asked to resolve."""
    from kubernetes import config

    async def resolve(source: str) -> str:
        try:
            kube = Kube(api_client())
            chosen = namespace
            if chosen is None:
                _, active = config.list_kube_config_contexts()
                chosen = (active or {}).get("context", {}).get("namespace") or "default"
        except config.ConfigException as error:
            raise SourceError(f"{source}: no cluster to ask (kubeconfig: {error})") from None
        try:
            return await lookup(kube, source, chosen)
        except SourceError:
            raise
        except Exception as error:  # the API server's or the network's: say it, no traceback
            raise SourceError(f"{source}: could not ask the cluster: {error}") from None

    return resolve
