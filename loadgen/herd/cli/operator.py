"""``herd operator``: run the LoadTest operator (in a cluster, or against ``KUBECONFIG``)."""

from __future__ import annotations

import asyncio
import os

import click

from herd.cli.options import verbose_option
from herd_operator.settings import DEFAULT_RUNNER_IMAGE, RunnerSettings


@click.command()
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Serve LoadTests in this namespace (repeatable); needs no cluster-wide access.",
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Serve LoadTests in every namespace.")
@click.option(
    "--liveness",
    default="http://0.0.0.0:8080/healthz",
    show_default=True,
    metavar="URL",
    help="kopf's liveness endpoint for the pod's livenessProbe ('' to turn it off).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    default=9090,
    show_default=True,
    help="Serve the operator's Prometheus metrics at /metrics and readiness at /readyz.",
)
@click.option("--metrics-host", default="0.0.0.0", show_default=True, help="Address for them.")
@click.option(
    "--runner-image",
    default=DEFAULT_RUNNER_IMAGE,
    show_default=True,
    help="Image for runner pods when a LoadTest's spec.runner.image is unset.",
)
@click.option(
    "--runner-pushgateway",
    envvar="HERD_RUNNER_PUSHGATEWAY",
    metavar="URL",
    help="Pushgateway runners push to when a LoadTest sets no spec.metrics.pushgateway "
    "[env: HERD_RUNNER_PUSHGATEWAY].",
)
@click.option(
    "--runner-metrics-port",
    envvar="HERD_RUNNER_METRICS_PORT",
    type=click.IntRange(min=0, max=65535),
    default=RunnerSettings.metrics_port,
    show_default=True,
    help="Port runner pods serve /metrics on (container port 'metrics', for a PodMonitor); "
    "0: none [env: HERD_RUNNER_METRICS_PORT].",
)
@click.option(
    "--runner-remote-write",
    envvar="HERD_RUNNER_REMOTE_WRITE",
    metavar="URL",
    help="Prometheus remote-write URL runner pods send their metrics to "
    "[env: HERD_RUNNER_REMOTE_WRITE].",
)
@click.option(
    "--startup-allowance",
    type=click.IntRange(min=0),
    default=RunnerSettings.startup_allowance_seconds,
    show_default=True,
    help="Seconds from a run's creation to its runners' synchronized start.",
)
@click.option(
    "--resync",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Longest time between two reconciles of an object, in seconds.",
)
@verbose_option
def operator(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    liveness: str,
    metrics_port: int,
    metrics_host: str,
    runner_image: str,
    runner_pushgateway: str | None,
    runner_metrics_port: int,
    runner_remote_write: str | None,
    startup_allowance: int,
    resync: float,
    verbose: int,
) -> None:
    """Run the operator: LoadTests become runner Jobs, results and verdicts land in status.

    Uses the in-cluster service account, else the KUBECONFIG context. Operator-wide caps
    come from HERD_MAX_REQUESTS, HERD_MAX_RATE, HERD_MAX_CONCURRENCY, HERD_MAX_DURATION,
    HERD_MAX_PARALLELISM and HERD_MAX_ACTIVE_RUNS_PER_NAMESPACE (unset: no cap); the results
    store of LoadTests that set no spec.results from HERD_RESULTS_S3_BUCKET, _PREFIX,
    _ENDPOINT and _REGION (unset: none; no credentials: runners and the merge use their
    own); the policy
    (runner images, runner fields, target hosts) from HERD_POLICY, a JSON document (unset:
    the chart's defaults). A LoadTest over a cap or against the policy ends Invalid, naming
    the field.
    """
    if bool(namespaces) == all_namespaces:
        raise click.UsageError("give --namespace NS (repeatable) or --all-namespaces")
    from prometheus_client import CollectorRegistry

    from herd.engine.log_setup import configure_logging, level_for
    from herd.engine.scrub import scrub_credentials
    from herd_operator import policy as operator_policy
    from herd_operator.caps import caps_from_environment, describe
    from herd_operator.kube import api_client
    from herd_operator.results_location import results_default_from_environment
    from herd_operator.runtime import OperatorOptions, run_operator

    try:
        caps = caps_from_environment(os.environ)
        policy = operator_policy.policy_from_environment(os.environ)
        results = results_default_from_environment(os.environ)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    client = api_client()
    api_server = operator_policy.api_server_rules(client.configuration.host, os.environ)
    policy = policy.effective(runner_image, api_server)

    # The operator expands no secrets; what kopf and the clients log is scrubbed of
    # anything shaped like a credential.
    configure_logging(
        level_for(verbose), scrub_credentials, "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = OperatorOptions(
        namespaces=namespaces,
        liveness_endpoint=liveness or None,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
        resync_seconds=resync,
        runner=RunnerSettings(
            default_image=runner_image,
            startup_allowance_seconds=startup_allowance,
            caps=caps,
            policy=policy,
            pushgateway=runner_pushgateway or None,
            metrics_port=runner_metrics_port or None,
            remote_write=runner_remote_write or None,
            results=results,
        ),
    )
    # Said at every start, whatever the log level: what this operator will refuse to run.
    click.echo(f"herd operator: enforcing {describe(caps)}", err=True)
    click.echo(f"herd operator: policy: {operator_policy.describe(policy)}", err=True)
    asyncio.run(run_operator(options, CollectorRegistry(), client=client))
