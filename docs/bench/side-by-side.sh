#!/usr/bin/env bash
# Runs the side-by-side comparison in BENCHMARKS.md: seatd through gRPC, the
# engine in-process (basebench --target seat-engine), the classic MySQL design
# and Redis + Lua, each durable, at each client count, one after the other on
# this machine; then draws the plots.
#
# Needs MariaDB on 127.0.0.1:3306 (root, no password) and Redis on
# 127.0.0.1:6379, and release binaries: cargo build --release --bins
# Usage: docs/bench/side-by-side.sh [seconds per run] [client counts...]
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
bin="$root/target/release"
results="$root/docs/bench/results"
seconds=${1:-10}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then clients=("$@"); else clients=(16 64 256); fi
mysql_url=mysql://root@127.0.0.1:3306
port=50131
demand=(--demand demo --stops 4 --confirm-percent 50 --cancel-percent 20)
mkdir -p "$results"

run_seatd() {
    local n=$1 work
    work=$(mktemp -d)
    mysql -uroot -e "DROP DATABASE IF EXISTS seat_side; CREATE DATABASE seat_side"
    (cd "$work" && exec "$bin/seatd" --demo --database-url "$mysql_url/seat_side" \
        --listen 127.0.0.1:$port --metrics-listen off >"$work/seatd.log" 2>&1) &
    local pid=$!
    for _ in $(seq 1 120); do grep -q "serving gRPC" "$work/seatd.log" && break; sleep 0.5; done
    (cd "$work" && "$bin/seatbench" --server http://127.0.0.1:$port --clients "$n" \
        --duration-secs "$seconds" --seed "$n" --label "seatd (gRPC, MySQL journal)" --no-audit \
        --out "$results/seatd-mysql-c$n.json") | grep -E "acknowledged|latency"
    kill "$pid"
    wait "$pid" || true
    mysql -uroot -e "DROP DATABASE seat_side"
    rm -rf "$work"
}

run_base() {
    local target=$1 n=$2
    "$bin/basebench" --target "$target" --clients "$n" --duration-secs "$seconds" "${demand[@]}" \
        --out "$results/$target-c$n.json" | grep -E "acknowledged writes|acked write latency|audit:"
}

for n in "${clients[@]}"; do
    echo "== $n clients: seatd over gRPC"
    run_seatd "$n"
    for target in seat-engine mysql-classic redis-lua; do
        echo "== $n clients: $target"
        run_base "$target" "$n"
    done
done
"$bin/benchplot" --out-dir "$root/docs/bench" "$results"/*.json
