#!/usr/bin/env bash
# The main job for now: sets up, builds, and runs a simulated 5-node dengine
# cluster through crashes, partitions, message loss, membership changes and
# leadership transfers, checking every Raft safety property after each step.
# (The networked cluster arrives with the node layer.)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

tools/dev/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc)" --target dengine-sim

seed="${1:-$RANDOM}"
echo "== one cluster, seed $seed, every fault kind"
build/release/tests/sim/dengine-sim --seed "$seed" --faults mixed --nodes 5
echo "== 200 more seeds"
build/release/tests/sim/dengine-sim --seeds "$((seed + 1))-$((seed + 200))" --faults mixed
