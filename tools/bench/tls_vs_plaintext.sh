#!/usr/bin/env bash
# TLS against plaintext in one run (docs/benchmarks.md, "TLS"): a 3-node
# dengined cluster on this machine, first in plaintext, then with mutual TLS
# between the nodes and client certificates required, each loaded with the
# same write workload from 1 and then 100 clients (dengine-bench --mode
# standalone, every client over its own connection). Prints one table with
# TLS as a share of plaintext. Certificates are made with the openssl CLI in
# a temporary directory. Not part of the test command.
#
# Plaintext and TLS alternate, each round starting fresh clusters, so that
# a machine whose speed drifts during the run weighs on both alike; the table
# gives the mean over the rounds.
#
# Usage: tools/bench/tls_vs_plaintext.sh [build dir] [seconds per run] [rounds]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build/release}" && pwd)"
seconds="${2:-10}"
rounds="${3:-3}"
bench="$build/tools/bench/dengine-bench"
dengined="$build/tools/dengined/dengined"
for binary in "$bench" "$dengined"; do
  [ -x "$binary" ] || { echo "missing $binary: build it first" >&2; exit 2; }
done

work="$(mktemp -d -t dengine-tls-bench.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The certificates: one CA, a certificate per node (its id as a URI SAN, the
# loopback address clients dial), one client certificate.
tls="$work/tls"
mkdir -p "$tls"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tls/ca.key" -out "$tls/ca.crt" \
  -days 2 -subj "/CN=bench CA" 2>/dev/null
issue() {  # stem, CN, SANs (or "")
  openssl req "${ec[@]}" -keyout "$tls/$1.key" -out "$tls/$1.csr" \
    -subj "/CN=$2" 2>/dev/null
  if [ -n "$3" ]; then printf 'subjectAltName=%s\n' "$3" > "$tls/$1.ext"
  else : > "$tls/$1.ext"; fi
  openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 2 -extfile "$tls/$1.ext" -out "$tls/$1.crt" 2>/dev/null
}
for id in 1 2 3; do issue "node-$id" "node-$id" "URI:dengine:node:$id,IP:127.0.0.1"; done
issue client bench ""

# Ports below the ephemeral range, away from examples/cluster's.
base=23000
endpoints="127.0.0.1:$((base + 101)),127.0.0.1:$((base + 102)),127.0.0.1:$((base + 103))"
peers_of() {
  local id="$1" p list=""
  for p in 1 2 3; do
    [ "$p" = "$id" ] && continue
    list="$list${list:+,}$p=127.0.0.1:$((base + p))/127.0.0.1:$((base + 100 + p))"
  done
  echo "$list"
}

start_cluster() {  # "plain" or "tls"
  local mode="$1" id
  pids=()
  for id in 1 2 3; do
    local env=(DENGINE_NODE_DATA_DIR="$work/data-$mode/node$id"
      DENGINE_NODE_PEER_ADDRESS="127.0.0.1:$((base + id))"
      DENGINE_NODE_CLIENT_ADDRESS="127.0.0.1:$((base + 100 + id))"
      DENGINE_NODE_METRICS_ADDRESS="127.0.0.1:$((base + 200 + id))"
      DENGINE_CLUSTER_PEERS="$(peers_of "$id")")
    if [ "$mode" = tls ]; then
      env+=(DENGINE_TLS_CERT_FILE="$tls/node-$id.crt"
        DENGINE_TLS_KEY_FILE="$tls/node-$id.key"
        DENGINE_TLS_CA_FILE="$tls/ca.crt"
        DENGINE_TLS_REQUIRE_CLIENT_CERT=true)
    fi
    # examples/cluster's files, moved here by the variables.
    env "${env[@]}" "$dengined" --config "$root/examples/cluster/node$id.toml" \
      2>"$work/$mode-node$id.log" &
    pids+=($!)
  done
}

stop_cluster() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid"; done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  pids=()
}

run_bench() {  # mode, clients -> "ops_per_sec p50_us failed"
  local mode="$1" clients="$2" args=()
  [ "$mode" = tls ] && args=(--tls-ca-file "$tls/ca.crt"
    --tls-cert-file "$tls/client.crt" --tls-key-file "$tls/client.key")
  # Exit status 1 (some requests failed) still prints the result.
  { "$bench" --mode standalone --endpoints "$endpoints" --workload write \
    --clients "$clients" --duration "$seconds" --quiet --json "${args[@]}" ||
    [ $? -eq 1 ]; } |
    python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency_us"]
print(round(r["throughput_ops_per_s"]), round(l["p50"]), r["errors"])'
}

declare -A result  # mode-clients: "ops p50 failed" lines, one per round
for round in $(seq 1 "$rounds"); do
  for mode in plain tls; do
    rm -rf "$work/data-$mode"
    start_cluster "$mode"
    sleep 3  # a leader is elected
    for clients in 1 100; do
      echo "== round $round: $mode, $clients client(s), ${seconds} s" >&2
      result[$mode-$clients]+="$(run_bench "$mode" "$clients")"$'\n'
    done
    stop_cluster
  done
done

echo "| clients | plaintext ops/s | TLS ops/s | TLS / plaintext | plaintext p50 | TLS p50 | failed (plain/TLS) |"
echo "|--:|--:|--:|--:|--:|--:|--:|"
for clients in 1 100; do
  python3 - "$clients" "${result[plain-$clients]}" "${result[tls-$clients]}" <<'PY'
import statistics, sys
clients, plain, tls = sys.argv[1], sys.argv[2].split("\n"), sys.argv[3].split("\n")
def runs(lines):
    return [tuple(int(x) for x in l.split()) for l in lines if l.strip()]
p, t = runs(plain), runs(tls)
mean = lambda rows, i: statistics.mean(r[i] for r in rows)
print(f"| {clients} | {mean(p, 0):,.0f} | {mean(t, 0):,.0f} | "
      f"{100 * mean(t, 0) / max(mean(p, 0), 1):.0f} % | {mean(p, 1):,.0f} µs | "
      f"{mean(t, 1):,.0f} µs | {sum(r[2] for r in p)}/{sum(r[2] for r in t)} |")
PY
done
