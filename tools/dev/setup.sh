#!/usr/bin/env bash
# Installs everything dengine needs to build and test, from Debian's packages.
# Idempotent: when all is installed it only checks and returns in a second.
set -euo pipefail

packages=(
  build-essential  # g++ 12 (C++20) and make
  cmake            # the one build
  ninja-build      # fast parallel builds
  pkg-config       # finding libraries; consumers link with it too
  libuv1-dev       # the event loop, TCP and timers of the transport
  libgtest-dev     # C++ unit, scenario and simulator tests
  libbenchmark-dev # Google Benchmark: dengine's benchmarks
  librocksdb-dev   # the RocksDB log store (and later the default KV machine)
  libssl-dev       # OpenSSL: SHA-256 of snapshots (later TLS)
  libcmocka-dev    # CMocka: the C API tests, written in plain C
  libtomlplusplus-dev # toml++: dengined's configuration file
  libcli11-dev     # CLI11: command lines of dengined, dengine, dengine-bench
  nlohmann-json3-dev # nlohmann/json: dengine-bench --json
  clang-format     # the code style in .clang-format
  clang            # the fuzz build: libFuzzer needs clang
  libclang-rt-14-dev # libFuzzer and the sanitizer runtimes for clang 14
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all dependencies present"
fi
