"""A runner with the operator's policy (``HERD_RUNNER_POLICY``): it never connects where the
policy denies, whatever the name resolves to or a redirect says, and a time-bound closed
loop stops at the request ceiling. Real DNS (``localhost``), real servers on 127.0.0.x."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from herd.api.policy import TargetPolicy
from herd.engine.calls import classify_exception, open_session
from herd.engine.errors import ConfigError
from herd.engine.run import LoadRun, RunOptions
from herd.engine.schedule import Share
from herd.engine.target_policy import TargetGuard
from tests.conftest import loadtest, run_spec
from tests.support.staging import burst as burst_with_uploads
from tests.support.staging import uploads_to

LOOPBACK_DENIED = {"deny": ["127.0.0.0/8", "::1/128"]}


def policy_env(targets: dict | None = None, **fields) -> dict[str, str]:
    document = {"targets": targets or {}, **fields}
    return {"HERD_RUNNER_POLICY": json.dumps(document)}


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def burst(url: str, requests: int = 5) -> dict:
    return {"target": {"url": url}, "load": {"pattern": "burst", "requests": requests}}


@asynccontextmanager
async def redirecting(host: str, location: str) -> AsyncIterator[str]:
    """A server on ``host`` answering every request with a redirect to ``location``."""

    async def handler(_: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        yield f"http://{host}:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_a_target_name_that_resolves_only_to_denied_addresses_is_refused_up_front(
    fresh_target,
):
    url = f"http://localhost:{port_of(fresh_target.url)}/generate"
    with pytest.raises(ConfigError) as refused:
        await run_spec(burst(url), env=policy_env(LOOPBACK_DENIED))
    message = str(refused.value)
    assert message.startswith("spec.target.url: host localhost is refused")
    assert "127.0.0.1 is in 127.0.0.0/8, which is denied" in message
    assert "/generate" not in message  # the host only: a URL can carry secrets
    assert fresh_target.record() == []


async def test_a_denied_literal_address_is_refused_without_resolving(fresh_target):
    with pytest.raises(ConfigError, match=r"host 127\.0\.0\.1 is refused .* 127\.0\.0\.0/8"):
        await run_spec(burst(fresh_target.url), env=policy_env({"deny": ["127.0.0.0/8"]}))
    assert fresh_target.record() == []


async def test_a_host_hidden_behind_a_variable_is_checked_after_expansion(fresh_target):
    env = {"TARGET_HOST": "localhost", **policy_env(LOOPBACK_DENIED)}
    url = f"http://${{TARGET_HOST}}:{port_of(fresh_target.url)}/"
    with pytest.raises(ConfigError, match="host localhost is refused"):
        await run_spec(burst(url), env=env)
    assert fresh_target.record() == []


async def test_every_host_the_run_calls_is_checked(fresh_target, s3_server, bucket, aws_env):
    spec = {
        **burst("http://example.invalid/"),  # a name that does not resolve is left to connect
        "scalingProbe": {"url": f"{fresh_target.url}/health"},
        "uploads": {
            "endpoint": s3_server.url,
            "bucket": bucket,
            "perRequest": 1,
            "source": {"synthetic": {"sizeBytes": 16}},
        },
    }
    with pytest.raises(ConfigError) as refused:
        await run_spec(spec, env={**aws_env, **policy_env({"deny": ["127.0.0.0/8"]})})
    fields = [problem.split(":")[0] for problem in str(refused.value).split("; ")]
    assert fields == ["spec.scalingProbe.url", "spec.uploads.endpoint"]
    assert fresh_target.record() == []


@pytest.mark.parametrize("denied", ["127.0.0.1/32", "localhost"])
async def test_a_redirect_towards_a_denied_host_is_counted_and_never_followed(fresh_target, denied):
    # The first hop (127.0.0.2) is allowed; it points at the recording target on a denied
    # address or name. herd follows no redirect: the 302 is the endpoint's answer.
    location = f"http://localhost:{port_of(fresh_target.url)}/leak"
    if denied != "localhost":
        location = f"{fresh_target.url}/leak"
    async with redirecting("127.0.0.2", location) as url:
        report = await run_spec(burst(url, requests=4), env=policy_env({"deny": [denied]}))
    assert report.status_codes == {"302": 4} and report.requests.sent == 4
    assert fresh_target.record() == []


async def test_an_allow_list_admits_its_names_and_refuses_other_hosts(fresh_target):
    port = port_of(fresh_target.url)
    allowed = policy_env({"allow": ["localhost"]})
    report = await run_spec(burst(f"http://localhost:{port}/", requests=3), env=allowed)
    assert report.requests.ok == 3
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1 is in no allowed network"):
        await run_spec(burst(f"http://127.0.0.1:{port}/"), env=allowed)
    assert len(fresh_target.record()) == 3


async def test_without_a_policy_nothing_is_refused(fresh_target):
    url = f"http://localhost:{port_of(fresh_target.url)}/"
    report = await run_spec(burst(url, requests=3), env={})
    assert report.requests.ok == 3


async def test_a_malformed_policy_names_the_variable(fresh_target):
    with pytest.raises(ConfigError, match="HERD_RUNNER_POLICY is not a valid runner policy"):
        await run_spec(burst(fresh_target.url), env={"HERD_RUNNER_POLICY": '{"targets": 1}'})
    assert fresh_target.record() == []


async def test_a_time_bound_closed_loop_stops_at_the_request_ceiling(fresh_target):
    spec = {
        "target": {"url": fresh_target.url},
        "load": {"pattern": "concurrency", "concurrency": 4, "duration": "30s"},
    }
    started = time.monotonic()
    reports = await asyncio.gather(
        *(
            LoadRun(
                loadtest(spec),
                RunOptions(
                    share=Share(index, 2), env=policy_env(maxRequests=21), handle_signals=False
                ),
            ).execute()
            for index in range(2)
        )
    )
    elapsed = time.monotonic() - started
    assert [report.requests.sent for report in reports] == [11, 10]  # 21 together
    assert all(report.stopped == "max_requests" for report in reports)
    assert all(report.requests.never_sent == 0 for report in reports)
    assert len(fresh_target.record()) == 21
    assert elapsed < 30 / 3  # it ended at the ceiling, not at the duration


def test_the_processes_of_one_runner_share_the_ceiling(fresh_target, tmp_path: Path):
    spec = {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": {"name": "ceiling"},
        "spec": {
            "target": {"url": fresh_target.url},
            "load": {"pattern": "concurrency", "concurrency": 4, "duration": "30s"},
        },
    }
    (tmp_path / "loadtest.yaml").write_text(yaml.safe_dump(spec))
    command = [
        sys.executable, "-m", "herd.cli", "run", str(tmp_path / "loadtest.yaml"),
        "--processes", "2", "--report", str(tmp_path / "report.json"), "--quiet",
    ]  # fmt: skip
    env = {"PATH": "", **policy_env(maxRequests=17)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"]["sent"] == 17 and report["stopped"] == "max_requests"
    assert len(fresh_target.record()) == 17


async def test_under_a_policy_uploads_go_only_where_the_spec_says(
    fresh_target, s3_server, bucket, aws_env, monkeypatch
):
    # A Secret's keys become runner variables: one could point botocore at a proxy (whose
    # address no look-up of the S3 host would check). Under a policy it takes none.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    env = {**aws_env, **policy_env({"deny": ["169.254.0.0/16"]})}
    report = await burst_with_uploads(fresh_target, uploads_to(s3_server.url, bucket), 4, env=env)
    assert report.uploads is not None and report.uploads.objects == 12
    assert report.uploads.failed == 0 and report.requests.ok == 4


async def test_a_connection_the_up_front_check_let_through_is_refused_at_the_socket(fresh_target):
    # What DNS answered later, or a look-up too slow to check up front, still meets the
    # connector: a request to a denied address fails as target_denied and never arrives.
    guard = TargetGuard(TargetPolicy.model_validate(LOOPBACK_DENIED))
    for url in (fresh_target.url, f"http://localhost:{port_of(fresh_target.url)}"):
        async with open_session(2, 5.0, guard=guard) as session:
            with pytest.raises(Exception) as refused:
                await session.get(f"{url}/")
        assert classify_exception(refused.value) == "target_denied"
    assert fresh_target.record() == []
