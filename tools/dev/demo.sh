#!/usr/bin/env bash
# The main job: sets up and builds dengine, then runs a local 3-node cluster
# of dengined servers (RocksDB KV machine, data in a temporary directory),
# writes and reads through it with the dengine CLI, kills the leader with
# kill -9, shows the new leader and that every acknowledged write is still
# there, restarts the killed node and watches it catch up, and stops the
# cluster cleanly.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

tools/dev/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc)" --target dengined dengine_cli

bin="$root/build/release/tools"
work="$(mktemp -d -t dengine-demo.XXXXXX)"
declare -A pids=()
cleanup() {
  for id in "${!pids[@]}"; do kill -9 "${pids[$id]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Ports: 7001-7003 for peers, 8001-8003 for clients and 9101-9103 for
# metrics, as in examples/cluster/, unless DENGINE_DEMO_PORT_BASE moves them.
base="${DENGINE_DEMO_PORT_BASE:-7000}"
peer_port() { echo $((base + $1)); }
client_port() { echo $((base + 1000 + $1)); }
metrics_port() { echo $((base + 2100 + $1)); }
export DENGINE_ENDPOINTS="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"
dengine() { "$bin/dengine/dengine" "$@"; }

# The other nodes, as DENGINE_CLUSTER_PEERS wants them: id=peer/client,...
peers_of() {
  local id="$1" p list=""
  for p in 1 2 3; do
    [ "$p" = "$id" ] && continue
    list="$list${list:+,}$p=127.0.0.1:$(peer_port "$p")/127.0.0.1:$(client_port "$p")"
  done
  echo "$list"
}

start_node() {
  local id="$1"
  DENGINE_NODE_DATA_DIR="$work/node$id" \
  DENGINE_NODE_PEER_ADDRESS="127.0.0.1:$(peer_port "$id")" \
  DENGINE_NODE_CLIENT_ADDRESS="127.0.0.1:$(client_port "$id")" \
  DENGINE_NODE_METRICS_ADDRESS="127.0.0.1:$(metrics_port "$id")" \
  DENGINE_CLUSTER_PEERS="$(peers_of "$id")" \
    "$bin/dengined/dengined" --config "examples/cluster/node$id.toml" \
    >>"$work/node$id.log" 2>&1 &
  pids[$id]=$!
}

leader_id() {
  dengine --timeout 2000 status 2>/dev/null | awk '/^leader:/ {print $2}'
}

wait_for_leader() {
  local not="${1:-0}" leader=""
  for _ in $(seq 1 100); do
    leader="$(leader_id || true)"
    if [ -n "$leader" ] && [ "$leader" != 0 ] && [ "$leader" != "$not" ]; then
      echo "$leader"
      return 0
    fi
    sleep 0.1
  done
  echo "no leader elected; logs in $work" >&2
  exit 1
}

echo "== starting 3 nodes (data in $work)"
for id in 1 2 3; do start_node "$id"; done
leader="$(wait_for_leader)"
echo "leader: node $leader"
dengine status

echo "== writing 50 keys"
for i in $(seq 1 50); do dengine put "key-$i" "value-$i"; done
dengine cas key-1 value-1 swapped
dengine put --ttl 60000 session-token abc
echo "key-1 = $(dengine get --consistency linearizable key-1)"
echo "key-50 (lease read) = $(dengine get --consistency lease key-50)"
dengine scan key-4 --limit 3 || true

echo "== kill -9 the leader, node $leader"
kill -9 "${pids[$leader]}"
wait "${pids[$leader]}" 2>/dev/null || true
unset "pids[$leader]"
new_leader="$(wait_for_leader "$leader")"
echo "new leader: node $new_leader"
dengine status

echo "== every write is still there"
missing=0
for i in $(seq 2 50); do
  [ "$(dengine get "key-$i")" = "value-$i" ] || { echo "key-$i lost"; missing=1; }
done
[ "$(dengine get key-1)" = swapped ] || { echo "key-1 lost"; missing=1; }
[ "$missing" = 0 ] && echo "all 50 keys read back after the failover"
dengine put after-failover yes

echo "== restarting node $leader; it catches up from the new leader"
start_node "$leader"
caught_up=""
for _ in $(seq 1 100); do
  caught_up="$(dengine --endpoints "127.0.0.1:$(client_port "$leader")" \
    get --consistency eventual after-failover 2>/dev/null || true)"
  [ "$caught_up" = yes ] && break
  sleep 0.1
done
echo "node $leader has after-failover = ${caught_up:-<nothing>}"
dengine members

echo "== stopping the cluster cleanly"
stopped=0
for id in "${!pids[@]}"; do
  kill -TERM "${pids[$id]}"
  if ! wait "${pids[$id]}"; then echo "node $id exited with an error"; stopped=1; fi
  unset "pids[$id]"
done
if [ "$missing" != 0 ] || [ "$stopped" != 0 ] || [ "$caught_up" != yes ]; then
  echo "demo FAILED; the last lines of each node's log:"
  tail -n 20 "$work"/node*.log
  exit 1
fi
echo "== demo finished: 3 nodes, a leader killed, nothing lost"
