"""A run with a results store: runners write there, a merge Job in the run's namespace
merges their full reports, and the status carries its exact numbers and points at
merged.json and report.html; without a store, or when the merge fails or is refused, the
status is the runners' summaries and says so."""

from __future__ import annotations

from datetime import timedelta

import kubernetes_validate
import yaml

from herd.api.crd import loadtestrun_crd
from herd.api.results import S3ResultsSpec
from herd.results.summary import termination_message
from herd_operator.configmap import LOADTEST_FILE, build_runner_configmap
from herd_operator.job import build_runner_job
from herd_operator.merge_job import build_merge_job
from herd_operator.objects import read_run
from herd_operator.run_status import Action, reconcile_run
from herd_operator.settings import RunnerSettings
from tests.operator.fixtures import (
    CREATED,
    FULL_SPEC,
    MINIMAL_SPEC,
    exited,
    finished,
    job_condition,
    job_for,
    report,
    run_body,
)
from tests.operator.schema_tools import validate_against

AFTER = CREATED + timedelta(minutes=3)
STORE = S3ResultsSpec(bucket="load-results", prefix="team-a/", endpoint="https://s3.example")
SETTINGS = RunnerSettings(results=STORE)
RUN_URI = "s3://load-results/team-a/perf/sdxl-burst/sdxl-burst-g1/"
COMPLETE = job_condition("Complete")


def reconcile(run, job, pods, merge_job=None, merge_pods=None, settings=SETTINGS):
    result = reconcile_run(
        run, job, pods, AFTER, settings, merge_job=merge_job, merge_pods=merge_pods
    )
    validate_against(loadtestrun_crd(), {**run, "status": result.status})
    return result


def merge_pod(message: str, code: int = 0) -> dict:
    state = {"terminated": {"exitCode": code, "reason": "Completed", "message": message}}
    return {
        "metadata": {"name": "sdxl-burst-g1-merge-x1y2z", "labels": {}},
        "status": {"containerStatuses": [{"name": "merge", "state": state}]},
    }


def merged_summary(**report_args) -> str:
    """The merge pod's termination message: the summary of the whole run's report."""
    workers = {f"w{i}": 1 for i in range(40)}
    latencies = [0.5 + 0.01 * i for i in range(40)]
    merged = report(0, 3, latencies=latencies, workers=workers, **report_args)
    return termination_message(merged)


def test_runners_write_to_the_operators_default_store_with_its_endpoint():
    run = read_run(run_body())
    args = build_runner_job(run, SETTINGS)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--results") + 1] == "s3://load-results/team-a"
    assert args[args.index("--run-id") + 1] == "sdxl-burst-g1"
    spec = yaml.safe_load(build_runner_configmap(run, STORE)["data"][LOADTEST_FILE])["spec"]
    assert spec["results"]["s3"]["endpoint"] == "https://s3.example"
    no_store = build_runner_job(run)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--results" not in no_store


def test_a_loadtests_own_store_wins_over_the_default():
    own = {"s3": {"bucket": "mine", "prefix": "x/"}}
    run = read_run(run_body({**MINIMAL_SPEC, "results": own}))
    args = build_runner_job(run, SETTINGS)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--results") + 1] == "s3://mine/x"
    spec = yaml.safe_load(build_runner_configmap(run, STORE)["data"][LOADTEST_FILE])["spec"]
    assert spec["results"]["s3"]["bucket"] == "mine"


def test_the_merge_job_runs_as_the_runners_do_with_their_credentials():
    run = read_run(run_body(FULL_SPEC))
    runner = build_runner_job(run, SETTINGS)
    merge = build_merge_job(run, STORE, SETTINGS)
    kubernetes_validate.validate(merge, "1.30", strict=True)
    assert merge["metadata"]["name"] == "sdxl-burst-g1-merge"
    assert merge["metadata"]["ownerReferences"] == runner["metadata"]["ownerReferences"]
    assert merge["metadata"]["labels"]["app.kubernetes.io/component"] == "merge"
    assert merge["metadata"]["labels"]["herd.dev/run"] == "sdxl-burst-g1"
    pod, runner_pod = merge["spec"]["template"]["spec"], runner["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == runner_pod["securityContext"]
    (container,), (runner_container,) = pod["containers"], runner_pod["containers"]
    assert container["securityContext"] == runner_container["securityContext"]
    assert container["image"] == runner_container["image"]
    assert container["envFrom"] == runner_container["envFrom"]  # the run's own Secrets
    assert runner_container["env"] == container["env"][: len(runner_container["env"])]
    assert {"name": "AWS_ENDPOINT_URL_S3", "value": "https://s3.example"} in container["env"]
    assert container["args"] == [
        "herd", "report", RUN_URI, "--runners", "3", "--merge",
        "--summary", "/dev/termination-log", "--quiet", "--no-verdict-exit",
    ]  # fmt: skip
    assert merge["spec"]["backoffLimit"] == 0 and "completionMode" not in merge["spec"]


def test_runners_done_the_merge_starts_and_the_run_waits_for_it():
    run = run_body()
    pods = [finished(i) for i in range(3)]
    started = reconcile(run, job_for(run, [COMPLETE]), pods)
    assert started.actions == (Action.CREATE_MERGE,)
    assert started.status["phase"] == "Running"
    assert "merging the results of 3 runners (sdxl-burst-g1-merge)" in started.status["message"]
    # Refused by the API server (422): the run ends on the summaries, says why, once.
    assert started.fallback is not None
    fallback = started.fallback.status
    assert fallback["phase"] == "Succeeded" and fallback["results"]["source"] == "summaries"
    assert "refused the merge Job" in fallback["results"]["diagnostics"][0]
    assert ("Warning", "MergeFailed") in [(e.type, e.reason) for e in started.fallback.events]
    running = {"metadata": {"name": "m"}, "status": {}}
    waiting = reconcile(run, job_for(run, [COMPLETE]), pods, running, [])
    assert waiting.actions == () and waiting.status["phase"] == "Running"


def test_the_merged_numbers_and_their_location_land_in_status():
    run = run_body()
    pods = [finished(i) for i in range(3)]
    merge_job = {"metadata": {"name": "m"}, "status": {"conditions": [COMPLETE]}}
    result = reconcile(
        run, job_for(run, [COMPLETE]), pods, merge_job, [merge_pod(merged_summary())]
    )
    status = result.status
    assert status["phase"] == "Succeeded" and status["verdict"] == "passed"
    results = status["results"]
    assert results["source"] == "store"
    assert results["report"] == RUN_URI + "merged.json"
    assert results["html"] == RUN_URI + "report.html"
    assert results["requests"]["ok"] == 40 and results["workers"]["distinct"] == 40
    assert results["runnersReported"] == 3


def test_a_merge_that_failed_falls_back_to_the_summaries_and_says_why():
    run = run_body()
    pods = [finished(i) for i in range(3)]
    failed = {"metadata": {"name": "m"}, "status": {"conditions": [job_condition("Failed")]}}
    tail = "herd report failed: s3://load-results/team-a/...: AccessDenied"
    result = reconcile(run, job_for(run, [COMPLETE]), pods, failed, [merge_pod(tail, 3)])
    results = result.status["results"]
    assert result.status["phase"] == "Succeeded" and results["source"] == "summaries"
    assert "AccessDenied" in results["diagnostics"][0]
    assert "report" not in results and results["requests"]["ok"] == 30
    assert ("Warning", "MergeFailed") in [(e.type, e.reason) for e in result.events]


def test_without_a_store_the_status_is_the_summaries():
    run = run_body()
    result = reconcile(
        run, job_for(run, [COMPLETE]), [finished(i) for i in range(3)], settings=RunnerSettings()
    )
    assert result.actions == () and result.status["results"]["source"] == "summaries"
    assert [e.reason for e in result.events] == ["Succeeded"]


def test_a_lost_runner_in_the_merge_is_named_and_its_share_unknown():
    run = run_body()
    pods = [finished(0), exited(1, 137), finished(2)]
    job = job_for(run, [job_condition("Failed", "FailedIndexes")])
    assert reconcile(run, job, pods).actions == (Action.CREATE_MERGE,)
    message = merged_summary(unknown=10)
    merge_job = {"metadata": {"name": "m"}, "status": {"conditions": [COMPLETE]}}
    status = reconcile(run, job, pods, merge_job, [merge_pod(message)]).status
    results = status["results"]
    assert status["phase"] == "Failed" and status["verdict"] == "inconclusive"
    assert results["source"] == "store" and results["missingRunners"] == [1]
    assert results["requests"]["unknown"] == 10 and results["runnersReported"] == 2
    assert results["verdictReason"] == "results missing: runner 1 of 3 did not report"
