#!/usr/bin/env bash
# Failover at whole-12306 scale over 3 nodes: the figure in BENCHMARKS.md.
#
# Starts tools/cluster-demo.sh's etcd and 3 nodes on a throwaway MySQL
# database, imports the synthetic national timetable (14,000 trains) and opens
# 15 days of it (about 210,000 train-dates, about 70,000 per node), books
# for LOAD_SECS seconds (seatbench over every train-date and node). Then, in
# ROUNDS rounds, it kills with -9 a node that owns the probe train-date (one of
# G1's dates), and measures from the kill:
#   first_hold  - the first hold accepted on the probe train-date, through a
#                 survivor (seatctl in a loop, one attempt at a time);
#   detection   - until a survivor's reconcile pass began claiming (lease expiry);
#   claim       - the etcd claims of that pass (the "claimed" log line);
#   fence, recovery - raising the fences and recovering the slots' train-dates
#                 from the journal (the "adopted" log line of the same node);
#   settled     - until every slot is served again (tools/cluster-demo.sh wait).
# It then restarts the node, waits until the slots spread back and goes on.
# Every round's line goes to stdout; the database and the directory are
# removed at the end.
#
# Needs MariaDB on 127.0.0.1:3306, Debian's etcd, and release binaries:
#   cargo build --release --bin seatd --bin seatctl --bin seatsynth --bin seatbench
# Usage: docs/bench/cluster-scale.sh [ROUNDS]    (default 10)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-10}
export CLUSTER_DB=${CLUSTER_DB:-seat_cluster_scale}
export CLUSTER_DEMO_DIR=${CLUSTER_DEMO_DIR:-/tmp/seat-cluster-scale}
export BASE_PORT=${BASE_PORT:-50161}
export ETCD_PORT=${ETCD_PORT:-23791}
# A node's start and a hand-back each recover about 70,000 train-dates.
export WAIT_SECS=${WAIT_SECS:-300}
demo="$root/tools/cluster-demo.sh"
seatsynth=${SEATSYNTH_BIN:-$root/target/release/seatsynth}
seatbench=${SEATBENCH_BIN:-$root/target/release/seatbench}
# Seconds of booking load before the rounds.
LOAD_SECS=${LOAD_SECS:-20}
dir=$CLUSTER_DEMO_DIR
# Bound on the probe loop: a failover slower than this is reported as such.
readonly PROBE_SECS=120
readonly PROBE_DAYS=14

trap '"$demo" drop >/dev/null 2>&1 || true' EXIT
"$demo" drop >/dev/null 2>&1 || true
now() { date +%s.%N; }
since() { python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$1" "$2"; }
port_of() { echo $((BASE_PORT + ${1#node} - 1)); }
# Each node's resident memory.
print_rss() {
  for node in node1 node2 node3; do
    echo "$node rss_mib=$(($(ps -o rss= -p "$(cat "$dir/$node.pid")") / 1024))"
  done
}


"$demo" start >/dev/null
"$seatsynth" timetable >"$dir/synth.toml"
started=$(now)
"$demo" seatctl import "$dir/synth.toml" >/dev/null
echo "import: $(since "$started" "$(now)") ms"
started=$(now)
"$demo" seatctl open --days 15
echo "open: $(since "$started" "$(now)") ms"
# Every node loads its share of what node1 opened: wait (bounded) until the
# cluster's actor count stops growing.
actors() { "$demo" seatctl stats 2>/dev/null | awk '/^actors/{print $NF}'; }
last=-1
for _ in $(seq 1 "$WAIT_SECS"); do
  now_actors=$(actors)
  [ "${now_actors:-0}" != "$last" ] || break
  last=${now_actors:-0}
  sleep 3
done
echo "open train-dates served: $last ($(since "$started" "$(now)") ms after the open began)"
# Orders spread over every train-date, so a takeover replays real journals.
"$seatbench" --server "http://127.0.0.1:$BASE_PORT,http://127.0.0.1:$((BASE_PORT + 1)),http://127.0.0.1:$((BASE_PORT + 2))" \
  --tokens-file "$dir/data/demo-tokens.json" --synthetic-trains 14000 --days 14 --clients 64 \
  --duration-secs "$LOAD_SECS" --seed 3 --no-audit | grep -E "writes/s|acknowledged|p50|p99" | head -n 6 || true
"$demo" seatctl stats 2>/dev/null | head -n 5 || true
print_rss

# A valid resident ID number (GB 11643 check digit) for probe $1.
id_number() {
  python3 - "$1" <<'EOF'
import sys
body = "11010519900101%03d" % (int(sys.argv[1]) % 1000)
weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
print(body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11])
EOF
}

# The first of G1's next PROBE_DAYS dates that node $1 owns.
probe_date() {
  local day shown
  for day in $(seq 1 $PROBE_DAYS); do
    shown=$("$demo" seatctl cluster --train G1 --date "+$day")
    if grep -q "served by $1 " <<<"$shown"; then
      echo "+$day"
      return 0
    fi
  done
  return 1
}

# Log timing of the first claim and adoption after $2 (epoch s) in node $1's log.
log_timing() {
  python3 - "$dir/$1.log" "$2" <<'EOF'
import re, sys, datetime
path, after = sys.argv[1], float(sys.argv[2])
ansi = re.compile(r"\x1b\[[0-9;]*m")
claimed = adopted = None
for line in open(path, encoding="utf-8", errors="replace"):
    line = ansi.sub("", line)
    stamp = line.split(" ", 1)[0]
    try:
        at = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        continue
    if at < after:
        continue
    fields = dict(re.findall(r"(\w+)=(\d+)", line))
    if claimed is None and " claimed slots=" in line:
        claimed = (at, fields)
    elif claimed and adopted is None and " adopted slots=" in line:
        adopted = (at, fields)
if claimed and adopted:
    c, a = claimed[1], adopted[1]
    detection = (claimed[0] - after) * 1000 - int(c.get("claim_ms", 0))
    print(f"detection_ms={detection:.0f} claim_ms={c.get('claim_ms')} fence_ms={a.get('fence_ms')} "
          f"recovery_ms={a.get('recovery_ms')} slots={a.get('slots')} train_dates={a.get('train_dates')}")
EOF
}

for round in $(seq 1 "$rounds"); do
  victim=node$(((round - 1) % 3 + 1))
  date=$(probe_date "$victim") || { echo "round $round: $victim owns none of G1's dates; skipped"; continue; }
  survivor=node$((round % 3 + 1))
  server="http://127.0.0.1:$(port_of "$survivor")"
  passenger="张三,$(id_number "$round"),second"
  killed_at=$(now)
  kill -9 "$(cat "$dir/$victim.pid")"
  rm -f "$dir/$victim.pid"
  first_hold=timeout
  while [ "$(since "$killed_at" "$(now)")" -lt $((PROBE_SECS * 1000)) ]; do
    if "$demo" seatctl --server "$server" hold G1 北京南 南京南 --date "$date" --user "probe$round" \
      --passenger "$passenger" --request-id "probe-$round" >/dev/null 2>"$dir/probe.err"; then
      first_hold=$(since "$killed_at" "$(now)")
      break
    fi
    sleep 0.05
  done
  # The survivor that recovered the probe train-date holds its timing.
  owner=$("$demo" seatctl --server "$server" cluster --train G1 --date "$date" | sed -n 's/.*served by \(node[0-9]*\) .*/\1/p')
  timing=$(log_timing "$owner" "$killed_at")
  # Every slot served by the two survivors, by the demo script's own check.
  WAIT_SECS=$PROBE_SECS "$demo" wait 2 "$survivor" || echo "round $round: not settled in ${PROBE_SECS}s"
  settled_at=$(now)
  [ "$first_hold" != timeout ] || echo "round $round: the last hold attempt said: $(tail -n 3 "$dir/probe.err")"
  echo "round $round: killed $victim, probe G1 $date via $survivor (recovered by $owner): first_hold_ms=$first_hold settled_ms=$(since "$killed_at" "$settled_at") $timing"
  restarted_at=$(now)
  "$demo" restart "$victim" >/dev/null
  echo "round $round: $victim restarted and the slots spread back in $(since "$restarted_at" "$(now)") ms"
done
print_rss
