"""The cluster's controllers the tests play: the Job controller and the kubelet.

The API stand-in runs no controllers, so these do their part over its HTTP API, as
the real ones do:

- ``JobController`` gives an Indexed Job one pod per completion index (with the labels,
  annotation, owner reference and ``JOB_COMPLETION_INDEX`` the real controller sets) and
  marks the Job ``Complete`` or ``Failed`` from its pods' phases: with
  ``backoffLimitPerIndex``, a failed index fails alone and the Job fails (reason
  ``FailedIndexes``) once every index has ended, or at once past ``maxFailedIndexes``;
  without, past ``backoffLimit``.
- ``Kubelet`` runs each pod's runner container as a local process: the pod's ConfigMap
  volume becomes a folder, ``emptyDir`` a folder, the termination-message path a file;
  ``$(VAR)`` is expanded from the container's env and ``herd`` is this interpreter's
  ``herd``. What the process writes to its termination-message file (at most 4096 bytes,
  like the kubelet keeps) goes into the pod's status with its exit code (128 + N when
  signal N ended it, as container runtimes say); with ``FallbackToLogsOnError``, a failed
  process that wrote none leaves its log's tail there. ``kill`` plays the OOM killer or a
  lost node: SIGKILL to every process of the pod's container.
  Each pod has its own network in a cluster, so every runner serves its ``metrics``
  container port; here they share one, so the kubelet gives each pod's port a free port on
  127.0.0.1 (``Kubelet.ports``) and tells ``herd run`` to serve there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from herd.demo.services import free_port
from herd_operator.kube import CONFIGMAPS, JOBS, PODS
from tests.operator_e2e.api import Api, ApiError

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
TERMINATION_MESSAGE_LIMIT = 4096
LOG_FALLBACK_BYTES, LOG_FALLBACK_LINES = 2048, 80
"""What ``FallbackToLogsOnError`` takes of the log: the kubelet's limits."""
RUNNER_TIMEOUT = 60.0
"""No runner process in these tests may take longer (it is killed, and the pod fails)."""
STEP_SECONDS = 0.1
LIFETIME = 300.0
"""No test keeps its controllers longer (pytest's own timeout is shorter)."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_finished(job: dict[str, Any]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions)


async def keep_running(step: Callable[[], Awaitable[None]]) -> None:
    """Call ``step`` every ``STEP_SECONDS`` until cancelled (or ``LIFETIME`` has passed)."""
    deadline = time.monotonic() + LIFETIME
    while time.monotonic() < deadline:
        await step()
        await asyncio.sleep(STEP_SECONDS)


_FAILURE_MESSAGES = {
    "BackoffLimitExceeded": "Job has reached the specified backoff limit",
    "FailedIndexes": "Job has failed indexes",
    "MaxFailedIndexesExceeded": "Job has exceeded the specified maximal number of failed indexes",
}


def _failed(reason: str) -> dict[str, Any]:
    return {
        "type": "Failed",
        "status": "True",
        "reason": reason,
        "message": _FAILURE_MESSAGES[reason],
        "lastTransitionTime": _now(),
    }


class JobController:
    def __init__(self, api: Api) -> None:
        self.api = api
        self._started: set[str] = set()  # Job uids that have their pods

    async def step(self) -> None:
        for job in await self.api.list(JOBS):
            meta = job["metadata"]
            if meta["uid"] not in self._started and not job["spec"].get("suspend"):
                await self._create_pods(job)
                self._started.add(meta["uid"])
            elif meta["uid"] in self._started and not _is_finished(job):
                await self._update_status(job)

    async def _create_pods(self, job: dict[str, Any]) -> None:
        meta, spec = job["metadata"], job["spec"]
        template = spec["template"]
        for index in range(spec["completions"]):
            pod_spec = {
                **template["spec"],
                "hostname": f"{meta['name']}-{index}",
                "containers": [
                    {
                        **container,
                        "env": [
                            *container.get("env", []),
                            {"name": "JOB_COMPLETION_INDEX", "value": str(index)},
                        ],
                    }
                    for container in template["spec"]["containers"]
                ],
            }
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{meta['name']}-{index}-{secrets.token_hex(3)[:5]}",
                    "namespace": meta["namespace"],
                    "labels": {
                        **template["metadata"].get("labels", {}),
                        JOB_NAME_LABEL: meta["name"],
                        INDEX_KEY: str(index),
                    },
                    "annotations": {INDEX_KEY: str(index)},
                    "ownerReferences": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "Job",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": pod_spec,
            }
            await self.api.create(PODS, pod)
        status = {"startTime": _now(), "active": spec["completions"]}
        await self.api.patch(JOBS, meta["namespace"], meta["name"], {"status": status}, "status")

    async def _update_status(self, job: dict[str, Any]) -> None:
        meta, spec = job["metadata"], job["spec"]
        pods = await self.api.list(PODS, meta["namespace"], f"{JOB_NAME_LABEL}={meta['name']}")
        phases = [(pod.get("status") or {}).get("phase") for pod in pods]
        succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
        status: dict[str, Any] = {
            "active": len(pods) - succeeded - failed,
            "succeeded": succeeded,
            "failed": failed,
        }
        if spec.get("backoffLimitPerIndex") is not None:
            failed_indexes = sorted(
                int(pod["metadata"]["annotations"][INDEX_KEY])
                for pod in pods
                if (pod.get("status") or {}).get("phase") == "Failed"
            )
            status["failedIndexes"] = ",".join(map(str, failed_indexes))
            ended = succeeded + failed == spec["completions"]
            if failed > spec.get("maxFailedIndexes", spec["completions"]):
                status["conditions"] = [_failed("MaxFailedIndexesExceeded")]
            elif ended and failed:
                status["conditions"] = [_failed("FailedIndexes")]
        elif failed > spec.get("backoffLimit", 6):
            status["conditions"] = [_failed("BackoffLimitExceeded")]
        if "conditions" not in status and succeeded == spec["completions"]:
            status["completionTime"] = _now()
            status["conditions"] = [
                {"type": "Complete", "status": "True", "lastTransitionTime": _now()}
            ]
        if status != {key: (job.get("status") or {}).get(key) for key in status}:
            await self.api.patch(
                JOBS, meta["namespace"], meta["name"], {"status": status}, "status"
            )


class Kubelet:
    def __init__(self, api: Api, workdir: Path) -> None:
        self.api = api
        self.workdir = workdir
        self._runs: dict[str, asyncio.Task[None]] = {}  # pod uid → its container's run
        self.exit_codes: dict[str, int] = {}  # pod name → exit code, for the tests
        self.ports: dict[str, dict[str, int]] = {}
        """Pod name → its container ports by name → the local port (on 127.0.0.1) for it."""
        self.on_start: Callable[[dict[str, Any]], None] | None = None
        """Called with each pod as its container starts (e.g. to tell Prometheus)."""
        self._processes: dict[str, asyncio.subprocess.Process] = {}  # pod name → container
        self.paused = False
        """While paused, new pods stay Pending (as if not yet scheduled)."""

    async def step(self) -> None:
        if self.paused:
            return
        pods = await self.api.list(PODS)
        alive = {pod["metadata"]["uid"] for pod in pods}
        for uid in [uid for uid in self._runs if uid not in alive]:
            self._runs.pop(uid).cancel()  # the pod was deleted: stop its container
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if uid not in self._runs and not (pod.get("status") or {}).get("phase"):
                self._runs[uid] = asyncio.create_task(self._run_pod(pod))

    def kill(self, pod_name: str) -> None:
        """SIGKILL the pod's container, every process of it (the kernel's OOM killer, a
        node gone): nothing it holds is written anywhere."""
        process = self._processes[pod_name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        for task in self._runs.values():
            task.cancel()
        await asyncio.gather(*self._runs.values(), return_exceptions=True)

    async def _mounts(self, pod: dict[str, Any], folder: Path) -> dict[str, Path]:
        """Each volume as a local folder, by mount path."""
        volumes: dict[str, Path] = {}
        namespace = pod["metadata"]["namespace"]
        for volume in pod["spec"].get("volumes", []):
            path = folder / volume["name"]
            path.mkdir(parents=True)
            if "configMap" in volume:
                config_map = await self.api.get(CONFIGMAPS, namespace, volume["configMap"]["name"])
                for key, text in ((config_map or {}).get("data") or {}).items():
                    (path / key).write_text(text)
            volumes[volume["name"]] = path
        container = pod["spec"]["containers"][0]
        return {mount["mountPath"]: volumes[mount["name"]] for mount in container["volumeMounts"]}

    def _command(
        self,
        container: dict[str, Any],
        mounts: dict[str, Path],
        message_file: Path,
        ports: dict[int, int],
    ) -> tuple[list[str], dict[str, str]]:
        env = {var["name"]: var["value"] for var in container.get("env", []) if "value" in var}

        def local(arg: str) -> str:
            arg = re.sub(r"\$\((\w+)\)", lambda match: env.get(match[1], match[0]), arg)
            if arg == container.get("terminationMessagePath"):
                return str(message_file)
            for mount_path in sorted(mounts, key=len, reverse=True):
                if arg == mount_path or arg.startswith(mount_path + "/"):
                    return str(mounts[mount_path]) + arg[len(mount_path) :]
            return arg

        command = [local(arg) for arg in container["args"]]
        if "--metrics-port" in command[:-1]:  # the pod's own port, on this pod's local port
            at = command.index("--metrics-port") + 1
            command[at] = str(ports.get(int(command[at]), command[at]))
            command += ["--metrics-host", "127.0.0.1"]
        if command[0] == "herd":
            command[:1] = [sys.executable, "-m", "herd.cli"]
        env = {name: local(value) for name, value in env.items()}
        return command, {**env, "PATH": os.environ.get("PATH", "")}

    async def _run_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        container = pod["spec"]["containers"][0]
        folder = self.workdir / meta["name"]
        message_file = folder / "termination-log"
        mounts = await self._mounts(pod, folder)
        message_file.touch()
        declared = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        local_ports = {name: free_port() for name in declared}
        self.ports[meta["name"]] = local_ports
        by_number = {declared[name]: local_ports[name] for name in declared}
        command, env = self._command(container, mounts, message_file, by_number)
        if self.on_start is not None:
            self.on_start(pod)
        started = _now()
        await self._set_status(pod, "Running", {"running": {"startedAt": started}})
        with (folder / "output.log").open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                *command, env=env, stdout=output, stderr=output, start_new_session=True
            )
            self._processes[meta["name"]] = process
            try:
                code = await asyncio.wait_for(process.wait(), RUNNER_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
                raise
        code = 128 - code if code < 0 else code  # -N: ended by signal N
        self.exit_codes[meta["name"]] = code
        message = message_file.read_bytes()[:TERMINATION_MESSAGE_LIMIT]
        if not message and code != 0:
            if container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
                lines = (folder / "output.log").read_bytes().splitlines(keepends=True)
                message = b"".join(lines[-LOG_FALLBACK_LINES:])[-LOG_FALLBACK_BYTES:]
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "message": message.decode(errors="replace"),
            "startedAt": started,
            "finishedAt": _now(),
        }
        phase = "Succeeded" if code == 0 else "Failed"
        await self._set_status(pod, phase, {"terminated": terminated})

    async def _set_status(self, pod: dict[str, Any], phase: str, state: dict[str, Any]) -> None:
        container = pod["spec"]["containers"][0]
        status = {
            "phase": phase,
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container["image"],
                    "ready": "running" in state,
                    "restartCount": 0,
                    "state": state,
                }
            ],
        }
        with contextlib.suppress(ApiError):  # the pod may be gone by now
            meta = pod["metadata"]
            await self.api.patch(
                PODS, meta["namespace"], meta["name"], {"status": status}, "status"
            )
