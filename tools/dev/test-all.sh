#!/usr/bin/env bash
# The test command: installs dependencies, builds dengine twice (optimized,
# and with AddressSanitizer + UBSan) and runs every test suite in both.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

tools/dev/setup.sh

jobs="$(nproc)"
run_build() {
  local dir="$1"; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure
}

echo "== build and test: release"
run_build build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build and test: asan+ubsan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_build build/asan -DCMAKE_BUILD_TYPE=Debug -DDENGINE_SANITIZE=ON
echo "== all tests passed"
