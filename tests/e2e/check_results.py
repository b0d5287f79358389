"""The assertions of tests/e2e/kind.sh on what the cluster reports (stdlib only: it runs on
the CI host, outside herd's virtualenv). Reads the LoadTest, its latest run and the sim's
record as JSON from the environment (lt_json, run_json, record_json)."""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    loadtest = json.loads(os.environ["lt_json"])
    run = json.loads(os.environ["run_json"])
    record = json.loads(os.environ["record_json"])
    spec, status = run["spec"]["loadTest"], run["status"]
    results = status.get("results") or {}
    planned = spec["load"]["requests"]
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            problems.append(what)

    summary = loadtest["status"].get("summary") or {}
    check(loadtest["status"]["phase"] == "Succeeded", "LoadTest phase Succeeded")
    check(summary.get("verdict") == "passed", f"LoadTest verdict {summary.get('verdict')}")
    check(status.get("phase") == "Succeeded", f"run {run['metadata']['name']} Succeeded")
    conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
    check(conditions.get("Succeeded") == "True", f"conditions {conditions}")
    check(conditions.get("ThresholdsPassed") == "True", "ThresholdsPassed True")
    check(results.get("runnersReported") == spec.get("parallelism", 1), "every runner reported")
    requests = results.get("requests") or {}
    check(requests.get("planned") == planned == requests.get("ok"), f"requests {requests}")
    thresholds = results.get("thresholds") or []
    check(len(thresholds) == len(spec["thresholds"]), "every threshold judged in status")
    check(all(t["passed"] for t in thresholds), f"thresholds {thresholds}")
    check(results.get("latency") is not None, "merged latency in status")
    served = [entry for entry in record["requests"] if entry["path"] == "/generate"]
    check(len(served) == planned, f"the sim received {len(served)} calls")
    seen, truth = results.get("workers", {}).get("distinct"), record["summary"]["distinct_workers"]
    check(seen == truth, f"workers: herd reports {seen}, the sim had {truth}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
