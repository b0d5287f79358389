#!/usr/bin/env bash
# Set up everything the test suite needs and run it: lint, then pytest.
# Every server the tests use (moto S3, the simulated endpoint, recording targets)
# is started by the tests themselves on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
