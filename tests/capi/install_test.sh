#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a C99 program
# against it with nothing but `pkg-config --cflags --libs dengine` (and again
# with find_package(dengine)), runs it and checks it prints the version.
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
echo "install ok: $(basename "$(readlink -f "$libdir/libdengine.so")") via pkg-config and find_package"
