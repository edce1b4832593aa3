#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a C99 program
# against it with nothing but `pkg-config --cflags --libs dengine` (and again
# with find_package(dengine)), runs it and checks it prints the version; then
# builds examples/c-counter with its Makefile (pkg-config alone) and runs its
# 3-node cluster.
set -euo pipefail
build=${1:?usage: install_test.sh BUILD_DIR C_COMPILER CONSUMER_DIR VERSION}
cc=${2:?}
consumer=${3:?}
version=${4:?}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name dengine.pc)
[[ -n "$pc" ]] || { echo "dengine.pc was not installed" >&2; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir dengine)

# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Wextra -Werror -pedantic "$consumer/version_main.c" \
  $(pkg-config --cflags --libs dengine) -o "$work/version_main"
out=$(LD_LIBRARY_PATH=$libdir "$work/version_main")
[[ "$out" == "dengine $version" ]] || { echo "pkg-config build printed '$out'" >&2; exit 1; }

cmake -S "$consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$work/consumer" >/dev/null
out=$(LD_LIBRARY_PATH=$libdir "$work/consumer/version_main")
[[ "$out" == "dengine $version" ]] || { echo "find_package build printed '$out'" >&2; exit 1; }
# The counter example: a state machine in C on a 3-node cluster, built by its
# own Makefile with pkg-config alone.
cp -r "$consumer/../../../examples/c-counter" "$work/c-counter"
make -s -C "$work/c-counter" CC="$cc" >/dev/null
port_base=$((20000 + RANDOM % 10000))
LD_LIBRARY_PATH=$libdir "$work/c-counter/counter" "$port_base" >"$work/counter.out" ||
  { cat "$work/counter.out" >&2; echo "examples/c-counter failed" >&2; exit 1; }
grep -q "stopped cleanly" "$work/counter.out"

echo "install ok: $(basename "$(readlink -f "$libdir/libdengine.so")") via pkg-config and find_package"
