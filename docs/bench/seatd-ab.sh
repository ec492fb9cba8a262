#!/usr/bin/env bash
# A/B of two seatd builds under the same load, in turn A B A B …, each run on
# a fresh MySQL database: for a change whose cost is in seatd or in what it
# asks of MariaDB (the event feed's clock and feed rows, for example).
#
# Usage: docs/bench/seatd-ab.sh A_BIN_DIR B_BIN_DIR [seconds] [clients] [pairs]
#   A_BIN_DIR, B_BIN_DIR: directories holding a release `seatd` each (build the
#   older commit in a worktree: git worktree add /tmp/a COMMIT && cd /tmp/a &&
#   cargo build --release --bin seatd). seatbench is taken from B_BIN_DIR, or
#   with SEATBENCH_PER_SIDE=1 from each side's own directory (to A/B a
#   change to seatbench itself: then the seatd in both directories is the same).
# Needs MariaDB on 127.0.0.1:3306 (root, no password).
#
# Prints one line per run (writes/s, p50/p99 ms, CPU per acknowledged write of
# MariaDB, seatd and seatbench, MariaDB statements and rows written (Handler_write) per
# write), then the medians per side and the median of the pair-by-pair B/A
# ratios. Every run is bounded by `seconds`; the whole script by pairs × 2 runs.
set -euo pipefail

a_bin=$1
b_bin=$2
seconds=${3:-10}
clients=${4:-64}
pairs=${5:-3}
port=50141
mysql_url=mysql://root@127.0.0.1:3306
ticks=$(getconf CLK_TCK)
rows=$(mktemp)
seatd_pid=
trap 'rm -f "$rows"; [ -z "$seatd_pid" ] || kill "$seatd_pid" 2>/dev/null' EXIT

cpu_ticks() { if [ -r "/proc/$1/stat" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }
# Handler_write then Questions (the server lists them by name).
mariadb_counters() {
    mysql -uroot -N -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions','Handler_write')" |
        awk '{printf "%s ", $2}'
}

# Runs seatd from $2 under seatbench and appends one JSON row for side $1.
run_side() {
    local side=$1 dir=$2 work pid db_pid before_db before_seatd counters_before usage out bench_dir=
    [ -z "${SEATBENCH_PER_SIDE:-}" ] || bench_dir=$dir
    work=$(mktemp -d)
    mysql -uroot -e "DROP DATABASE IF EXISTS seat_ab; CREATE DATABASE seat_ab"
    (cd "$work" && exec "$dir/seatd" --demo --database-url "$mysql_url/seat_ab" \
        --listen 127.0.0.1:$port --metrics-listen off >"$work/seatd.log" 2>&1) &
    pid=$!
    seatd_pid=$pid
    for _ in $(seq 1 120); do grep -q "serving gRPC" "$work/seatd.log" && break; sleep 0.5; done
    db_pid=$(pgrep -o -x mariadbd)
    before_db=$(cpu_ticks "$db_pid"); before_seatd=$(cpu_ticks "$pid"); counters_before=$(mariadb_counters)
    usage="$work/usage"; out="$work/run.json"
    (cd "$work" && /usr/bin/time -f "%U %S" -o "$usage" "${bench_dir:-$b_bin}/seatbench" --server "http://127.0.0.1:$port" \
        --clients "$clients" --duration-secs "$seconds" --seed 7 --no-audit --out "$out" >/dev/null)
    python3 - "$side" "$out" "$ticks" "$(( $(cpu_ticks "$db_pid") - before_db ))" \
        "$(( $(cpu_ticks "$pid") - before_seatd ))" "$(cat "$usage")" "$counters_before" "$(mariadb_counters)" \
        >>"$rows" <<'PY'
import json, sys
side, out, ticks, db, seatd, usage, before, after = sys.argv[1:]
run = json.load(open(out))
writes = max(run["acknowledged_writes"], 1)
us = lambda t: int(t) * 1e6 / int(ticks) / writes
b, a = [list(map(int, x.split())) for x in (before, after)]
print(json.dumps({"side": side, "writes_per_sec": run["writes_per_sec"],
    "p50": run["latency_ms"]["p50"], "p99": run["latency_ms"]["p99"],
    "mariadb_us": us(db), "seatd_us": us(seatd),
    "seatbench_us": sum(map(float, usage.split()[-2:])) * 1e6 / writes,
    "statements": (a[1] - b[1]) / writes, "rows_written": (a[0] - b[0]) / writes}))
PY
    tail -1 "$rows"
    kill "$pid"; wait "$pid" || true
    seatd_pid=
    mysql -uroot -e "DROP DATABASE seat_ab"
    rm -rf "$work"
}

for pair in $(seq 1 "$pairs"); do
    echo "== pair $pair"
    run_side A "$a_bin"
    run_side B "$b_bin"
done

python3 - "$rows" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
keys = ["writes_per_sec", "p50", "p99", "mariadb_us", "seatd_us", "seatbench_us", "statements", "rows_written"]
a = [r for r in runs if r["side"] == "A"]; b = [r for r in runs if r["side"] == "B"]
print("| figure | A median | B median | B/A, median of pairs |")
print("| --- | --- | --- | --- |")
for k in keys:
    ratios = [y[k] / x[k] for x, y in zip(a, b) if x[k]]
    print(f"| {k} | {statistics.median(r[k] for r in a):.2f} | {statistics.median(r[k] for r in b):.2f} | "
          f"{statistics.median(ratios):.3f} |")
PY
