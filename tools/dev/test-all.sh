#!/usr/bin/env bash
# The test command: installs dependencies, builds dengine twice (optimized,
# and with AddressSanitizer + UBSan) and runs every test suite in both, then
# fuzzes every decoder for a few seconds (clang + libFuzzer).
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
echo "== go binding against the release build"
tools/dev/test-go.sh build/release
echo "== python binding (pip install ./bindings/python, pytest)"
tools/dev/test-python.sh
echo "== build and test: asan+ubsan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_build build/asan -DCMAKE_BUILD_TYPE=Debug -DDENGINE_SANITIZE=ON
echo "== fuzz: every decoder, briefly, from valid seeds"
fuzz_dir=build/fuzz
fuzz_targets=(frame_decoder message_decoder hello_decoder conf_change_decoder
  snapshot_chunk_decoder client_request_decoder client_response_decoder
  session_decoder config_parser tls_session)
CC=clang CXX=clang++ cmake -S . -B "$fuzz_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDENGINE_FUZZ=ON >/dev/null
# Only the fuzz targets: the rest of the tree is built and tested above.
cmake --build "$fuzz_dir" -j "$jobs" --target fuzz_seed_corpus \
  "${fuzz_targets[@]/#/fuzz_}"
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
"$fuzz_dir/tests/fuzz/fuzz_seed_corpus" "$corpus"
mkdir -p "$corpus/config_parser"
cp examples/cluster/*.toml "$corpus/config_parser/"
for target in "${fuzz_targets[@]}"; do
  log="$fuzz_dir/fuzz_$target.log"
  if ! "$fuzz_dir/tests/fuzz/fuzz_$target" -max_total_time=15 \
      -artifact_prefix="$fuzz_dir/fuzz_$target-" \
      "$corpus/$target" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz_$target failed: full log in $log"
    exit 1
  fi
  echo "fuzz_$target: $(grep -o 'Done [0-9]* runs.*' "$log")"
done
echo "== all tests passed"
