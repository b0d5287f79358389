#!/usr/bin/env bash
# Re-pin the image's dependencies, with hashes, to the versions the tests use.
#
#   bash requirements/lock.sh     # writes requirements/image.txt and requirements/build.txt
#
# Versions come from the current resolution (.venv, which scripts/test.sh builds) as
# constraints, so the image runs what CI tested; hashes cover every file PyPI has for each
# pinned version, so `pip install --require-hashes` works on amd64 and arm64 alike.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "run scripts/setup.sh test first (.venv is missing)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/tools"
# Only PyPI: the lock must not depend on this machine's pip configuration or local mirrors.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT
"$work/tools/bin/pip" install --quiet pip-tools
.venv/bin/python -m pip freeze --exclude-editable >"$work/current.txt"
export CUSTOM_COMPILE_COMMAND="bash requirements/lock.sh"  # the header pip-compile writes
compile=("$work/tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras
  --no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple)
"${compile[@]}" --constraint "$work/current.txt" --output-file requirements/image.txt \
  pyproject.toml requirements/image.in
# The constraints file lives in a temporary directory: name its origin instead, so that
# re-locking the same versions leaves the file unchanged.
sed -i "s|$work/current.txt|.venv (pip freeze)|" requirements/image.txt
"${compile[@]}" --output-file requirements/build.txt requirements/build.in
echo "wrote requirements/image.txt and requirements/build.txt"
