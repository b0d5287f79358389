"""What a cluster run's results weigh: upload bytes per runner, and the merge's size and time.

Not in CI. Starts a moto S3 server and ``herd sim`` on 127.0.0.1, runs RUNNERS ``herd run``
processes of one run (``--runner-index I --runners N``, one ``--run-id``, one
``--release-at``) with ``--results s3://…``, then reads what they stored. When the exact
merge (``herd.results.runner_merge``, issue #13's report side) is importable, it fetches
the runners' results from the store and merges them, and prints the merged report's size
and how long fetching, parsing and merging took.

    .venv/bin/python bench/results_size.py                      # 10 runners, 200 req/s, 30 s
    .venv/bin/python bench/results_size.py --runners 10 --rate 400 --duration 60s --requests-log
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import yaml

from herd.demo.endpoint import sim_endpoint
from herd.demo.services import FAKE_AWS_ENV, moto_s3_server
from herd.results.layout import run_prefix
from herd.results.runner_result import RunnerResult
from herd.results.store import held, open_store

BUCKET = "herd-bench-results"
RUN_ID = "bench"


def loadtest(target: str, rate: float, duration: str, runners: int) -> dict[str, object]:
    return {
        "apiVersion": "herd.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": {"name": "results-size"},
        "spec": {
            "target": {"url": f"{target}/runsync", "body": '{"input": {"i": {{ request.index }}}}'},
            "load": {"pattern": "rate", "rate": rate, "duration": duration},
            "parallelism": runners,
        },
    }


def run_runners(spec: Path, args: argparse.Namespace, endpoint: str, logs: Path) -> float:
    env = {**os.environ, **FAKE_AWS_ENV, "AWS_ENDPOINT_URL_S3": endpoint}
    release_at = time.time() + 5 + args.runners  # every interpreter started and staged
    processes = []
    for index in range(args.runners):
        command = [sys.executable, "-m", "herd.cli", "run", str(spec), "-q"]
        command += ["--results", f"s3://{BUCKET}/bench", "--run-id", RUN_ID]
        command += ["--runner-index", str(index), "--runners", str(args.runners)]
        command += ["--release-at", str(release_at), "--processes", "1", "--no-verdict-exit"]
        if args.requests_log:
            command += ["--requests-log", str(logs / f"requests-{index}.jsonl")]
        processes.append(subprocess.Popen(command, env=env))
    started = time.monotonic()
    codes = [process.wait(timeout=600) for process in processes]
    if any(codes):
        raise SystemExit(f"runner exit codes: {codes}")
    return time.monotonic() - started


async def merge(endpoint: str, prefix: str) -> tuple[int, float, float, int] | None:
    try:
        from herd.results.runner_merge import merge_runner_results  # type: ignore[import-not-found]
    except ImportError:
        return None
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    store = open_store(f"s3://{BUCKET}/bench")
    started = time.perf_counter()
    async with held(store):  # one client (and pool) for every read
        keys = [key for key in await store.keys(prefix) if key.endswith(".json")]
        blobs = await asyncio.gather(*(store.get(key) for key in keys))
    fetched = time.perf_counter()
    results = [RunnerResult.model_validate_json(blob or b"") for blob in blobs]
    report = merge_runner_results(results)
    merged = json.dumps(report.model_dump(mode="json"), indent=2).encode()
    done = time.perf_counter()
    return len(merged), fetched - started, done - fetched, report.requests.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runners", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200.0, help="total requests/s")
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--workers", type=int, default=40, help="warm workers of the sim")
    parser.add_argument("--requests-log", action="store_true", help="also upload the logs")
    args = parser.parse_args()
    os.environ.update(FAKE_AWS_ENV)
    sim_flags = ["--service-time", "50ms", "--min-workers", str(args.workers)]
    sim_flags += ["--max-workers", str(args.workers), "--seed", "1"]
    with (
        moto_s3_server() as s3,
        sim_endpoint(sim_flags) as sim,
        tempfile.TemporaryDirectory() as scratch,
    ):
        client = boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        spec = Path(scratch) / "loadtest.yaml"
        spec.write_text(yaml.safe_dump(loadtest(sim.url, args.rate, args.duration, args.runners)))
        wall = run_runners(spec, args, s3.url, Path(scratch))
        prefix = run_prefix("", None, "results-size", RUN_ID)
        objects = client.list_objects_v2(Bucket=BUCKET, Prefix="bench/" + prefix)["Contents"]
        sizes = {item["Key"].rsplit("/", 1)[-1]: item["Size"] for item in objects}
        results = [size for name, size in sizes.items() if name.endswith(".json")]
        logs = [size for name, size in sizes.items() if name.endswith(".gz")]
        print(f"{args.runners} runners, {args.rate:g} req/s for {args.duration}: {wall:.1f} s")
        print(
            f"runner-INDEX.json: min {min(results)} B, mean {sum(results) / len(results):.0f} B, "
            f"max {max(results)} B, total {sum(results)} B"
        )
        if logs:
            print(f"requests logs (gzip): mean {sum(logs) / len(logs):.0f} B, total {sum(logs)} B")
        merged = asyncio.run(merge(s3.url, prefix))
        if merged is None:
            print("merge: herd.results.runner_merge not importable here (sizes only)")
        else:
            size, fetch, seconds, ok = merged
            print(
                f"merge: {len(results)} results fetched in {fetch:.3f} s, parsed and merged in "
                f"{seconds:.3f} s; merged report {size} B ({ok} ok)"
            )


if __name__ == "__main__":
    main()
