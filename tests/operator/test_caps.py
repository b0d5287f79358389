"""Operator-wide caps: read from HERD_MAX_*, checked before a LoadTest or run starts anything,
and never cutting off a run that already started."""

from __future__ import annotations

from datetime import timedelta

import pytest

from herd.api.loading import SpecError, parse_loadtest
from herd.api.policy import RUNNER_POLICY_ENV, runner_policy_from_env
from herd.engine.planning import Plan
from herd.engine.schedule import Share
from herd_operator.caps import (
    Caps,
    cap_problems,
    caps_from_environment,
    derived_in_flight,
    planned_requests,
    request_ceiling,
    runner_processes,
)
from herd_operator.job import build_runner_job
from herd_operator.objects import read_run
from herd_operator.run_status import Action, reconcile_run
from herd_operator.scheduling import next_action
from herd_operator.settings import RunnerSettings
from tests.operator.fixtures import CREATED, FULL_SPEC, MINIMAL_SPEC, loadtest, run_body

CHART_DEFAULTS = {
    "HERD_MAX_REQUESTS": "100000",
    "HERD_MAX_RATE": "500",
    "HERD_MAX_CONCURRENCY": "1000",
    "HERD_MAX_DURATION": "1h",
    "HERD_MAX_PARALLELISM": "10",
    "HERD_MAX_ACTIVE_RUNS_PER_NAMESPACE": "3",
}
CAPS = caps_from_environment(CHART_DEFAULTS)


def spec_of(**load):
    return parse_loadtest(loadtest({**MINIMAL_SPEC, "load": load})).spec


def test_the_charts_environment_becomes_caps():
    assert CAPS == Caps(
        max_requests=100_000,
        max_rate=500.0,
        max_concurrency=1000,
        max_duration=3600.0,
        max_parallelism=10,
        max_active_runs_per_namespace=3,
    )


def test_unset_or_empty_variables_leave_that_cap_off():
    assert caps_from_environment({}) == Caps()
    assert caps_from_environment({"HERD_MAX_RATE": " ", "HERD_MAX_PARALLELISM": "4"}) == Caps(
        max_parallelism=4
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HERD_MAX_REQUESTS", "lots"),
        ("HERD_MAX_REQUESTS", "1.5"),
        ("HERD_MAX_RATE", "0"),
        ("HERD_MAX_RATE", "nan"),
        ("HERD_MAX_DURATION", "forever"),
        ("HERD_MAX_PARALLELISM", "-3"),
    ],
)
def test_a_bad_value_names_the_variable(variable, value):
    with pytest.raises(ValueError, match=variable):
        caps_from_environment({variable: value})


def test_a_spec_within_every_cap_passes():
    assert cap_problems(parse_loadtest(loadtest(FULL_SPEC)).spec, CAPS) == []


@pytest.mark.parametrize(
    ("load", "parallelism", "field"),
    [
        # the typo the caps exist for: 30000 for 30, a burst all in flight at once
        ({"pattern": "burst", "requests": 30000}, 3, "spec.load.requests (a burst"),
        (
            {"pattern": "concurrency", "concurrency": 5000, "duration": "1m"},
            3,
            "spec.load.concurrency",
        ),
        (
            {"pattern": "rate", "rate": 5000, "duration": "10s", "maxInFlight": 100},
            3,
            "spec.load.rate: 5000/s",
        ),
        (
            {
                "pattern": "rate",
                "stages": [
                    {"duration": "30s", "target": 100},
                    {"duration": "30s", "target": 900},
                ],
                "maxInFlight": 100,
            },
            3,
            "spec.load.stages[1].target: 900/s",
        ),
        (
            {"pattern": "rate", "rate": 100, "duration": "1m", "maxInFlight": 400},
            3,
            "spec.load.maxInFlight (per runner) * parallelism: 1200 in flight",
        ),
        (
            {"pattern": "rate", "rate": 400, "duration": "5m", "maxInFlight": 300},
            3,
            "spec.load: plans 120000 requests",
        ),
        ({"pattern": "burst", "requests": 30, "maxDuration": "2h"}, 3, "spec.load.maxDuration: 2h"),
        ({"pattern": "burst", "requests": 30}, 11, "spec.parallelism: 11 runners"),
    ],
)
def test_each_cap_names_the_field_the_value_and_the_cap(load, parallelism, field):
    spec = parse_loadtest(loadtest({**MINIMAL_SPEC, "load": load, "parallelism": parallelism}))
    problems = cap_problems(spec.spec, CAPS)
    assert len(problems) == 1, problems
    assert problems[0].startswith(field), problems
    assert "(limits.max" in problems[0]


def test_planned_requests_of_an_open_loop_is_its_arrivals_unless_requests_is_smaller():
    assert planned_requests(spec_of(pattern="rate", rate=400, duration="5m")) == 120_000
    assert planned_requests(spec_of(pattern="rate", rate=400, duration="5m", requests=50)) == 50
    # a closed loop bounded only by time plans nothing up front: its runners stop at the
    # request cap instead (request_ceiling)
    assert planned_requests(spec_of(pattern="concurrency", concurrency=4, duration="1m")) is None


def test_a_loadtest_over_a_cap_is_invalid_and_starts_no_run():
    body = loadtest({**MINIMAL_SPEC, "load": {"pattern": "burst", "requests": 30000}})
    decision = next_action(body, [], CREATED + timedelta(seconds=5), CAPS)
    assert decision.create is None
    assert decision.status["phase"] == "Invalid"
    assert (
        "spec.load.requests (a burst sends them all at once): 30000" in decision.status["message"]
    )
    assert [event.reason for event in decision.events] == ["InvalidSpec"]
    # without caps (herd run, or an operator with none set) the same spec runs
    assert next_action(body, [], CREATED + timedelta(seconds=5)).create is not None


def test_a_run_created_by_hand_is_held_to_the_caps():
    run = run_body({**MINIMAL_SPEC, "parallelism": 20})
    result = reconcile_run(run, None, [], CREATED, RunnerSettings(caps=CAPS))
    assert result.status["phase"] == "Invalid" and result.actions == ()
    assert result.status["message"].startswith("spec.loadTest.parallelism: 20 runners")
    with pytest.raises(SpecError) as raised:
        read_run(run, CAPS)
    assert raised.value.problems[0].endswith("(limits.maxParallelism)")


def test_a_started_run_is_not_cut_off_when_caps_are_lowered():
    run = run_body(
        {**MINIMAL_SPEC, "parallelism": 20}, status={"phase": "Running", "jobName": "sdxl-burst-g1"}
    )
    lowered = RunnerSettings(caps=CAPS)
    job = build_runner_job(read_run(run))
    result = reconcile_run(run, job, [], CREATED + timedelta(seconds=10), lowered)
    assert result.status["phase"] != "Invalid"
    assert Action.CREATE_RUNNERS not in result.actions


def test_runners_push_to_the_operators_default_pushgateway_unless_the_spec_names_one():
    default = RunnerSettings(pushgateway="http://pushgateway.monitoring:9091")

    def args(spec):
        job = build_runner_job(read_run(run_body(spec)), default)
        return job["spec"]["template"]["spec"]["containers"][0]["args"]

    without = args(MINIMAL_SPEC)
    assert without[without.index("--pushgateway") + 1] == "http://pushgateway.monitoring:9091"
    assert "--pushgateway" not in args(FULL_SPEC)  # spec.metrics.pushgateway wins
    assert (
        "--pushgateway"
        not in build_runner_job(read_run(run_body()))["spec"]["template"]["spec"]["containers"][0][
            "args"
        ]
    )


def rate_spec(parallelism: int = 1, cpu: str = "1", timeout: str = "150s", **load):
    spec = {
        **MINIMAL_SPEC,
        "target": {**MINIMAL_SPEC["target"], "timeout": timeout},
        "load": {"pattern": "rate", "duration": "1m", **load},
        "parallelism": parallelism,
        "runner": {"resources": {"requests": {"cpu": cpu, "memory": "512Mi"}}},
    }
    return parse_loadtest(loadtest(spec)).spec


def test_an_open_loop_without_max_in_flight_is_held_to_the_in_flight_the_engine_derives():
    # The case: rate 500 with no maxInFlight derives 10,000 in flight per runner.
    spec = rate_spec(rate=500)
    assert Plan(spec.load, spec.target, Share(0, 1)).max_in_flight == 10_000
    assert derived_in_flight(spec) == 10_000
    (problem,) = cap_problems(spec, CAPS)
    assert problem.startswith("spec.load.maxInFlight (unset")
    assert "10000 in flight is over the operator's cap of 1000 (limits.maxConcurrency)" in problem
    assert problem.endswith("set load.maxInFlight (per runner) to at most 1000")
    # the same load with an explicit bound fits
    assert cap_problems(rate_spec(rate=500, maxInFlight=1000), CAPS) == []


def test_the_derived_in_flight_counts_every_runner_and_every_runner_process():
    # 4 runners of 5/s each: 150 each (30 s of arrivals), 600 together
    assert derived_in_flight(rate_spec(parallelism=4, rate=20)) == 600
    # a short timeout leaves each runner the engine's floor of 64
    assert derived_in_flight(rate_spec(parallelism=4, rate=20, timeout="1s")) == 4 * 64
    # 1,200/s keeps 3 processes busy (500/s each) in a pod requesting 4 CPUs: each
    # process gets its own pool of 400/s * 30 s, capped at 10,000
    spec = rate_spec(rate=1200, cpu="4")
    assert runner_processes(spec, Share(0, 1)) == 3
    assert derived_in_flight(spec) == 3 * 10_000
    # ... but no more processes than the pod has CPUs for
    assert runner_processes(rate_spec(rate=1200, cpu="1500m"), Share(0, 1)) == 2


def test_a_time_bound_closed_loop_gets_the_request_cap_as_its_runners_ceiling():
    loop = spec_of(pattern="concurrency", concurrency=1000, duration="1h")
    assert cap_problems(loop, CAPS) == []  # nothing to refuse up front: no planned count
    assert request_ceiling(loop, CAPS) == 100_000
    assert request_ceiling(loop, Caps()) is None
    counted = spec_of(pattern="concurrency", concurrency=10, duration="1h", requests=500)
    assert request_ceiling(counted, CAPS) is None  # planned: cap_problems checks it
    assert request_ceiling(spec_of(pattern="burst", requests=30), CAPS) is None


def test_the_runner_job_carries_the_ceiling_in_its_policy():
    body = run_body(
        {**MINIMAL_SPEC, "load": {"pattern": "concurrency", "concurrency": 50, "duration": "1h"}}
    )
    job = build_runner_job(read_run(body), RunnerSettings(caps=CAPS))
    env = {var["name"]: var for var in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    policy = runner_policy_from_env({RUNNER_POLICY_ENV: env[RUNNER_POLICY_ENV]["value"]})
    assert policy is not None and policy.max_requests == 100_000
    # no caps, no policy: no variable at all
    job = build_runner_job(read_run(body))
    names = [var["name"] for var in job["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert RUNNER_POLICY_ENV not in names
