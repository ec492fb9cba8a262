#!/usr/bin/env bash
# A 3-node seatd cluster on one machine: one etcd, three seatd nodes sharing
# one MySQL database, the demo timetable, tokens in $CLUSTER_DEMO_DIR/data.
#
#   tools/cluster-demo.sh start           etcd + node1..node3, waits until every slot is owned
#   tools/cluster-demo.sh seatctl ARGS    seatctl with the demo tokens (default server: node1)
#   tools/cluster-demo.sh kill NODE       kill -9 one node, wait until the others own its slots
#   tools/cluster-demo.sh restart NODE    start a killed node again, wait until the slots spread back
#   tools/cluster-demo.sh wait N NODE     wait until NODE sees N nodes serving every slot
#   tools/cluster-demo.sh stop            stop everything (the database is kept; `drop` removes it)
#
# Settings (environment): MYSQL_URL_BASE (mysql://root@127.0.0.1:3306),
# CLUSTER_DB (seat_cluster_demo), CLUSTER_DEMO_DIR (./cluster-demo),
# BASE_PORT (50061: nodes listen on 50061..50063), ETCD_PORT (2379),
# SEATD_BIN / SEATCTL_BIN (target/release/seatd, target/release/seatctl),
# WAIT_SECS (60).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
base_url=${MYSQL_URL_BASE:-mysql://root@127.0.0.1:3306}
database=${CLUSTER_DB:-seat_cluster_demo}
dir=${CLUSTER_DEMO_DIR:-$PWD/cluster-demo}
base_port=${BASE_PORT:-50061}
etcd_port=${ETCD_PORT:-2379}
seatd=${SEATD_BIN:-$root/target/release/seatd}
seatctl_bin=${SEATCTL_BIN:-$root/target/release/seatctl}
# Seconds to wait for a node to join, or for the slots to settle (WAIT_SECS).
readonly WAIT_SECS=${WAIT_SECS:-60}
readonly NODES=3

port_of() { echo $((base_port + ${1#node} - 1)); }

seatctl() {
  "$seatctl_bin" --tokens-file "$dir/data/demo-tokens.json" "$@"
}

# Waits (bounded) until `seatctl cluster` shows $1 nodes, no unowned slot,
# every node owning some (hand-offs done), and the nodes together serving
# all 1024 slots (every slot recovered, not just claimed).
wait_settled() {
  local server=$2 shown serving address here
  for _ in $(seq 1 $((WAIT_SECS * 5))); do
    shown=$(seatctl --server "$server" cluster 2>/dev/null || true)
    if grep -q "^$1 nodes, 1024 slots, 0 unowned" <<<"$shown" && ! grep -qE '^node[0-9]+ .* 0$' <<<"$shown"; then
      serving=0
      for address in $(awk '/^node[0-9]+ /{print $2}' <<<"$shown"); do
        here=$(seatctl --server "http://$address" cluster 2>/dev/null | sed -n 's/.*, serving \([0-9]*\))$/\1/p')
        serving=$((serving + ${here:-0}))
      done
      [ "$serving" -eq 1024 ] && return 0
    fi
    sleep 0.2
  done
  echo "cluster-demo: the cluster did not settle on $1 nodes within ${WAIT_SECS}s" >&2
  return 1
}

start_node() {
  local node=$1 port
  port=$(port_of "$node")
  "$seatd" --demo --data-dir "$dir/data" --database-url "$base_url/$database" \
    --cluster-etcd "http://127.0.0.1:$etcd_port" --node-id "$node" \
    --advertise "127.0.0.1:$port" --listen "127.0.0.1:$port" --metrics-listen off \
    >"$dir/$node.log" 2>&1 &
  echo $! >"$dir/$node.pid"
  for _ in $(seq 1 $((WAIT_SECS * 5))); do
    grep -q "joined the cluster" "$dir/$node.log" && return 0
    kill -0 "$(cat "$dir/$node.pid")" 2>/dev/null || break
    sleep 0.2
  done
  echo "cluster-demo: $node did not join; its log:" >&2
  tail -n 20 "$dir/$node.log" >&2
  return 1
}

start() {
  mkdir -p "$dir/data"
  mariadb --protocol=tcp -h127.0.0.1 -uroot -e "CREATE DATABASE IF NOT EXISTS \`$database\`"
  etcd --data-dir "$dir/etcd" --name cluster-demo \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-cluster "cluster-demo=http://127.0.0.1:$((etcd_port + 1))" >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  # node1 first: it makes the demo signing secret the others then share.
  for index in $(seq 1 $NODES); do
    start_node "node$index"
  done
  wait_settled $NODES "http://127.0.0.1:$base_port"
  seatctl --server "http://127.0.0.1:$base_port" cluster
}

kill_node() {
  local node=$1 survivor
  kill -9 "$(cat "$dir/$node.pid")"
  rm -f "$dir/$node.pid"
  survivor=$(for index in $(seq 1 $NODES); do [ "node$index" = "$node" ] || echo "node$index"; done | head -n 1)
  wait_settled $((NODES - 1)) "http://127.0.0.1:$(port_of "$survivor")"
  echo "$node killed; its slots moved to the others"
}

restart_node() {
  local node=$1
  [ ! -f "$dir/$node.pid" ] || { echo "cluster-demo: $node is running" >&2; return 1; }
  start_node "$node"
  wait_settled $NODES "http://127.0.0.1:$(port_of "$node")"
  echo "$node restarted; the slots spread over $NODES nodes again"
}

stop() {
  for pid in "$dir"/node*.pid "$dir/etcd.pid"; do
    [ -f "$pid" ] || continue
    kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
  sleep 1
  rm -rf "$dir/etcd"
}

case "${1:-}" in
  start) start ;;
  seatctl) shift; if [[ " $* " == *" --server "* ]]; then seatctl "$@"; else seatctl --server "http://127.0.0.1:$base_port" "$@"; fi ;;
  kill) kill_node "${2:?which node}" ;;
  restart) restart_node "${2:?which node}" ;;
  wait) wait_settled "${2:?how many nodes}" "http://127.0.0.1:$(port_of "${3:?which node}")" ;;
  stop) stop ;;
  drop) stop; mariadb --protocol=tcp -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS \`$database\`"; rm -rf "$dir" ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
