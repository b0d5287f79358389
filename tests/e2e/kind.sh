#!/usr/bin/env bash
# herd end to end in a real cluster: create a kind cluster, build the image and load it into
# the node, install the chart, deploy `herd sim` and a LoadTest against it
# (examples/sim-rehearsal.yaml), and require that the LoadTest ends Succeeded with a passed
# verdict and complete results in status, and that the sim saw what herd reports.
#
#   bash tests/e2e/kind.sh            # needs docker (a daemon), kind, kubectl, helm 3
#   HERD_E2E_KEEP=1 bash tests/e2e/kind.sh   # keep the cluster afterwards
#
# The manifests are the ones tests/chart and tests/examples validate (charts/herd with
# tests/e2e/values-kind.yaml, examples/sim-rehearsal.yaml). CI: .github/workflows/e2e-kind.yml.
set -euo pipefail
cd "$(dirname "$0")/../.."

cluster="${HERD_E2E_CLUSTER:-herd-e2e}"
node_image="${KIND_NODE_IMAGE:-kindest/node:v1.30.0}"
namespace=load-tests
loadtest=sim-rehearsal
timeout_seconds="${HERD_E2E_TIMEOUT:-600}"

for tool in docker kind kubectl helm python3; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is required" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "e2e: no Docker daemon reachable" >&2; exit 2; }

# The chart installs ghcr.io/herd-dev/herd:<appVersion> by default: build exactly that name,
# so the chart, the runners (same image) and the example's herd sim need no overrides.
app_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/herd/Chart.yaml)"
image="ghcr.io/herd-dev/herd:${app_version}"

diagnose() {
  echo "=== e2e failed: diagnostics" >&2
  kubectl get lt,ltr,jobs,pods -A -o wide >&2 || true
  kubectl -n "$namespace" get lt,ltr -o yaml >&2 || true
  kubectl -n herd-system logs deploy/herd --tail=200 >&2 || true
  kubectl -n "$namespace" logs -l app.kubernetes.io/component=runner --tail=100 >&2 || true
  kubectl get events -A --sort-by=.lastTimestamp | tail -50 >&2 || true
}
finish() {
  status=$?
  if [ "$status" -ne 0 ]; then diagnose; fi
  if [ "${HERD_E2E_KEEP:-0}" != 1 ]; then kind delete cluster --name "$cluster" || true; fi
  exit "$status"
}
trap finish EXIT

echo "=== kind cluster $cluster ($node_image)"
kind create cluster --name "$cluster" --image "$node_image" --wait 180s

echo "=== image $image"
docker build --tag "$image" --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" .
docker run --rm "$image" herd --version
kind load docker-image "$image" --name "$cluster"

echo "=== chart"
kubectl create namespace "$namespace"  # before the chart: its runner NetworkPolicy goes there
helm install herd charts/herd --namespace herd-system --create-namespace \
  --values tests/e2e/values-kind.yaml --wait --timeout 5m
kubectl get crd loadtests.herd.dev loadtestruns.herd.dev

echo "=== herd sim and the LoadTest"
kubectl -n "$namespace" apply -f examples/sim-rehearsal.yaml
kubectl -n "$namespace" rollout status deployment/herd-sim --timeout=3m

# kubectl wait cannot stop early on Failed or Invalid: poll for any terminal phase instead.
deadline=$((SECONDS + timeout_seconds))
phase=""
until [[ "$phase" =~ ^(Succeeded|Failed|Invalid)$ ]]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "e2e: $loadtest did not finish within ${timeout_seconds}s (phase '${phase}')" >&2
    exit 1
  fi
  sleep 5
  phase="$(kubectl -n "$namespace" get lt "$loadtest" -o jsonpath='{.status.phase}')"
  echo "  $loadtest: ${phase:-no status yet}"
done

echo "=== results"
export lt_json run_json record_json
lt_json="$(kubectl -n "$namespace" get lt "$loadtest" -o json)"
run="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["lastRun"])' <<<"$lt_json")"
run_json="$(kubectl -n "$namespace" get ltr "$run" -o json)"
# The sim's own record, through the API server's service proxy (no port-forward needed).
record_json="$(kubectl get --raw \
  "/api/v1/namespaces/${namespace}/services/herd-sim:http/proxy/_sim/record")"
python3 tests/e2e/check_results.py
echo "=== e2e passed"
