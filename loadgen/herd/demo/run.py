"""``herd demo``: start the stand-ins, replay the incident, then run it with herd.

Everything runs on 127.0.0.1: moto's S3 server behind a proxy that adds a remote
region's upload latency, and ``herd sim`` as the autoscaling endpoint, each in its
own process so the load generator measures them as it would measure the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3

from herd.api.report import Report
from herd.api.spec import LoadTest
from herd.demo import scenarios
from herd.demo.endpoint import GroundTruth, ground_truth, sim_endpoint
from herd.demo.services import FAKE_AWS_ENV, ServerProcess, moto_s3_server, remote_s3_proxy
from herd.engine.run import LoadRun, RunOptions
from herd.views.html import render_html


@dataclass(frozen=True)
class DemoRun:
    title: str
    report: Report
    truth: GroundTruth


@contextlib.contextmanager
def _demo_credentials() -> Iterator[None]:
    """moto's stand-in credentials, for this process only, restored afterwards."""
    saved = {name: os.environ.get(name) for name in FAKE_AWS_ENV}
    os.environ.update(FAKE_AWS_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _create_bucket(s3_url: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
    client.create_bucket(Bucket=scenarios.BUCKET)


async def run_demo(on_phase: Callable[[str], None] = lambda _: None) -> list[DemoRun]:
    """Both runs at once, each against its own identical endpoint, so the demo takes as
    long as the slower run; they share only the S3 stand-in, whose latency is per request."""
    flags = scenarios.EndpointTimings().flags()
    with (
        _demo_credentials(),
        moto_s3_server() as s3,
        remote_s3_proxy(s3.url, scenarios.UPLOAD_LATENCY_SECONDS) as remote_s3,
        sim_endpoint(flags) as incident_endpoint,
        sim_endpoint(flags) as herd_endpoint,
    ):
        _create_bucket(s3.url)
        plays: list[tuple[str, LoadTest, ServerProcess]] = [
            (
                "as the incident's script did it",
                scenarios.as_the_incident_did_it(incident_endpoint.url, remote_s3.url),
                incident_endpoint,
            ),
            ("with herd", scenarios.with_herd(herd_endpoint.url, remote_s3.url), herd_endpoint),
        ]
        on_phase(" and ".join(title for title, _, _ in plays))
        reports = await asyncio.gather(
            *(LoadRun(lt, RunOptions(handle_signals=False)).execute() for _, lt, _ in plays)
        )
        return [
            DemoRun(title, report, ground_truth(endpoint))
            for (title, _, endpoint), report in zip(plays, reports, strict=True)
        ]


def write_reports(runs: list[DemoRun], report_dir: Path) -> None:
    """Each run's JSON report (the ``herd run --report`` schema) and HTML page."""
    report_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        stem = report_dir / run.report.loadtest
        document = json.dumps(run.report.model_dump(mode="json"), indent=2)
        stem.with_suffix(".json").write_text(document + "\n")
        stem.with_suffix(".html").write_text(render_html(run.report))
