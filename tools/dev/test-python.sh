#!/usr/bin/env bash
# Tests the Python binding: installs ./bindings/python into a virtual
# environment (build/python-venv) the way a user would, runs its pytest
# suite, then the ledger example's demo (examples/python-ledger).
# The native build (libdengine and the extension, by scikit-build-core) keeps
# its tree in build/python-wheel, so a later run recompiles only what
# changed; the first takes a few minutes on 2 cores.
#   tools/dev/test-python.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
venv="$root/build/python-venv"

if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
# The build backend and pybind11 live in the venv, so installs need no
# isolated build environment (and no download) after the first run.
"$venv/bin/pip" install -q "scikit-build-core>=0.10" "pybind11>=2.12" "pytest>=7"

echo "== python: pip install ./bindings/python"
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  "$venv/bin/pip" install -q --no-build-isolation ./bindings/python \
  --config-settings=build-dir="$root/build/python-wheel"

echo "== python: pytest bindings/python/tests"
# From the repository root, so the source package does not shadow the
# installed one (which has the extension).
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/pytest" -q -p no:cacheprovider \
  bindings/python/tests

echo "== python: examples/python-ledger demo"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if ! PYTHONDONTWRITEBYTECODE=1 timeout 120 "$venv/bin/python" \
    examples/python-ledger/ledger.py demo >"$out" 2>&1 ||
    ! grep -q '^accounts: {"alice": 70, "bob": 20, "carol": 10}$' "$out"; then
  cat "$out" >&2
  echo "test-python.sh: the ledger demo failed" >&2
  exit 1
fi
tail -n 1 "$out"
