#!/usr/bin/env bash
# Set up herd and run `herd demo`: the incident, then the fix, against a built-in
# S3 and a built-in autoscaling endpoint, all on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
exec .venv/bin/herd demo "$@"
