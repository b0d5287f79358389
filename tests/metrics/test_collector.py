"""What a run's collector reports, checked against the run's own report and plan."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client.registry import CollectorRegistry

from herd.engine.run import LoadRun, RunOptions
from herd.metrics import attach_metrics
from tests.conftest import loadtest
from tests.metrics.conftest import MIXED_WORKERS, expected_code, mixed_spec, run_with_metrics
from tests.metrics.samples import IDENTITY, all_samples, by_labels, single

pytestmark = pytest.mark.timeout(30)


async def test_requests_by_code_sum_exactly_to_the_requests_sent(echo):
    report, metrics, load_run = await run_with_metrics(mixed_spec(echo.url, requests=40))
    samples = all_samples(metrics.registry)

    expected = Counter(expected_code(index) for index in range(40))
    totals = by_labels(samples, "herd_requests_total")
    assert totals == {(("code", code),): count for code, count in expected.items()}
    assert sum(totals.values()) == report.requests.sent == 40
    assert report.errors == {"http_503": expected["503"], "timeout": expected["timeout"]}
    # The histogram counts the same requests, and its +Inf bucket is its count.
    assert by_labels(samples, "herd_request_duration_seconds_count") == totals
    infinite = by_labels(samples, "herd_request_duration_seconds_bucket")
    for code, count in expected.items():
        assert infinite[(("code", code), ("le", "+Inf"))] == count
    # Timeouts end at the 300 ms timeout: none under 250 ms, all under 500 ms.
    timeouts = {dict(k)["le"]: v for k, v in infinite.items() if dict(k)["code"] == "timeout"}
    assert timeouts["0.25"] == 0 and timeouts["0.5"] == expected["timeout"]
    assert list(timeouts.values()) == sorted(timeouts.values())  # cumulative
    total_seconds = single(samples, "herd_request_duration_seconds_sum", code="timeout")
    assert 0.3 * expected["timeout"] <= total_seconds < 0.5 * expected["timeout"]

    identity = {
        "loadtest": "metrics-test",
        "namespace": "default",
        "run": load_run.run_id,
        "runner": "0",
    }
    for sample in samples:
        assert {k: sample.labels.get(k) for k in IDENTITY} == identity, sample


async def test_worker_labels_are_capped_and_the_rest_fold_into_other(echo):
    report, metrics, _ = await run_with_metrics(mixed_spec(echo.url), worker_labels=5)
    samples = all_samples(metrics.registry)

    requests = {
        dict(k)["worker"]: v for k, v in by_labels(samples, "herd_worker_requests_total").items()
    }
    first_seen = {
        dict(k)["worker"]: v
        for k, v in by_labels(samples, "herd_worker_first_seen_seconds").items()
    }
    in_order = list(report.workers.first_seen_seconds)  # the report sorts by first answer
    assert len(in_order) == MIXED_WORKERS
    assert set(requests) == set(first_seen) == {*in_order[:5], "other"}
    assert sum(requests.values()) == sum(report.workers.requests.values())
    folded = in_order[5:]
    assert requests["other"] == sum(report.workers.requests[w] for w in folded)
    assert first_seen["other"] == pytest.approx(
        min(report.workers.first_seen_seconds[w] for w in folded), abs=1e-6
    )
    assert single(samples, "herd_workers_observed") == MIXED_WORKERS == report.workers.distinct


async def test_run_gauges_client_histograms_and_the_verdict(echo):
    spec = mixed_spec(echo.url, thresholds=["error_rate < 1%", "workers >= 2", "workers >= 2"])
    report, metrics, _ = await run_with_metrics(spec)
    samples = all_samples(metrics.registry)

    assert single(samples, "herd_run_info", pattern="concurrency", runners="1") == 1
    assert single(samples, "herd_target_concurrency") == 8
    assert single(samples, "herd_requests_in_flight") == 0
    assert single(samples, "herd_scheduling_lag_seconds_count") == report.requests.sent
    assert single(samples, "herd_pool_wait_seconds_count", pool="http") == (
        report.client.pool_waits
    )
    assert single(samples, "herd_event_loop_lag_seconds_count") > 0

    assert report.verdict == "failed", report.diagnostics
    assert by_labels(samples, "herd_run_verdict") == {
        (("verdict", "passed"),): 0.0,
        (("verdict", "failed"),): 1.0,
        (("verdict", "inconclusive"),): 0.0,
    }
    assert single(samples, "herd_run_client_limited") == float(report.client_limited)
    # The repeated threshold is one series.
    assert by_labels(samples, "herd_threshold_passed") == {
        (("threshold", "error_rate < 1%"),): 0.0,
        (("threshold", "workers >= 2"),): 1.0,
    }
    assert single(samples, "herd_threshold_value", threshold="error_rate < 1%") == (
        pytest.approx((report.requests.failed + report.requests.never_sent) / 40)
    )


async def test_never_sent_requests_by_reason(echo):
    spec = {
        "target": {"url": f"{echo.url}/answer", "body": '{"sleep": 0.05}'},
        "load": {"pattern": "rate", "rate": 100, "duration": "5s", "maxDuration": "500ms"},
    }
    report, metrics, _ = await run_with_metrics(spec)
    samples = all_samples(metrics.registry)

    never_sent = by_labels(samples, "herd_requests_never_sent_total")
    assert never_sent == {(("reason", r),): n for r, n in report.never_sent_reasons.items()}
    assert never_sent[(("reason", "max_duration"),)] > 0
    sent = sum(by_labels(samples, "herd_requests_total").values())
    assert sent == report.requests.sent
    assert sent + sum(never_sent.values()) == report.requests.planned == 500


async def test_upload_metrics(echo, s3_server, bucket):
    spec = {
        "target": {"url": f"{echo.url}/answer", "body": '{"sleep": 0.01}'},
        "uploads": {
            "endpoint": s3_server.url,
            "region": "us-east-1",
            "bucket": bucket,
            "perRequest": 2,
            "source": {"synthetic": {"sizeBytes": 1024}},
            "concurrency": 4,
            "cleanup": False,
        },
        "load": {"pattern": "burst", "requests": 8},
    }
    report, metrics, _ = await run_with_metrics(spec)
    samples = all_samples(metrics.registry)

    assert by_labels(samples, "herd_uploads_total") == {
        (("result", "ok"),): 16,
        (("result", "failed"),): 0,
    }
    assert single(samples, "herd_upload_bytes_total") == 16 * 1024 == report.uploads.bytes
    assert single(samples, "herd_upload_duration_seconds_count") == 16
    assert single(samples, "herd_uploads_in_flight") == 0
    assert single(samples, "herd_upload_retries_total") == 0
    # 16 objects through 4 slots: the uploads beyond the first 4 waited for a slot.
    assert 12 <= single(samples, "herd_pool_wait_seconds_count", pool="s3") <= 16


async def test_endpoint_gauges_come_from_the_latest_probe_sample(echo):
    spec = {
        "target": {"url": f"{echo.url}/answer", "body": '{"sleep": 0.2}'},
        "load": {"pattern": "concurrency", "concurrency": 3, "duration": "600ms"},
        "scalingProbe": {"url": f"{echo.url}/health", "interval": "100ms"},
    }
    report, metrics, _ = await run_with_metrics(spec)
    samples = all_samples(metrics.registry)

    latest = report.scaling_probe.series[-1]
    assert by_labels(samples, "herd_endpoint_workers") == {
        (("state", "running"),): 1.0,
        (("state", "idle"),): 0.0,
        (("state", "initializing"),): 0.0,
    }
    assert by_labels(samples, "herd_endpoint_jobs") == {
        (("state", "in_queue"),): 2.0,
        (("state", "in_progress"),): latest.jobs_in_progress,
    }
    assert single(samples, "herd_endpoint_probe_failures_total") == 0


def test_before_the_run_starts_only_the_plan_is_known(echo):
    load_run = LoadRun(loadtest(mixed_spec(echo.url)), RunOptions(handle_signals=False))
    registry = CollectorRegistry()
    attach_metrics(load_run, registry)
    names = {sample.name for sample in all_samples(registry)}
    assert names == {"herd_run_info", "herd_target_concurrency"}
    assert len(load_run.listeners) == 1
