"""herd's peak memory against endpoints that send too much: a 1 GB body, an endless
chunked stream and a gzip body that inflates to 1 GB, each a one-request run measured
with ``/usr/bin/time -v`` (its "Maximum resident set size").

    python bench/body_memory.py                    # 1 GiB bodies, an 8 s stream
    python bench/body_memory.py --size-mib 256 --stream-seconds 3

The server is a separate process on 127.0.0.1; herd runs with ``--processes 1`` so the
process measured is the one reading the bodies. A run of nothing (a 2-byte body) gives
herd's own baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

PYTHON = sys.executable
HERD = str(Path(PYTHON).with_name("herd"))
TIME = "/usr/bin/time"
_CHUNK = 64 * 1024


def serve(port: int) -> None:
    """The endpoint: /small, /bytes/N, /gzip/N (N zero bytes, compressed), /stream."""
    from aiohttp import web

    block = b"x" * _CHUNK
    compressed: dict[int, bytes] = {}

    def gzip_of_zeros(size: int) -> bytes:
        if size not in compressed:
            compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            zeros, parts = bytes(1 << 20), []
            for start in range(0, size, len(zeros)):
                parts.append(compressor.compress(zeros[: min(len(zeros), size - start)]))
            compressed[size] = b"".join([*parts, compressor.flush()])
        return compressed[size]

    async def small(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def sized(request: web.Request) -> web.StreamResponse:
        size = int(request.match_info["size"])
        response = web.StreamResponse(headers={"Content-Length": str(size)})
        await response.prepare(request)
        for start in range(0, size, _CHUNK):
            await response.write(block[: min(_CHUNK, size - start)])
        await response.write_eof()
        return response

    async def gzipped(request: web.Request) -> web.Response:
        body = gzip_of_zeros(int(request.match_info["size"]))
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # herd hangs up at its timeout
            while True:
                await response.write(block)
        return response

    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_get("/bytes/{size}", sized)
    app.router.add_get("/gzip/{size}", gzipped)
    app.router.add_get("/stream", endless)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def measure(directory: Path, name: str, url: str, timeout: float) -> dict:
    spec = directory / f"{name}.yaml"
    spec.write_text(
        json.dumps(
            {
                "apiVersion": "herd.dev/v1alpha1",
                "kind": "LoadTest",
                "metadata": {"name": name},
                "spec": {
                    "target": {"url": url, "timeout": f"{timeout}s"},
                    "load": {"pattern": "burst", "requests": 1},
                },
            }
        )
    )
    report = directory / f"{name}.json"
    command = [TIME, "-v", HERD, "run", "-q", "--processes", "1", "--report", str(report)]
    done = subprocess.run(
        [*command, str(spec)], capture_output=True, text=True, timeout=timeout + 120
    )
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr)
    if rss is None or not report.exists():
        raise RuntimeError(f"{name}: no measurement\n{done.stderr[-2000:]}")
    result = json.loads(report.read_text())
    return {
        "run": name,
        "peak_rss_mib": round(int(rss.group(1)) / 1024, 1),
        "wall": wall.group(1) if wall else None,
        "errors": result["errors"],
        "responses": result.get("responses"),
        "event_loop_lag_max_seconds": (result["client"]["event_loop_lag_seconds"] or {}).get("max"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--stream-seconds", type=float, default=8.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    server = subprocess.Popen([PYTHON, __file__, "--serve", str(port)])
    try:
        wait_for_port(port)
        base, size = f"http://127.0.0.1:{port}", args.size_mib << 20
        runs = [
            ("baseline", f"{base}/small", 60.0),
            (f"body-{args.size_mib}mib", f"{base}/bytes/{size}", 600.0),
            (f"gzip-{args.size_mib}mib", f"{base}/gzip/{size}", 600.0),
            (f"stream-{int(args.stream_seconds)}s", f"{base}/stream", args.stream_seconds),
        ]
        with tempfile.TemporaryDirectory() as directory:
            for name, url, timeout in runs:
                print(json.dumps(measure(Path(directory), name, url, timeout)), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
