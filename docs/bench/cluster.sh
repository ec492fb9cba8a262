#!/usr/bin/env bash
# The cluster figures in BENCHMARKS.md, on this machine, one run after the other:
#   throughput N  - seatbench against an N-node cluster (N = 1, 2, 3), load
#                   spread over every node, with the CPU each process spent
#                   per acknowledged write (from /proc/PID/stat);
#   fence         - the fence's cost: a single seatd (no fence) against a
#                   1-node cluster (every append share-locks its fence rows),
#                   alternated ROUNDS times, same load.
#
# Needs MariaDB on 127.0.0.1:3306 (root, no password), Debian's etcd, and
# release binaries: cargo build --release --bin seatd --bin seatbench
# Usage: docs/bench/cluster.sh [seconds per run] [clients] [rounds]
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
bin="$root/target/release"
seconds=${1:-10}
clients=${2:-64}
rounds=${3:-3}
mysql_url=mysql://root@127.0.0.1:3306
database=seat_cluster_bench
base_port=50171
etcd_port=23971
ticks=$(getconf CLK_TCK)
work=$(mktemp -d)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  mariadb -uroot -e "DROP DATABASE IF EXISTS $database" || true
  rm -rf "$work"
}
trap cleanup EXIT

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
mariadb_pid() { pgrep -o -x mariadbd; }

start_etcd() {
  rm -rf "$work/etcd"
  etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-cluster "default=http://127.0.0.1:$((etcd_port + 1))" >"$work/etcd.log" 2>&1 &
  pids+=($!)
  etcd_pid=$!
  sleep 1
}

# Starts seatd node $1 (cluster mode when $2 = cluster); sets $node_pid.
start_node() {
  local index=$1 mode=$2 port=$((base_port + $1)) flags=() ready="serving gRPC"
  if [ "$mode" = cluster ]; then
    flags=(--cluster-etcd "http://127.0.0.1:$etcd_port" --node-id "n$index" --advertise "127.0.0.1:$port"
      --cluster-prefix "$prefix")
    ready="joined the cluster"
  fi
  "$bin/seatd" --demo --data-dir "$work/data" --database-url "$mysql_url/$database" --listen "127.0.0.1:$port" \
    --metrics-listen off "${flags[@]}" >"$work/n$index.log" 2>&1 &
  node_pid=$!
  pids+=($node_pid)
  for _ in $(seq 1 240); do
    grep -q "$ready" "$work/n$index.log" && return 0
    sleep 0.25
  done
  echo "node $index did not start" >&2
  tail "$work/n$index.log" >&2
  return 1
}

# Runs seatbench against the comma-separated $1, prints writes/s and the
# CPU per acknowledged write of MariaDB, every seatd in $2, etcd and seatbench.
measure() {
  local servers=$1 label=$2 nodes=$3 before_db before_etcd
  local -a before_nodes=()
  before_db=$(cpu_ticks "$(mariadb_pid)")
  before_etcd=${etcd_pid:+$(cpu_ticks "$etcd_pid")}
  for pid in $nodes; do before_nodes+=("$(cpu_ticks "$pid")"); done
  (cd "$work" && "$bin/seatbench" --server "$servers" --clients "$clients" --duration-secs "$seconds" \
    --seed "$clients" --no-audit --out "$work/bench.json" >"$work/bench.txt")
  local writes rate p50 p99
  writes=$(python3 -c "import json;print(json.load(open('$work/bench.json'))['acknowledged_writes'])")
  rate=$(python3 -c "import json;print(round(json.load(open('$work/bench.json'))['writes_per_sec']))")
  p50=$(python3 -c "import json;print(json.load(open('$work/bench.json'))['latency_ms']['p50'])")
  p99=$(python3 -c "import json;print(json.load(open('$work/bench.json'))['latency_ms']['p99'])")
  per_write() { python3 -c "print(round(($1) * 1e6 / $ticks / max($writes, 1), 1))"; }
  local line="$label: $rate writes/s (p50 $p50 ms, p99 $p99 ms); CPU µs per write: MariaDB $(per_write "$(cpu_ticks "$(mariadb_pid)") - $before_db")"
  local index=0
  for pid in $nodes; do
    line+=", seatd n$((index + 1)) $(per_write "$(cpu_ticks "$pid") - ${before_nodes[$index]}")"
    index=$((index + 1))
  done
  [ -n "$before_etcd" ] && line+=", etcd $(per_write "$(cpu_ticks "$etcd_pid") - $before_etcd")"
  echo "$line"
}

stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  unset etcd_pid
}

fresh_database() { mariadb -uroot -e "DROP DATABASE IF EXISTS $database; CREATE DATABASE $database"; }

cluster_of() {
  local size=$1 servers="" nodes=""
  fresh_database
  start_etcd
  prefix="/bench$RANDOM"
  for index in $(seq 1 "$size"); do
    start_node "$index" cluster
    servers+="${servers:+,}http://127.0.0.1:$((base_port + index))"
    nodes+=" $node_pid"
  done
  # Until hand-offs settle: every node owns slots.
  sleep $((2 + size))
  measure "$servers" "$size-node cluster, $clients clients" "$nodes"
  stop_all
}

single() {
  fresh_database
  start_node 1 single
  measure "http://127.0.0.1:$((base_port + 1))" "single seatd (no fence), $clients clients" "$node_pid"
  stop_all
}

echo "== throughput by cluster size ($seconds s, $clients clients, $(nproc) cores)"
for size in 1 2 3; do cluster_of "$size"; done
echo "== the fence's cost, alternated $rounds times"
for _ in $(seq 1 "$rounds"); do
  single
  cluster_of 1
done
