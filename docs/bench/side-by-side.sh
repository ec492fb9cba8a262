#!/usr/bin/env bash
# Runs the side-by-side comparison in BENCHMARKS.md: seatd through gRPC, the
# engine in-process (basebench --target seat-engine), the classic MySQL design
# and Redis + Lua, each durable, at each client count, one after the other on
# this machine; then draws the plots.
#
# Needs MariaDB on 127.0.0.1:3306 (root, no password) and Redis on
# 127.0.0.1:6379, and release binaries: cargo build --release --bins
# Usage: docs/bench/side-by-side.sh [seconds per run] [client counts...]
#
# Besides writes/s and latency, each run prints the CPU each process spent
# per acknowledged write (user + system, from /proc/PID/stat for the servers
# and from the load generator's own rusage), MariaDB's statements, commits
# and rows per write (SHOW GLOBAL STATUS deltas), and at the end a table with
# the ratios against Redis + Lua and the classic design. SEATD_FLAGS adds
# seatd flags (e.g. "--commits-in-flight-max 1").
#
# BEFORE_BIN_DIR=DIR (release binaries of an older commit, built in a
# worktree) also runs that build's seatd and in-process engine, each just
# before this build's, so a before/after comparison shares the hour, the
# baselines and the box's noise; their rows are labelled seatd-before and seat-engine-before.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
bin="$root/target/release"
before_bin=${BEFORE_BIN_DIR:-}
results="$root/docs/bench/results"
seconds=${1:-10}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then clients=("$@"); else clients=(16 64 256); fi
mysql_url=mysql://root@127.0.0.1:3306
port=50131
demand=(--demand demo --stops 4 --confirm-percent 50 --cancel-percent 20)
mkdir -p "$results"
ticks=$(getconf CLK_TCK)
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

# utime + stime of a process in clock ticks; 0 when it is not running.
cpu_ticks() { if [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }
mariadb_pid() { pgrep -o -x mariadbd || true; }
redis_pid() { pgrep -o -x redis-server || true; }
# MariaDB counters whose deltas say what one write costs it.
mariadb_status() {
    mysql -uroot -N -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions','Com_commit','Com_insert',
      'Com_select','Com_update','Com_delete','Innodb_rows_inserted','Innodb_rows_updated','Innodb_rows_read',
      'Handler_write','Innodb_data_fsyncs')" | sort
}

# Runs "$@" (a load generator writing JSON to $out) and prints, per
# acknowledged write, the CPU of MariaDB, Redis, seatd ($server_pid, if set)
# and the generator, and MariaDB's counters; appends a summary row.
measured() {
    local label=$1 n=$2 out=$3
    shift 3
    local db_pid redis before_db before_redis before_server status_before usage
    db_pid=$(mariadb_pid); redis=$(redis_pid)
    before_db=$(cpu_ticks "$db_pid"); before_redis=$(cpu_ticks "$redis"); before_server=$(cpu_ticks "${server_pid:-}")
    status_before=$(mariadb_status)
    usage=$(mktemp)
    /usr/bin/time -f "%U %S" -o "$usage" "$@"
    local after_db after_redis after_server status_after
    after_db=$(cpu_ticks "$db_pid"); after_redis=$(cpu_ticks "$redis"); after_server=$(cpu_ticks "${server_pid:-}")
    status_after=$(mariadb_status)
    python3 - "$label" "$n" "$out" "$ticks" "$((after_db - before_db))" "$((after_redis - before_redis))" \
        "$((after_server - before_server))" "$(cat "$usage")" "$status_before" "$status_after" "$summary" <<'PY'
import json, sys
label, n, out, ticks, db, redis, server, usage, before, after, summary = sys.argv[1:]
ticks = int(ticks)
run = json.load(open(out))
writes = run.get("acknowledged_writes") or round(run.get("writes_ok_per_sec", 0) * run.get("elapsed_secs", 0))
per_sec = run.get("writes_per_sec") or run.get("writes_ok_per_sec", 0)
latency = run.get("latency_ms") or run.get("write_latency_ms") or {}
client = sum(float(part) for part in usage.split()[-2:]) * 1e6
us = lambda value: value / max(writes, 1)
cpu = {"mariadb": us(int(db) * 1e6 / ticks), "redis": us(int(redis) * 1e6 / ticks),
       "seatd": us(int(server) * 1e6 / ticks), "generator": us(client)}
parse = lambda text: {k: int(v) for k, v in (line.split("\t") for line in text.splitlines() if "\t" in line)}
b, a = parse(before), parse(after)
delta = {key: (a[key] - b.get(key, 0)) / max(writes, 1) for key in a}
print(f"   cpu per write (µs): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items() if v > 0.05))
if delta.get("Questions", 0) > 0.01:
    print("   MariaDB per write: " + ", ".join(f"{k} {v:.2f}" for k, v in delta.items() if v > 0.005))
with open(summary, "a") as f:
    f.write(json.dumps({"label": label, "clients": int(n), "writes_per_sec": per_sec, "writes": writes,
                        "p50": latency.get("p50"), "p99": latency.get("p99"), "cpu": cpu}) + "\n")
PY
    rm -f "$usage"
}

# Runs seatd and seatbench from directory $2 at $1 clients, labelled $3.
run_seatd() {
    local n=$1 dir=$2 label=$3 work
    work=$(mktemp -d)
    mysql -uroot -e "DROP DATABASE IF EXISTS seat_side; CREATE DATABASE seat_side"
    # shellcheck disable=SC2086 # SEATD_FLAGS is a list of flags
    (cd "$work" && exec "$dir/seatd" --demo --database-url "$mysql_url/seat_side" \
        --listen 127.0.0.1:$port --metrics-listen off ${SEATD_FLAGS:-} >"$work/seatd.log" 2>&1) &
    local pid=$!
    for _ in $(seq 1 120); do grep -q "serving gRPC" "$work/seatd.log" && break; sleep 0.5; done
    server_pid=$pid
    (cd "$work" && measured "$label" "$n" "$results/$label-mysql-c$n.json" "$dir/seatbench" \
        --server http://127.0.0.1:$port --clients "$n" \
        --duration-secs "$seconds" --seed "$n" --label "seatd (gRPC, MySQL journal)" --no-audit \
        --out "$results/$label-mysql-c$n.json") | grep -E "acknowledged|latency|per write"
    server_pid=
    kill "$pid"
    wait "$pid" || true
    mysql -uroot -e "DROP DATABASE seat_side"
    rm -rf "$work"
}

# Runs basebench's $1 target from directory $3 at $2 clients, labelled $4.
run_base() {
    local target=$1 n=$2 dir=$3 label=$4
    measured "$label" "$n" "$results/$label-c$n.json" \
        "$dir/basebench" --target "$target" --clients "$n" --duration-secs "$seconds" "${demand[@]}" \
        --out "$results/$label-c$n.json" | grep -E "acknowledged writes|acked write latency|audit:|per write"
}

for n in "${clients[@]}"; do
    if [ -n "$before_bin" ]; then
        echo "== $n clients: seatd over gRPC, before"
        run_seatd "$n" "$before_bin" seatd-before
    fi
    echo "== $n clients: seatd over gRPC"
    run_seatd "$n" "$bin" seatd
    if [ -n "$before_bin" ]; then
        echo "== $n clients: seat-engine, before"
        run_base seat-engine "$n" "$before_bin" seat-engine-before
    fi
    for target in seat-engine mysql-classic redis-lua; do
        echo "== $n clients: $target"
        run_base "$target" "$n" "$bin" "$target"
    done
done
# Only this script's results: other benchmarks keep theirs in the same folder.
"$bin/benchplot" --out-dir "$root/docs/bench" "$results"/{seatd-mysql,seat-engine,mysql-classic,redis-lua}-c*.json

# The table: writes/s, latency, CPU per write of every process, and the
# ratios against Redis + Lua and the classic design at the same client count.
python3 - "$summary" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {(row["label"], row["clients"]): row for row in rows}
print("| target | clients | writes/s | p50 ms | p99 ms | ×Redis+Lua | ×classic | MariaDB µs/w | Redis µs/w | seatd µs/w | generator µs/w |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for row in rows:
    ratio = lambda other: (f"{row['writes_per_sec'] / by[(other, row['clients'])]['writes_per_sec']:.2f}"
                           if (other, row["clients"]) in by and by[(other, row["clients"])]["writes_per_sec"] else "-")
    cpu = row["cpu"]
    fmt = lambda value: f"{value:.0f}" if value > 0.05 else "-"
    print(f"| {row['label']} | {row['clients']} | {row['writes_per_sec']:,.0f} | {row['p50']} | {row['p99']} | "
          f"{ratio('redis-lua')} | {ratio('mysql-classic')} | {fmt(cpu['mariadb'])} | {fmt(cpu['redis'])} | "
          f"{fmt(cpu['seatd'])} | {fmt(cpu['generator'])} |")
PY
