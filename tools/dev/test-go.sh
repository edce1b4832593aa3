#!/usr/bin/env bash
# Tests the Go binding against a build of dengine (default build/release,
# already built): installs it into a temporary prefix, runs go vet and
# `go test -race` over bindings/go with the library found through
# pkg-config alone, then builds and runs examples/go-kv.
#   tools/dev/test-go.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-build/release}"
cd "$root"
command -v go >/dev/null || { echo "test-go.sh: go is not installed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The prefix must keep its path from run to run: Go's build cache keeps the
# cgo flags pkg-config gave (the -L path) and does not notice when only
# PKG_CONFIG_PATH changes, so a prefix in a fresh temporary directory would
# leave cached links pointing at a directory deleted after the last run.
prefix="$(cd "$build" && pwd)/go-prefix"
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
pc="$(find "$prefix" -name dengine.pc)"
[[ -n "$pc" ]] || { echo "test-go.sh: dengine.pc was not installed" >&2; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export LD_LIBRARY_PATH="$(pkg-config --variable=libdir dengine)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

unformatted="$(gofmt -l bindings/go examples/go-kv)"
[[ -z "$unformatted" ]] || { echo "test-go.sh: not gofmt-ed: $unformatted" >&2; exit 1; }

echo "== go: bindings/go (vet, test -race)"
(cd bindings/go && go vet ./... && go test -race -count=1 ./...)

echo "== go: examples/go-kv"
(cd examples/go-kv && go vet . && go build -o "$work/go-kv" .)
# Peer ports below Linux's ephemeral range, so no outgoing connection holds one.
if ! "$work/go-kv" -port $((20000 + RANDOM % 10000)) >"$work/go-kv.out" 2>&1; then
  cat "$work/go-kv.out" >&2
  echo "test-go.sh: examples/go-kv failed" >&2
  exit 1
fi
tail -n 1 "$work/go-kv.out"
