"""The cluster-side spec fields: defaults, validation that names the field, and no change
to what ``herd run`` does with a local file."""

from __future__ import annotations

import pytest

from herd.api.loading import SpecError, load_loadtest, parse_loadtest
from herd.engine.planning import Plan
from herd.engine.schedule import Share
from tests.operator.fixtures import FULL_SPEC, MINIMAL_SPEC, loadtest


def problems(spec: dict) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_loadtest(loadtest(spec))
    return caught.value.problems


def test_defaults():
    spec = parse_loadtest(loadtest({**MINIMAL_SPEC, "parallelism": 1})).spec
    assert spec.parallelism == 1
    assert spec.schedule is None and spec.metrics is None
    assert spec.ttl_seconds_after_finished is None
    assert spec.runner.image is None
    assert spec.runner.resources.requests == {"cpu": "1", "memory": "512Mi"}
    assert spec.runner.resources.limits == {"memory": "1Gi"}  # no CPU limit: throttling


def test_full_spec_reads_back():
    spec = parse_loadtest(loadtest(FULL_SPEC)).spec
    assert spec.schedule.time_zone == "Europe/Bucharest"
    assert spec.schedule.concurrency_policy == "Replace"
    assert spec.runner.env[0].value_from.secret_key_ref.key == "api-key"
    assert spec.runner.env_from[0].secret_ref.name == "s3-credentials"
    assert spec.runner.tolerations[0].effect == "NoSchedule"
    assert spec.metrics.pushgateway == "http://pushgateway.monitoring:9091"
    assert spec.ttl_seconds_after_finished == 3600


def test_schedule_defaults_follow_cronjob():
    spec = parse_loadtest(loadtest({**MINIMAL_SPEC, "schedule": {"cron": "@hourly"}})).spec
    schedule = spec.schedule
    assert (schedule.time_zone, schedule.suspend, schedule.concurrency_policy) == (
        "UTC",
        False,
        "Forbid",
    )
    assert (schedule.successful_runs_history_limit, schedule.failed_runs_history_limit) == (3, 1)
    assert schedule.starting_deadline_seconds is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"parallelism": 31}, "spec.parallelism: 31 runners cannot share load.requests = 30"),
        ({"parallelism": 101}, "spec.parallelism: Input should be less than or equal to 100"),
        (
            {
                "load": {"pattern": "concurrency", "concurrency": 2, "duration": "1m"},
                "parallelism": 3,
            },
            "spec.parallelism: 3 runners cannot share load.concurrency = 2",
        ),
        ({"schedule": {"cron": "every day"}}, "spec.schedule.cron: "),
        ({"schedule": {"cron": "0 0 * * * *"}}, "spec.schedule.cron: expected five fields"),
        ({"schedule": {"cron": "CRON_TZ=UTC 0 0 * * *"}}, "set the time zone in timeZone"),
        ({"schedule": {"cron": "0 0 * * *", "timeZone": "Mars/Olympus"}}, "unknown time zone"),
        (
            {"schedule": {"cron": "@daily", "failedRunsHistoryLimit": -1}},
            "spec.schedule.failedRunsHistoryLimit:",
        ),
        ({"runner": {"env": [{"name": "A"}]}}, "spec.runner.env[0].value: set exactly one"),
        (
            {"runner": {"env": [{"name": "JOB_COMPLETION_INDEX", "value": "0"}]}},
            "spec.runner.env[0].name: JOB_COMPLETION_INDEX is set for the runner",
        ),
        ({"runner": {"env": [{"name": "1BAD", "value": "x"}]}}, "spec.runner.env[0].name:"),
        (
            {"runner": {"resources": {"limits": {"memory": "1 GB"}}}},
            "spec.runner.resources.limits.memory: '1 GB' is not a quantity",
        ),
        ({"runner": {"privileged": True}}, "spec.runner.privileged: unknown field"),
        ({"metrics": {"pushgateway": "pushgateway:9091"}}, "spec.metrics.pushgateway: must be"),
        ({"ttlSecondsAfterFinished": -5}, "spec.ttlSecondsAfterFinished:"),
    ],
)
def test_errors_name_the_field(change, expected):
    assert any(
        problem.startswith(expected) or expected in problem
        for problem in problems({**MINIMAL_SPEC, **change})
    ), problems({**MINIMAL_SPEC, **change})


def test_quantities_accept_numbers_and_suffixes():
    runner = {"resources": {"requests": {"cpu": 2, "memory": "1.5Gi"}, "limits": {"cpu": "500m"}}}
    spec = parse_loadtest(loadtest({**MINIMAL_SPEC, "runner": runner})).spec
    assert spec.runner.resources.requests == {"cpu": "2", "memory": "1.5Gi"}


def test_herd_run_reads_a_cluster_spec_and_ignores_the_cluster_fields(tmp_path):
    import yaml

    path = tmp_path / "loadtest.yaml"
    path.write_text(yaml.safe_dump(loadtest(FULL_SPEC)))
    spec = load_loadtest(path).spec
    # The engine plans exactly as without the cluster fields: runners come from --runners.
    plain = parse_loadtest(
        loadtest({key: FULL_SPEC[key] for key in ("target", "uploads", "load", "thresholds")})
    ).spec
    for share in (Share(0, 1), Share(1, 3)):
        assert (
            Plan(spec.load, spec.target, share).indices
            == Plan(plain.load, plain.target, share).indices
        )
