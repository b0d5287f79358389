#!/usr/bin/env bash
# Set up everything the test suite needs and run it: lint, types, then pytest.
# Every server the tests use (moto S3, the simulated endpoint, recording targets,
# Prometheus and its Pushgateway) is started by the tests themselves on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test

# Debian packages the tests run: Prometheus and its Pushgateway (the metrics tests start
# their own on 127.0.0.1), Lua (the Argo CD health checks in docs/ are Lua scripts),
# the benchmark's peers for its smoke test (nginx, wrk, hey), and buildah and debootstrap
# (tests/image builds the Dockerfile without a Docker daemon), and GNU time (the memory
# tests read a child's peak RSS from it).
missing=()
for pair in prometheus:prometheus prometheus-pushgateway:prometheus-pushgateway \
    lua5.4:lua5.4 nginx:nginx-light wrk:wrk hey:hey \
    buildah:buildah debootstrap:debootstrap /usr/bin/time:time; do  # binary:package
  PATH="$PATH:/usr/sbin:/sbin" command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    if [ -d /run/systemd/system ]; then  # the packaged daemons are not needed: stop them
      systemctl disable --now prometheus prometheus-pushgateway 2>/dev/null || true
    fi
  else
    echo "MISSING Debian packages: ${missing[*]} (not root, or no apt-get: cannot install)." >&2
    echo "  Tests marked 'prometheus' (tests/metrics: real Pushgateway/Prometheus) will SKIP," >&2
    echo "  and without lua5.4 so will tests/operator/test_argocd_health.py, and without" >&2
    echo "  nginx tests/bench (wrk and hey missing: the smoke reports them missing)." >&2
    echo "  Without buildah and debootstrap (and root), tests/image/test_image_build.py will" >&2
    echo "  SKIP: the Dockerfile is then neither built nor run (test_dockerfile.py still runs)." >&2
    echo "  Without GNU time (/usr/bin/time), the memory tests of tests/engine/test_response_bodies.py SKIP." >&2
    echo "  Install with: sudo apt-get install ${missing[*]}" >&2
  fi
fi

# kubectl has no Debian package; machines built for herd carry it (/usr/bin/kubectl).
if ! command -v kubectl >/dev/null; then
  echo "MISSING kubectl: tests/operator_e2e/test_kubectl.py will SKIP (kubectl get lt against" >&2
  echo "  the API stand-in). Install it from https://kubernetes.io/docs/tasks/tools/" >&2
fi

.venv/bin/ruff check .
.venv/bin/lint-imports
# Types, strict ([tool.mypy] in pyproject.toml); .mypy_cache makes a re-run take seconds.
.venv/bin/mypy
# -rs: every skipped test is listed with its reason at the end, never skipped silently.
exec .venv/bin/python -m pytest -rs "$@"
