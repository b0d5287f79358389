"""One runner's execution of a LoadTest: the composition root of the engine.

    prepare (expand secrets, plan, pools)  ->  stage (prestage mode)  ->  release
    ->  issue (pattern)  ->  drain  ->  clean up staged objects  ->  report

``maxDuration`` bounds all of it. SIGINT/SIGTERM stop issuing, let in-flight
requests finish for ``drainTimeout`` (a second signal cuts that short), and the
report is still written. The engine knows nothing of Kubernetes: the operator's
runner Jobs call the same ``LoadRun`` with their share of the load.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import aiohttp

from herd.api.policy import RunnerPolicy, runner_policy_from_env
from herd.api.report import Report
from herd.api.spec import LoadTest, LoadTestSpec
from herd.engine import patterns
from herd.engine.body import BodyError, BodyRenderer, RequestContext, StagedObject
from herd.engine.burst_release import HeldBurst
from herd.engine.calls import Caller, CallSettings, open_session
from herd.engine.dispatch import Dispatcher
from herd.engine.env_expansion import (
    CREDENTIAL_VARIABLES,
    Redactor,
    describe_missing,
    expand_headers,
    expand_url,
    missing_variables,
)
from herd.engine.errors import ConfigError, SetupError
from herd.engine.gc_pauses import setup_objects_frozen
from herd.engine.histogram import Histogram
from herd.engine.planning import Plan
from herd.engine.probe import ScalingProbe
from herd.engine.recorder import Listener, Recorder
from herd.engine.records import now
from herd.engine.reporting import RunFacts, build_report
from herd.engine.request_log import RequestLog, TextSink
from herd.engine.schedule import Share
from herd.engine.staging import Stager, StagingFailed, UploadStats, upload_files
from herd.engine.target_policy import TargetGuard

log = logging.getLogger(__name__)

_LOOP_LAG_INTERVAL = 0.05
_SPARE_FILES = 64  # descriptors beyond the pools: logs, DNS, the metrics server
# A burst's connections are opened this long before a fixed release time: time enough
# to open them, and well inside aiohttp's 15 s and servers' usual 60 s idle timeouts.
_PREPARE_AHEAD = 3.0


@dataclass(frozen=True)
class RunOptions:
    run_id: str | None = None
    share: Share = field(default_factory=Share)
    release_at: float | None = None
    """Wall-clock time (epoch seconds) to start the load, after staging: runners
    started apart still release their bursts together."""
    env: Mapping[str, str] | None = None
    """Where ``${VAR}`` comes from; the process environment by default."""
    handle_signals: bool = True
    request_log: TextSink | None = None
    """Where to write one JSON line per finished request (``--requests-log``)."""
    origin: float | None = None
    """``now()`` time the run counts from (default: when ``execute`` starts). The
    processes of one runner share their parent's, so their timelines line up."""
    release_gate: Callable[[], Awaitable[float | None]] | None = None
    """Awaited after staging; returns the release time (epoch seconds) or None for at
    once. A runner's processes use it to release together once all have staged."""


def new_run_id(name: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{name}-{stamp}-{secrets.token_hex(2)}"


def ensure_file_limit(needed: int) -> None:
    """Raise the soft descriptor limit to what the pools need, or refuse clearly."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    wanted = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    with suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft < needed:
        raise SetupError(
            f"this load needs about {needed} open connections but the process may open only "
            f"{soft} files (ulimit -n); raise the limit or split the load over more runners"
        )


def install_stop_signals(
    loop: asyncio.AbstractEventLoop, request_stop: Callable[[str], None], enabled: bool
) -> list[signal.Signals]:
    """Make SIGINT and SIGTERM call ``request_stop(name)``: a stopped run drains and
    accounts for every request. Returns what was installed, for ``remove_signal_handler``
    (nothing when not ``enabled``, or off the main thread, where handlers cannot go)."""
    if not enabled:
        return []
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, request_stop, sig.name)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    return installed


class LoadRun:
    def __init__(self, loadtest: LoadTest, options: RunOptions | None = None):
        self.loadtest = loadtest
        self.options = options or RunOptions()
        self.run_id = self.options.run_id or new_run_id(loadtest.metadata.name)
        self.redactor = Redactor()
        env = self.options.env if self.options.env is not None else os.environ
        self.redactor.add_credentials(env, CREDENTIAL_VARIABLES)  # the AWS SDK's, for uploads
        self.plan = Plan(loadtest.spec.load, loadtest.spec.target, self.options.share)
        self.phase = "preparing"
        self.recorder: Recorder | None = None
        # Read while the run goes on (the metrics exporter): set when execute() starts.
        self.listeners: list[Listener] = []  # added to the recorder's listeners
        self.loop_lag: Histogram | None = None
        self.probe: ScalingProbe | None = None
        self.upload_stats = UploadStats() if loadtest.spec.uploads else None
        self.stopped: str | None = None
        self._stop_requested = asyncio.Event()
        self._drain_cut_short = asyncio.Event()
        self._dispatcher: Dispatcher | None = None
        self._started = 0.0
        self._policy: RunnerPolicy | None = None  # the operator's, from HERD_RUNNER_POLICY

    # -- control ---------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Stop issuing; a second request also cuts the drain short."""
        if self._stop_requested.is_set():
            self._drain_cut_short.set()
            return
        self.stopped = reason
        if self._dispatcher is not None:
            self._dispatcher.stop(reason)
        self._stop_requested.set()

    def elapsed(self) -> float:
        return now() - self._started if self._started else 0.0

    # -- the run ---------------------------------------------------------------

    def check(self) -> None:
        """Expand ``${VAR}`` and render a sample body: config errors before any traffic."""
        self._prepare()

    async def execute(self) -> Report:
        spec = self.loadtest.spec
        settings, renderer = self._prepare()
        uploads = spec.uploads
        ensure_file_limit(
            self.plan.pool_size + (uploads.concurrency if uploads else 0) + _SPARE_FILES
        )

        loop = asyncio.get_running_loop()
        started_at = datetime.now(UTC)
        self._started = self.options.origin if self.options.origin is not None else now()
        recorder = self.recorder = Recorder(self._started, self.plan.bucket_seconds)
        recorder.listeners.extend(self.listeners)
        if self.upload_stats is not None:
            self.upload_stats.on_staged = recorder.timeline.upload_done
        if self.options.request_log is not None:
            recorder.listeners.append(RequestLog(self.options.request_log, self._started))
        loop_lag = self.loop_lag = Histogram()
        monitor: asyncio.Task[None] | None = None
        guard = self._target_guard()
        probe = self.probe = self._scaling_probe(guard)
        if guard is not None:
            await self._refuse_denied_targets(guard, settings.url, probe)
        probing = loop.create_task(probe.run()) if probe else None
        signals = install_stop_signals(loop, self.request_stop, self.options.handle_signals)
        load_started = load_ended = self._started
        load_started_wall: datetime | None = None
        cpu_at_load_start = time.process_time()
        try:
            async with AsyncExitStack() as stack:
                target = spec.target
                session = await stack.enter_async_context(
                    open_session(
                        self.plan.pool_size,
                        target.connect_timeout,
                        trace_wire=self.plan.pattern == "burst",
                        guard=guard,
                    )
                )
                stager: Stager | None = None
                if uploads is not None:
                    assert self.upload_stats is not None  # made with the uploads, in __init__
                    key_prefix = f"{uploads.prefix}{self.run_id}/"
                    stager = await stack.enter_async_context(
                        Stager(uploads, key_prefix, self.upload_stats, guard)
                    )
                prestaged: dict[int, list[StagedObject] | StagingFailed] | None = None
                if stager is not None and stager.spec.mode == "prestage":
                    prestaged = {}
                caller = Caller(
                    session,
                    settings,
                    recorder,
                    self.plan.pool_size,
                    target.pool_timeout,
                    target.timeout,
                )
                dispatcher = self._dispatcher = Dispatcher(
                    caller,
                    renderer,
                    recorder,
                    self.options.share.index,
                    inline_stager=stager if uploads and uploads.mode == "inline" else None,
                    prestaged=prestaged,
                )
                if self._stop_requested.is_set():
                    dispatcher.stop(self.stopped or "stopped")
                try:
                    async with asyncio.timeout(spec.load.max_duration) as deadline:
                        if stager is not None and prestaged is not None:
                            await self._prestage(stager, prestaged)
                        await self._wait_for_release(
                            partial(self._hold_burst, caller, session, settings.url)
                        )
                        # The client's own health is judged over the load only: building
                        # the S3 client and staging block the loop (botocore loads its
                        # models) before any call is released.
                        load_started = now()
                        load_started_wall = datetime.now(UTC)
                        cpu_at_load_start = time.process_time()
                        monitor = loop.create_task(_watch_loop_lag(loop_lag))
                        with setup_objects_frozen():
                            await self._issue_and_drain(dispatcher)
                except TimeoutError:
                    if not deadline.expired():
                        raise
                    self.stopped = self.stopped or "max_duration"
                    dispatcher.stop("max_duration")
                    await dispatcher.abort("max_duration")
                load_ended = now()
                cpu_during_load = time.process_time() - cpu_at_load_start
                await _stop(monitor)
                await _stop(probing)
                if stager is not None and stager.spec.cleanup:
                    self.phase = "cleaning up"
                    await stager.cleanup()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            await _stop(monitor)
            await _stop(probing)
        self.phase = "done"
        recorder.settle()  # the request log's listener writes the last lines
        load_seconds = max(0.0, load_ended - load_started)
        dispatcher_launched = self._dispatcher.launched if self._dispatcher else 0
        planned = self.plan.planned if self.plan.planned is not None else dispatcher_launched
        unaccounted = planned - recorder.sent - sum(recorder.never_sent.values())
        if unaccounted > 0:
            recorder.on_never_sent(self.stopped or "not_started", unaccounted)
        elif unaccounted < 0:  # would mean a request was counted twice: a bug, say it loudly
            log.error("accounting error: %d more requests counted than planned", -unaccounted)
        facts = RunFacts(
            loadtest=self.loadtest,
            run_id=self.run_id,
            share=self.options.share,
            plan=self.plan,
            started_at=started_at,
            load_started_at=load_started_wall,
            planned=planned,
            load_seconds=load_seconds,
            cpu_utilization=cpu_during_load / load_seconds if load_seconds > 0 else 0.0,
            loop_lag=loop_lag,
            stopped=self.stopped,
            staging_seconds=self._staging_seconds(),
            scaling_probe=probe.summary() if probe else None,
        )
        return build_report(facts, recorder, self.upload_stats, self.redactor)

    def _scaling_probe(self, guard: TargetGuard | None) -> ScalingProbe | None:
        spec = self.loadtest.spec
        if spec.scaling_probe is None:
            return None
        env = self.options.env if self.options.env is not None else os.environ
        return ScalingProbe(
            spec.scaling_probe, env, self.redactor, self._started, spec.load.max_duration, guard
        )

    def _target_guard(self) -> TargetGuard | None:
        policy = self._policy
        return TargetGuard(policy.targets) if policy and policy.targets.has_rules else None

    async def _refuse_denied_targets(
        self, guard: TargetGuard, target_url: str, probe: ScalingProbe | None
    ) -> None:
        """Refuse the run before any traffic when a host it calls resolves only to denied
        addresses: every request would fail, and a report of failures measures nothing."""
        urls = {"spec.target.url": target_url}
        if probe is not None:
            urls["spec.scalingProbe.url"] = probe.url
        uploads = self.loadtest.spec.uploads
        if uploads is not None and uploads.endpoint:
            urls["spec.uploads.endpoint"] = uploads.endpoint
        problems = await guard.refusals(urls)
        if problems:
            raise ConfigError("; ".join(problems))

    def _prepare(self) -> tuple[CallSettings, BodyRenderer]:
        """Expand ``${VAR}`` and check the body renders, before any traffic."""
        spec = self.loadtest.spec
        target = spec.target
        env = self.options.env if self.options.env is not None else os.environ
        try:
            self._policy = runner_policy_from_env(env)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        missing = missing_variables(_expanded_fields(spec), env)
        if missing:
            raise ConfigError(describe_missing(missing))
        url = expand_url(target.url, env, self.redactor, "spec.target.url")
        headers = expand_headers(target.headers, env, self.redactor, "spec.target.headers")
        uploads = spec.uploads
        sample = [
            StagedObject(bucket="b", key="k", size=1, uri="s3://b/k", url="https://example/k")
        ] * (uploads.per_request if uploads else 0)
        try:
            renderer = BodyRenderer(target.body, env, self.redactor)
            renderer.render(RequestContext(0, self.options.share.index), sample)
        except BodyError as error:
            raise ConfigError(str(error)) from None
        if uploads is not None and uploads.source.directory is not None:
            upload_files(uploads.source.directory)  # its problems before any traffic
        settings = CallSettings(
            method=target.effective_method,
            url=url,
            headers=headers,
            worker_header=target.worker_id.header,
            worker_json_path=target.worker_id.json_path,
            keep_body_bytes=target.keep_response_bytes,
        )
        return settings, renderer

    async def _prestage(
        self, stager: Stager, prestaged: dict[int, list[StagedObject] | StagingFailed]
    ) -> None:
        self.phase = "staging"
        indices = self.plan.indices or range(0)

        async def stage_one(index: int) -> None:
            try:
                prestaged[index] = await stager.stage(index)
            except StagingFailed as failure:
                prestaged[index] = failure

        staging = asyncio.gather(*(stage_one(index) for index in indices))
        if not await self._until_stop(staging):
            staging.cancel()
            with suppress(asyncio.CancelledError):
                await staging

    async def _hold_burst(self, caller: Caller, session: aiohttp.ClientSession, url: str) -> None:
        """Open and cork a burst's connections, unless ``load.preconnect`` is false."""
        if self.plan.pattern != "burst" or self.loadtest.spec.load.preconnect is False:
            return
        if self._stop_requested.is_set():
            return
        self.phase = "connecting"
        preparing = asyncio.ensure_future(HeldBurst.prepare(session, url, self.plan.pool_size))
        if await self._until_stop(preparing):
            caller.held = preparing.result()
        else:
            preparing.cancel()

    async def _wait_for_release(self, prepare: Callable[[], Awaitable[None]]) -> None:
        """Wait for the load's start, having run ``prepare`` (a burst's connections) just
        before it: before saying ready to a release gate, or ``_PREPARE_AHEAD`` before a
        fixed release time, so what it opens is not left idle past keep-alive timeouts
        while other runners start up and stage."""
        release_at = self.options.release_at
        gate = self.options.release_gate
        if self._stop_requested.is_set():
            return
        if release_at is not None:
            self.phase = "waiting for release"
            early = release_at - _PREPARE_AHEAD - time.time()
            waiting = asyncio.ensure_future(asyncio.sleep(max(0.0, early)))
            if not await self._until_stop(waiting):
                waiting.cancel()
                return
        await prepare()
        if gate is not None:
            self.phase = "waiting for release"
            opened = asyncio.ensure_future(gate())
            if not await self._until_stop(opened):
                opened.cancel()
                return
            release_at = opened.result()
        if release_at is None:
            return
        self.phase = "waiting for release"
        delay = release_at - time.time()
        if delay > 0:
            waiting = asyncio.ensure_future(asyncio.sleep(delay))
            if not await self._until_stop(waiting):
                waiting.cancel()

    async def _issue_and_drain(self, dispatcher: Dispatcher) -> None:
        """Issue the load, then drain: a time-bound load's requests may run until its
        end and ``drainTimeout`` beyond; a count-bound one's each until its timeout
        (``maxDuration`` bounds both); after a stop, ``drainTimeout``."""
        plan, load = self.plan, self.loadtest.spec.load
        if dispatcher.stopping:
            return
        self.phase = "running"
        start = now()
        ends_at = start + load.load_seconds if load.load_seconds else None
        ceiling = self._request_ceiling()
        if plan.pattern == "burst":
            assert plan.indices is not None  # a burst's and a rate's are known up front
            issuing = patterns.run_burst(dispatcher, plan.indices, asyncio.Event())
        elif plan.pattern == "concurrency":
            issuing = patterns.run_concurrency(
                dispatcher,
                self.options.share,
                plan.concurrency,
                plan.indices,
                ends_at,
                ceiling,
            )
        else:
            pool_timeout = self.loadtest.spec.target.pool_timeout
            assert plan.indices is not None
            issuing = patterns.run_rate(dispatcher, load, plan.indices, pool_timeout, start)
        issuer = asyncio.ensure_future(issuing)
        try:
            issued = await self._until_stop(issuer)
            if ceiling is not None and dispatcher.launched >= len(ceiling):
                self.stopped = self.stopped or "max_requests"
        finally:
            # At once on a stop: a slot the drain frees must not let it send again.
            if not issuer.done():
                issuer.cancel()
                with suppress(asyncio.CancelledError):
                    await issuer
        drain = load.drain_timeout
        if issued and ends_at is None:
            # Bounded by count: every request may take its full timeout.
            await dispatcher.wait(interrupt=self._stop_requested)
        elif issued and ends_at is not None:
            if ends_at > now():  # all issued before the load's end (a requests cap)
                await dispatcher.wait(timeout=ends_at - now(), interrupt=self._stop_requested)
            if not self._stop_requested.is_set():  # the drain counts from the load's end
                drain = max(0.0, ends_at + load.drain_timeout - now())
        if dispatcher.active:
            self.phase = "draining"
            finished = await dispatcher.wait(timeout=drain, interrupt=self._drain_cut_short)
            if not finished:
                await dispatcher.abort("aborted")

    def _request_ceiling(self) -> range | None:
        """This share's indices below the operator's request cap, for a loop only time
        bounds (HERD_RUNNER_POLICY's maxRequests, all runners together)."""
        cap = self._policy.max_requests if self._policy else None
        if cap is None or self.plan.pattern != "concurrency" or self.plan.indices is not None:
            return None
        share = self.options.share
        return range(share.offset, cap, share.stride)

    async def _until_stop(self, work: asyncio.Future[Any]) -> bool:
        """Await ``work`` unless a stop comes first; True when the work finished."""
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the hard deadline: take the work down with us
            work.cancel()
            raise
        finally:
            stop.cancel()
        if work.done():
            work.result()
            return True
        return False

    def _staging_seconds(self) -> float:
        stats = self.upload_stats
        if stats is None or stats.first_start is None or stats.last_end is None:
            return 0.0
        return stats.last_end - stats.first_start


def _expanded_fields(spec: LoadTestSpec) -> list[tuple[str, str]]:
    """Every field ``${VAR}`` expands in, with its path."""
    target, probe = spec.target, spec.scaling_probe
    fields = [("spec.target.url", target.url)]
    fields += [(f"spec.target.headers.{name}", value) for name, value in target.headers.items()]
    if target.body is not None:
        fields.append(("spec.target.body", target.body))
    if probe is not None:
        fields.append(("spec.scalingProbe.url", probe.url))
        fields += [
            (f"spec.scalingProbe.headers.{name}", value) for name, value in probe.headers.items()
        ]
    return fields


async def _stop(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
    if task is not None:
        with suppress(asyncio.CancelledError):
            await task


async def _watch_loop_lag(histogram: Histogram) -> None:
    """Record how late the event loop wakes a timer: a busy loop delays every request."""
    while True:
        before = now()
        await asyncio.sleep(_LOOP_LAG_INTERVAL)
        histogram.record(max(0.0, now() - before - _LOOP_LAG_INTERVAL))
