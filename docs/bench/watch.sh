#!/usr/bin/env bash
# Live-availability figures for BENCHMARKS.md, on the embedded SQLite journal
# (acknowledged after commit), each on a fresh `seatd --demo`:
#   1. latency: one subscriber, probe holds spread over a run: hold
#      acknowledged (and sent) -> update seen, p50/p99;
#   2. fan-out: N subscribers of the demo line's search (12306's busiest
#      pair) while seatbench runs a flash sale on G1 and seatwatch books
#      probe holds on G3: updates/s delivered, probe delivery to every
#      subscriber, and seatd's CPU;
#   3. booking throughput in the same flash sale without and with the N
#      subscribers (A/B).
# Every run is bounded by its duration. Needs release binaries:
#   cargo build --release --bin seatd --bin seatbench --bin seatwatch
# Usage: docs/bench/watch.sh [seconds per run (default 10)] [subscribers (default 1000)]
# SEATD_FLAGS adds seatd flags; SEATWATCH_FLAGS adds seatwatch flags (e.g. --coarse).
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
bin="$root/target/release"
results="$root/docs/bench/results"
seconds=${1:-10}
subscribers=${2:-1000}
port=50141
# The flash sale's clients: enough to keep G1's actor busy on two cores.
clients=64
ticks=$(getconf CLK_TCK)
work=$(mktemp -d)
seatd_pid=""
mkdir -p "$results"

stop_seatd() {
    if [ -n "$seatd_pid" ]; then kill "$seatd_pid" 2>/dev/null || true; wait "$seatd_pid" 2>/dev/null || true; fi
    seatd_pid=""
}
trap 'stop_seatd; rm -rf "$work"' EXIT

# A fresh seatd --demo in $work/data; the watch bound is raised above the
# subscribers this script opens with one agent token.
start_seatd() {
    stop_seatd
    rm -rf "$work/data" "$work/seatd.log"
    (cd "$work" && exec "$bin/seatd" --demo --listen "127.0.0.1:$port" --metrics-listen off \
        --watch-streams-max $((subscribers + 100)) ${SEATD_FLAGS:-} >"$work/seatd.log" 2>&1) &
    seatd_pid=$!
    for _ in $(seq 1 120); do grep -qs "serving gRPC" "$work/seatd.log" && return 0; sleep 0.5; done
    echo "seatd did not start; see $work/seatd.log" >&2
    exit 1
}

# utime + stime of a process in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

seatwatch() {
    (cd "$work" && "$bin/seatwatch" --server "http://127.0.0.1:$port" ${SEATWATCH_FLAGS:-} "$@")
}

flash_sale() { # $1: JSON out
    (cd "$work" && "$bin/seatbench" --server "http://127.0.0.1:$port" --flash-sale-train G1 --clients "$clients" \
        --duration-secs "$seconds" --no-audit --label "$2" --out "$1") >/dev/null
}

echo "== 1. latency: one subscriber, 100 probe holds over ${seconds} s"
start_seatd
seatwatch --subscribers 1 --connections 1 --duration-secs "$seconds" --probe-holds 100 \
    --out "$results/watch-latency.json" >/dev/null
python3 - "$results/watch-latency.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
for key in ("probe_ack_to_update", "probe_sent_to_update"):
    q = run[key]
    print(f"   {key}: p50 {q['p50_ms']:.3f} ms, p99 {q['p99_ms']:.3f} ms, max {q['max_ms']:.3f} ms ({q['count']} holds)")
PY

echo "== 2+3a. flash sale on G1 ($clients clients, ${seconds} s) without subscribers"
start_seatd
before=$(cpu_ticks "$seatd_pid")
flash_sale "$results/watch-flash-alone.json" "flash sale, no subscribers"
after=$(cpu_ticks "$seatd_pid")
alone_cpu=$(( after - before ))

echo "== 2+3b. the same flash sale with $subscribers subscribers (and 50 probe holds on G3)"
start_seatd
before=$(cpu_ticks "$seatd_pid")
seatwatch --subscribers "$subscribers" --connections 8 --duration-secs $((seconds + 4)) --probe-holds 50 \
    --out "$results/watch-fanout.json" >/dev/null &
watcher=$!
sleep 2 # the subscribers open and get their first message before the sale starts
flash_sale "$results/watch-flash-watched.json" "flash sale, $subscribers subscribers"
after=$(cpu_ticks "$seatd_pid")
wait "$watcher"
watched_cpu=$(( after - before ))

python3 - "$results" "$ticks" "$alone_cpu" "$watched_cpu" "$seconds" <<'PY'
import json, sys
results, ticks, alone_cpu, watched_cpu, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
alone = json.load(open(f"{results}/watch-flash-alone.json"))
watched = json.load(open(f"{results}/watch-flash-watched.json"))
fan = json.load(open(f"{results}/watch-fanout.json"))
def line(label, run, cpu_ticks, extra_secs=0):
    cpu = cpu_ticks / ticks
    print(f"   {label}: {run['writes_per_sec']:.0f} writes/s, p50 {run['latency_ms']['p50']:.2f} ms, "
          f"p99 {run['latency_ms']['p99']:.2f} ms; seatd CPU {cpu:.1f} s = {100 * cpu / (run['duration_secs'] + extra_secs):.0f}% of one core")
line("no subscribers", alone, alone_cpu)
line(f"{fan['subscribers']} subscribers", watched, watched_cpu, 2)
change = 100 * (watched["writes_per_sec"] / alone["writes_per_sec"] - 1)
print(f"   booking throughput with subscribers: {change:+.1f}%")
print(f"   fan-out: {fan['messages_per_sec']:.0f} updates/s delivered ({fan['offers_per_sec']:.0f} offers/s, "
      f"{fan['bytes_per_sec'] / 1e6:.1f} MB/s) to {fan['subscribers']} subscribers, {fan['refused_subscribers']} refused")
for key in ("probe_ack_to_every_subscriber", "probe_sent_to_every_subscriber", "probe_ack_to_update"):
    q = fan[key]
    print(f"   {key}: p50 {q['p50_ms']:.2f} ms, p99 {q['p99_ms']:.2f} ms, max {q['max_ms']:.2f} ms ({q['count']})")
PY
