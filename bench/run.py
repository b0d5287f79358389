"""herd against its peers, on this machine: one command, medians of interleaved rounds.

    python bench/run.py                 # full run (about 8 minutes on 2 cores)
    python bench/run.py --smoke         # seconds-long run of every step (what CI runs)

nginx (``return 200``) serves on 127.0.0.1, pinned to the last core; every client is
pinned to core 0 and runs 64 connections for the same time; clients take turns round
after round so drift in the machine hits all of them alike. Then herd alone: an
open-loop run (scheduling lag, never-sent), a 1,000-request burst (spread), one and two
processes (``--processes``) on cores 0 and 0,1, and memory per in-flight request against a
server that holds requests open.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
HERD = str(Path(PYTHON).with_name("herd"))
CONNECTIONS = 64
_NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};
  uwsgi_temp_path {dir}; scgi_temp_path {dir};
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok"; }} }}
}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinned(core: int | str | None, command: list[str]) -> list[str]:
    """``command`` on ``core`` (an index, or a taskset list such as ``0,1``)."""
    return command if core is None else ["taskset", "-c", str(core), *command]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def ensure_peers() -> list[str]:
    """Install what the benchmark runs; returns the peers that are missing."""
    wanted = {"nginx": "nginx-light", "wrk": "wrk", "hey": "hey", "taskset": "util-linux"}
    missing = [pkg for tool, pkg in wanted.items() if shutil.which(tool) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *missing],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    try:
        import locust  # noqa: F401
    except ImportError:
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", "locust>=2.20"], check=False)
    gone = [tool for tool in wanted if shutil.which(tool) is None]
    if subprocess.run([PYTHON, "-c", "import locust"], capture_output=True).returncode:
        gone.append("locust")
    return gone


def run_json(command: list[str], timeout: float) -> dict:
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_second(text: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not match:
        raise RuntimeError(f"no Requests/sec in output:\n{text[-500:]}")
    return float(match.group(1))


def loadtest_file(directory: Path, name: str, url: str, load: dict) -> Path:
    path = directory / f"{name}.yaml"
    document = {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": {"name": name},
        "spec": {"target": {"url": url}, "load": load},
    }
    path.write_text(json.dumps(document))  # JSON is YAML
    return path


def herd_report(core: int | None, spec: Path, directory: Path, timeout: float) -> dict:
    """Run ``spec`` with every instrument on (a /metrics endpoint included); its report."""
    report = directory / f"{spec.stem}-report.json"
    metrics = ["--metrics-port", str(free_port()), "--metrics-host", "127.0.0.1"]
    subprocess.run(
        pinned(core, [HERD, "run", str(spec), "--report", str(report), "-q", *metrics]),
        timeout=timeout,
        check=False,
    )
    return json.loads(report.read_text())


class Bench:
    def __init__(self, seconds: float, directory: Path, client_core: int | None, url: str):
        self.seconds = seconds
        self.directory = directory
        self.core = client_core
        self.url = url

    def clients(self, available: set[str]) -> dict[str, Callable[[], float]]:
        s, url, core, limit = self.seconds, self.url, self.core, self.seconds * 3 + 60
        clients: dict[str, Callable[[], float]] = {}
        if "wrk" in available:
            clients["wrk (C)"] = lambda: per_second(
                subprocess.run(
                    pinned(core, ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{s:g}s", url]),
                    capture_output=True,
                    text=True,
                    timeout=limit,
                    check=True,
                ).stdout
            )
        if "hey" in available:
            clients["hey (Go)"] = lambda: per_second(
                subprocess.run(
                    pinned(
                        core, ["hey", "-c", str(CONNECTIONS), "-z", f"{s:g}s", "-cpus", "1", url]
                    ),
                    capture_output=True,
                    text=True,
                    timeout=limit,
                    check=True,
                ).stdout
            )
        bare = [PYTHON, str(HERE / "bare_aiohttp.py"), url, str(CONNECTIONS), str(s)]
        clients["bare aiohttp + uvloop"] = lambda: run_json(pinned(core, [*bare, "uvloop"]), limit)[
            "rps"
        ]
        clients["bare aiohttp, asyncio"] = lambda: run_json(
            pinned(core, [*bare, "asyncio"]), limit
        )["rps"]
        if "locust" in available:
            clients["Locust FastHttpUser"] = self._locust
        spec = loadtest_file(
            self.directory,
            "closed-loop",
            url,
            {"pattern": "concurrency", "concurrency": CONNECTIONS, "duration": f"{s:g}s"},
        )
        clients["herd (full instrumentation)"] = lambda: herd_report(
            core, spec, self.directory, limit
        )["throughput_rps"]
        return clients

    def _locust(self) -> float:
        prefix = self.directory / "locust"
        subprocess.run(
            pinned(
                self.core,
                [
                    PYTHON,
                    "-m",
                    "locust",
                    "-f",
                    str(HERE / "locustfile.py"),
                    "--headless",
                    "-u",
                    str(CONNECTIONS),
                    "-r",
                    str(CONNECTIONS),
                    "-t",
                    f"{self.seconds:g}s",
                    "-H",
                    self.url.rstrip("/"),
                    "--only-summary",
                    "--csv",
                    str(prefix),
                    "--loglevel",
                    "ERROR",
                ],
            ),
            capture_output=True,
            text=True,
            timeout=self.seconds * 3 + 60,
            check=False,
        )
        for line in (prefix.parent / f"{prefix.name}_stats.csv").read_text().splitlines():
            fields = line.split(",")
            if len(fields) > 9 and fields[1] == "Aggregated":
                return float(fields[9])
        raise RuntimeError("no aggregated row in Locust's stats")


def rounds_of(clients: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(rounds):
        for name, measure in clients.items():  # interleaved: drift hits everyone alike
            try:
                results[name].append(measure())
            except Exception as error:  # a broken peer is reported, not fatal
                print(f"  {name}: failed ({error})", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2 s per client, 1 round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--open-loop-rate", type=float, default=10_000)
    parser.add_argument("--open-loop-seconds", type=float, default=30.0)
    parser.add_argument("--in-flight", type=int, default=10_000)
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.seconds = 1, 2.0
        args.open_loop_rate, args.open_loop_seconds, args.in_flight = 500, 1.0, 200

    missing = ensure_peers()
    cores = os.cpu_count() or 1
    client_core, server_core = (
        (0, cores - 1) if cores > 1 and shutil.which("taskset") else (None, None)
    )
    print(
        f"machine: {cores} cores; client core {client_core}, server core {server_core}; "
        f"missing peers: {', '.join(missing) or 'none'}"
    )
    if shutil.which("nginx") is None:
        sys.exit("nginx is required (apt-get install nginx-light)")

    with tempfile.TemporaryDirectory(prefix="herd-bench-") as tmp:
        directory = Path(tmp)
        port = free_port()
        (directory / "nginx.conf").write_text(_NGINX_CONF.format(dir=tmp, port=port))
        nginx = subprocess.Popen(
            pinned(server_core, ["nginx", "-c", str(directory / "nginx.conf"), "-p", tmp])
        )
        try:
            wait_for_port(port)
            url = f"http://127.0.0.1:{port}/"
            bench = Bench(args.seconds, directory, client_core, url)
            available = {"wrk", "hey", "locust"} - set(missing)
            results = rounds_of(bench.clients(available), args.rounds)
            print_table(results, args)
            open_loop(bench, url, args)
            burst(bench, url)
            multi_core(bench, cores, server_core, args)
        finally:
            nginx.terminate()
            nginx.wait(10)
        memory_per_request(directory, client_core, args.in_flight)


def print_table(results: dict[str, list[float]], args: argparse.Namespace) -> None:
    medians = {name: statistics.median(v) for name, v in results.items() if v and min(v) > 0}
    herd = medians.get("herd (full instrumentation)")
    print(
        f"\nclosed loop, {CONNECTIONS} connections, {args.seconds:g} s, "
        f"median of {args.rounds} interleaved rounds"
    )
    print("| client | requests/s | herd / client |\n|---|---:|---:|")
    for name, value in sorted(medians.items(), key=lambda kv: -kv[1]):
        ratio = f"{herd / value:.2f}" if herd else "-"
        print(f"| {name} | {value:,.0f} | {ratio} |")


def open_loop(bench: Bench, url: str, args: argparse.Namespace) -> None:
    spec = loadtest_file(
        bench.directory,
        "open-loop",
        url,
        {
            "pattern": "rate",
            "rate": args.open_loop_rate,
            "duration": f"{args.open_loop_seconds:g}s",
        },
    )
    report = herd_report(bench.core, spec, bench.directory, args.open_loop_seconds * 3 + 60)
    lag = report["client"]["scheduling_lag_seconds"] or {}
    print(
        f"\nopen loop {args.open_loop_rate:g} req/s for {args.open_loop_seconds:g} s: "
        f"sent {report['requests']['sent']}/{report['requests']['planned']}, never sent "
        f"{report['requests']['never_sent']}, scheduling lag p99 "
        f"{lag.get('p99', 0) * 1000:.2f} ms, max {lag.get('max', 0) * 1000:.2f} ms, "
        f"{report['throughput_rps']:,.0f} req/s"
    )


def burst(bench: Bench, url: str) -> None:
    spec = loadtest_file(bench.directory, "burst", url, {"pattern": "burst", "requests": 1000})
    report = herd_report(bench.core, spec, bench.directory, 120)
    print(
        f"burst of 1000: left the client within "
        f"{report['concurrency']['burst_spread_seconds'] * 1000:.1f} ms"
    )


def multi_core(bench: Bench, cores: int, server_core: int | None, args: argparse.Namespace) -> None:
    """herd's closed loop as 1 and as 2 processes: requests/s and CPU time per request.

    The two processes get cores 0 and 1. With fewer than 3 cores the second one is
    nginx's, so the machine cannot show herd's own scaling in requests/s alone. The CPU
    each request costs says whether a second process costs anything extra: measured as
    the difference between a full-length and a shorter run (of the process tree's
    rusage), so the start-up of each process cancels out.
    """
    if cores < 2 or server_core is None:
        print("\nmulti-core: skipped (needs 2 cores and taskset)")
        return
    long, short = args.seconds, min(args.seconds / 2, max(1.0, args.seconds / 5))
    specs = {
        seconds: loadtest_file(
            bench.directory,
            f"multi-core-{seconds:g}s",
            bench.url,
            {"pattern": "concurrency", "concurrency": CONNECTIONS, "duration": f"{seconds:g}s"},
        )
        for seconds in (long, short)
    }
    shared = " (the second shares nginx's core)" if server_core in (0, 1) else ""
    results: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for processes, core in ((1, "0"), (2, "0,1")):
            runs = {
                seconds: herd_cpu_report(core, spec, bench.directory, processes, seconds)
                for seconds, spec in specs.items()
            }
            (long_report, long_cpu), (short_report, short_cpu) = runs[long], runs[short]
            extra_requests = completed(long_report) - completed(short_report)
            per_request = (long_cpu - short_cpu) / max(1, extra_requests)
            results[processes].append((long_report["throughput_rps"], per_request * 1e6))
    (one, one_cpu), (two, two_cpu) = (
        tuple(statistics.median(column) for column in zip(*results[n], strict=True)) for n in (1, 2)
    )
    print(
        f"\nmulti-core, closed loop {CONNECTIONS} connections, {args.seconds:g} s, median of "
        f"{args.rounds}: 1 process {one:,.0f} req/s ({one_cpu:.1f} µs CPU/request); "
        f"2 processes on cores 0,1{shared} {two:,.0f} req/s ({two_cpu:.1f} µs CPU/request); "
        f"{two / one:.2f}x; CPU per request, 2 processes over 1: {two_cpu / one_cpu:.2f}"
    )


def completed(report: dict) -> int:
    return report["requests"]["ok"] + report["requests"]["failed"]


def herd_cpu_report(
    cores: str, spec: Path, directory: Path, processes: int, seconds: float
) -> tuple[dict, float]:
    """The report of ``herd run --processes N`` on ``cores``, and the CPU seconds its whole
    process tree used (children are reaped, so RUSAGE_CHILDREN includes them)."""
    report = directory / f"{spec.stem}-{processes}-report.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        pinned(
            cores,
            [HERD, "run", str(spec), "--report", str(report), "-q", "--processes", str(processes)],
        ),
        timeout=seconds * 3 + 60,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(report.read_text()), cpu


def memory_per_request(directory: Path, core: int | None, in_flight: int) -> None:
    port = free_port()
    server = subprocess.Popen([PYTHON, str(HERE / "slow_server.py"), str(port), "5"])
    try:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}/"

        def peak_rss_kib(requests: int) -> int:
            spec = loadtest_file(
                directory, f"memory-{requests}", url, {"pattern": "burst", "requests": requests}
            )
            child = subprocess.Popen(pinned(core, [HERD, "run", str(spec), "-q"]))
            _, _, usage = os.wait4(child.pid, 0)
            return usage.ru_maxrss

        baseline = peak_rss_kib(1)
        loaded = peak_rss_kib(in_flight)
        per_request = (loaded - baseline) * 1024 / in_flight
        print(
            f"memory: {in_flight} in flight: peak RSS {loaded / 1024:.0f} MiB "
            f"(1 in flight: {baseline / 1024:.0f} MiB), {per_request / 1024:.1f} KiB per request"
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
