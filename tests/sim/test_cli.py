"""``herd sim`` as a user runs it: a real process that announces itself, serves, and stops
cleanly on SIGINT."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


async def test_cli_serves_until_sigint() -> None:
    command = [sys.executable, "-u", "-c", "from herd.cli.sim import sim; sim()"]
    arguments = ["--port", "0", "--cold-start", "50ms", "--service-time", "0.02", "--seed", "3"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "loadgen")}
    process = await asyncio.create_subprocess_exec(
        *command, *arguments, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)).decode()
        match = re.match(r"herd sim listening on (http://127\.0\.0\.1:\d+) \((.*)\)$", line)
        assert match, line
        assert "cold_start=50ms" in match.group(2) and "service_time=20ms" in match.group(2)

        url = match.group(1)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.post(url + "/predict", json={}) as response:
                assert response.status == 200
                worker = response.headers["X-Runpod-Worker-Id"]
            async with session.get(url + "/_sim/record") as response:
                record = await response.json()
        assert record["summary"]["requests_per_worker"] == {worker: 1}

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=10.0) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
