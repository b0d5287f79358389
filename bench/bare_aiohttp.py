"""The baseline herd must beat: a bare aiohttp closed loop, no instrumentation.

``python bench/bare_aiohttp.py URL CONNECTIONS SECONDS [uvloop|asyncio]`` prints one
JSON line: {"requests": n, "seconds": s, "rps": r}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp


async def closed_loop(url: str, connections: int, seconds: float) -> dict:
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        done = 0
        deadline = time.perf_counter() + seconds

        async def one_connection() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(url) as response:
                    await response.read()
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {"requests": done, "seconds": elapsed, "rps": done / elapsed}


def main() -> None:
    url, connections, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    flavour = sys.argv[4] if len(sys.argv) > 4 else "uvloop"
    coroutine = closed_loop(url, connections, seconds)
    if flavour == "uvloop":
        import uvloop

        result = uvloop.run(coroutine)
    else:
        result = asyncio.run(coroutine)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
