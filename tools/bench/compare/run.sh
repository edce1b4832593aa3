#!/usr/bin/env bash
# dengine beside etcd and hashicorp/raft (README.md beside this file): the
# same workloads against a 3-node cluster of each on this machine's loopback,
# one system after the other, so that only one runs at a time. Keys of 8
# bytes, values of 256, 10,000 keys; closed loop (every client one request
# outstanding) with 1 client writing, 100 clients writing, 100 clients
# reading linearizably. Prints one table with each system's ops/s, p50 and
# p99 and their ratios to dengine, and writes it as JSON. Not part of the
# test command.
#
#   dengine         3 dengined processes, loaded by dengine-bench --mode
#                   standalone; then, for reference, dengine-bench --mode
#                   embedded (3 nodes in one process, no client hop)
#   etcd            3 etcd processes (Debian's etcd-server, installed with
#                   apt-get when missing), loaded by cmd/etcd-bench
#   hashicorp/raft  3 nodes in one process (cmd/hraft-bench), BoltDB with
#                   fsync, TCP transport on loopback
#
# The disk's raw fdatasync is measured first and last, printed above the table:
# absolute figures drift between days, the ratios less.
#
# Usage: tools/bench/compare/run.sh [build dir] [--duration S] [--json FILE]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

usage() {
  sed -n 's/^# \{0,1\}Usage: /usage: /p' "$0"
}
build_arg="" seconds=10 json_out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) seconds="${2:?--duration needs seconds}"; shift 2 ;;
    --duration=*) seconds="${1#*=}"; shift ;;
    --json) json_out="${2:?--json needs a file}"; shift 2 ;;
    --json=*) json_out="${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) build_arg="$1"; shift ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]] ||
  { echo "--duration wants seconds, not '$seconds'" >&2; exit 2; }
json_out="${json_out:-${TMPDIR:-/tmp}/dengine-compare-$(date +%Y%m%d-%H%M%S).json}"

build="$(cd "${build_arg:-$root/build/release}" 2>/dev/null && pwd)" ||
  { echo "no build directory ${build_arg:-$root/build/release}" >&2; exit 2; }
bench="$build/tools/bench/dengine-bench"
dengined="$build/tools/dengined/dengined"
for binary in "$bench" "$dengined"; do
  [ -x "$binary" ] || { echo "missing $binary: build it first" >&2; exit 2; }
done
for tool in go python3 timeout; do
  command -v "$tool" >/dev/null || { echo "needs $tool on PATH" >&2; exit 2; }
done
if ! command -v etcd >/dev/null; then
  echo "etcd not found: installing Debian's etcd-server" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >&2 ||
    { echo "could not install etcd-server (apt-get update first?)" >&2; exit 2; }
  # On a systemd machine the package starts its own etcd: not wanted here.
  if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
    systemctl disable --now etcd >&2 || true
  fi
fi

work="$(mktemp -d -t dengine-compare.XXXXXX)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/results" "$work/logs"
say() { echo "== $*" >&2; }
# A step's failure: what failed, and the end of the logs that may say why.
fail() {  # message, log files...
  local log
  echo "compare: $1" >&2
  shift
  for log in "$@"; do
    [ -s "$log" ] || continue
    echo "--- last lines of $log" >&2
    tail -n 15 "$log" >&2
  done
  return 1
}
timed_out() { [ "$1" = 124 ] && echo " (timed out after $limit s)"; true; }
# Whole runs get a time limit, so that nothing waits forever.
limit=$(python3 -c "import sys; print(int(3 * float(sys.argv[1])) + 180)" "$seconds")

# Ports below the ephemeral range, away from examples/cluster's and
# tls_vs_plaintext.sh's: dengine 24001-24203, etcd 24401-24413.
base=24000
ports_free() {
  python3 - "$@" <<'PY'
import socket, sys
taken = []
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    # As the servers do, so that connections of a run before, closed but
    # in TIME_WAIT, do not count as taking the port.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen()
    except OSError:
        taken.append(str(port))
    finally:
        s.close()
if taken:
    sys.exit("ports in use: " + " ".join(taken))
PY
}

stop_cluster() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # SIGTERM is a clean stop; whatever is still there after 15 s is killed.
  for _ in $(seq 150); do
    local running=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && running=1; done
    [ "$running" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

wait_ready() {  # what, urls... (the pids are those of the cluster)
  local what="$1" args=() pid
  shift
  for pid in "${pids[@]}"; do args+=(--pid "$pid"); done
  python3 "$here/wait_ready.py" --timeout 30 "${args[@]}" "$@" ||
    fail "$what did not start and elect a leader within 30 s" "$work/logs/$what"-*.log
}

# --- Go drivers ------------------------------------------------------------
say "building the Go drivers (modules from $(go env GOPROXY))"
(cd "$here" && go build -o "$work/bin/" ./cmd/etcd-bench ./cmd/hraft-bench) \
  >"$work/logs/go-build.log" 2>&1 ||
  { fail "go build of the drivers failed" "$work/logs/go-build.log"; exit 3; }

# --- the disk today --------------------------------------------------------
say "fdatasync of $work"
python3 "$here/fdatasync.py" "$work" >"$work/results/fdatasync-start.json"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- dengine: 3 dengined processes -----------------------------------------
dengine_endpoints="127.0.0.1:$((base + 101)),127.0.0.1:$((base + 102)),127.0.0.1:$((base + 103))"
dengine_peers_of() {
  local id="$1" p list=""
  for p in 1 2 3; do
    [ "$p" = "$id" ] && continue
    list="$list${list:+,}$p=127.0.0.1:$((base + p))/127.0.0.1:$((base + 100 + p))"
  done
  echo "$list"
}
bench_flags=(--quiet --json --duration "$seconds")
"$bench" --help 2>/dev/null | grep -q -- --no-limits && bench_flags+=(--no-limits)

dengine_bench() {  # result file, log, dengine-bench arguments...
  local out="$1" log="$2" status=0
  shift 2
  timeout "$limit" "$bench" "$@" "${bench_flags[@]}" >"$out" 2>"$log" ||
    status=$?
  # Status 1: some requests failed; the result is still printed.
  [ "$status" = 0 ] || [ "$status" = 1 ] ||
    fail "dengine-bench $* exited with status $status$(timed_out "$status")" "$log"
}

run_dengine() {
  local id workload clients
  ports_free $(for id in 1 2 3; do echo $((base + id)) $((base + 100 + id)) $((base + 200 + id)); done) ||
    { fail "dengine's ports are taken"; return 1; }
  for id in 1 2 3; do
    # examples/cluster's files, moved here by the variables.
    env DENGINE_NODE_DATA_DIR="$work/dengine/node$id" \
      DENGINE_NODE_PEER_ADDRESS="127.0.0.1:$((base + id))" \
      DENGINE_NODE_CLIENT_ADDRESS="127.0.0.1:$((base + 100 + id))" \
      DENGINE_NODE_METRICS_ADDRESS="127.0.0.1:$((base + 200 + id))" \
      DENGINE_CLUSTER_PEERS="$(dengine_peers_of "$id")" \
      "$dengined" --config "$root/examples/cluster/node$id.toml" \
      2>"$work/logs/dengine-node$id.log" &
    pids+=($!)
  done
  wait_ready dengine $(for id in 1 2 3; do echo "http://127.0.0.1:$((base + 200 + id))/healthz"; done) ||
    { stop_cluster; return 1; }
  while read -r workload clients; do
    say "dengine: $workload, $clients client(s), $seconds s"
    dengine_bench "$work/results/dengine-$workload-$clients.json" \
      "$work/logs/dengine-bench-$workload-$clients.log" --mode standalone \
      --endpoints "$dengine_endpoints" --workload "$workload" --clients "$clients" ||
      { fail "dengine, $workload with $clients clients" "$work/logs"/dengine-node*.log; stop_cluster; return 1; }
  done <<<$'write 1\nwrite 100\nread-linearizable 100'
  stop_cluster
  rm -rf "$work/dengine"
}

# dengine-bench --mode embedded: the same workloads on 3 nodes in one
# process, next to hashicorp/raft's nodes in one process.
run_dengine_embedded() {
  local workload clients
  while read -r workload clients; do
    say "dengine in-process: $workload, $clients client(s), $seconds s"
    dengine_bench "$work/results/embedded-$workload-$clients.json" \
      "$work/logs/embedded-$workload-$clients.log" --mode embedded \
      --data-dir "$work/embedded-$workload-$clients" \
      --workload "$workload" --clients "$clients" || return 1
    rm -rf "$work/embedded-$workload-$clients"
  done <<<$'write 1\nwrite 100\nread-linearizable 100'
}

# --- etcd: 3 etcd processes, defaults but for addresses and data -------------
run_etcd() {
  local id cluster="" endpoints="" urls=()
  ports_free $(for id in 1 2 3; do echo $((base + 400 + id)) $((base + 410 + id)); done) ||
    { fail "etcd's ports are taken"; return 1; }
  for id in 1 2 3; do
    cluster="$cluster${cluster:+,}n$id=http://127.0.0.1:$((base + 410 + id))"
    endpoints="$endpoints${endpoints:+,}127.0.0.1:$((base + 400 + id))"
    urls+=("http://127.0.0.1:$((base + 400 + id))/health")
  done
  for id in 1 2 3; do
    etcd --name "n$id" --data-dir "$work/etcd/n$id" \
      --listen-client-urls "http://127.0.0.1:$((base + 400 + id))" \
      --advertise-client-urls "http://127.0.0.1:$((base + 400 + id))" \
      --listen-peer-urls "http://127.0.0.1:$((base + 410 + id))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((base + 410 + id))" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token dengine-compare \
      --logger zap --log-outputs stderr 2>"$work/logs/etcd-node$id.log" &
    pids+=($!)
  done
  wait_ready etcd "${urls[@]}" || { stop_cluster; return 1; }
  say "etcd: write 1, write 100, read-linearizable 100 clients, $seconds s each"
  timeout "$limit" "$work/bin/etcd-bench" -endpoints "$endpoints" \
    -duration "${seconds}s" >"$work/results/etcd.json" 2>"$work/logs/etcd-bench.log" ||
    { fail "etcd-bench failed$(timed_out $?)" "$work/logs/etcd-bench.log" "$work/logs"/etcd-node*.log
      stop_cluster; return 1; }
  stop_cluster
  rm -rf "$work/etcd"
}

# --- hashicorp/raft: 3 nodes in the driver's process ---------------------
run_hraft() {
  say "hashicorp/raft: write 1, write 100, read-linearizable 100 clients, $seconds s each"
  timeout "$limit" "$work/bin/hraft-bench" -dir "$work/hraft" \
    -duration "${seconds}s" >"$work/results/hraft.json" 2>"$work/logs/hraft-bench.log" ||
    { fail "hraft-bench failed$(timed_out $?)" "$work/logs/hraft-bench.log"; return 1; }
  rm -rf "$work/hraft"
}

failed=()
run_dengine || failed+=(dengine)
run_etcd || failed+=(etcd)
run_hraft || failed+=(hashicorp/raft)
run_dengine_embedded || failed+=("dengine in-process")
say "fdatasync of $work, again"
python3 "$here/fdatasync.py" "$work" >"$work/results/fdatasync-end.json"

module_version() {  # module path -> the version go.mod asks for
  (cd "$here" && go list -m -f '{{.Version}}' "$1")
}
etcd_version="$(etcd --version | sed -n 's/^etcd Version: //p')"
hraft_version="$(module_version github.com/hashicorp/raft)"
dengine_version="$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
results=()
for file in "$work/results"/dengine-*.json; do results+=(--result "dengine=$file"); done
results+=(--result "etcd=$work/results/etcd.json" --result "hraft=$work/results/hraft.json")
for file in "$work/results"/embedded-*.json; do results+=(--result "embedded=$file"); done
echo
status=0
python3 "$here/table.py" --out "$json_out" \
  --fdatasync "start=$work/results/fdatasync-start.json" \
  --fdatasync "end=$work/results/fdatasync-end.json" \
  --seconds "$seconds" \
  --note "$seconds s per workload; 3 nodes on loopback; keys 8 B, values 256 B, 10,000 keys; $(nproc) cores; load average at the start $load_start" \
  --note "dengine $dengine_version; etcd $etcd_version (client go.etcd.io/etcd/client/v3 $(module_version go.etcd.io/etcd/client/v3)); hashicorp/raft $hraft_version with raft-boltdb/v2 $(module_version github.com/hashicorp/raft-boltdb/v2)" \
  --name "dengine=dengine (3 processes)" \
  --name "etcd=etcd $etcd_version (3 processes)" \
  --name "hraft=hashicorp/raft $hraft_version (3 nodes, 1 process)" \
  --name "embedded=dengine in-process (reference)" \
  "${results[@]}" || status=1
echo
echo "JSON: $json_out"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "did not complete: ${failed[*]} (see above)" >&2
  status=1
fi
exit "$status"
