#!/usr/bin/env bash
# Cross-node fan-out versus single node, with the project's load generator, and Redis
# commands per delivered message. Starts its own redis-server and herald processes on free
# loopback ports (release build), runs the same fanout scenario three ways, prints the
# reports and the Redis command counts, and stops everything.
#
#   bash scripts/bench-cluster.sh [SUBSCRIBERS] [RATE] [DURATION]     # defaults 1000 100 10s
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SUBS="${1:-1000}"; RATE="${2:-100}"; DURATION="${3:-10s}"
cargo build --release -q -p herald -p herald-bench
HERALD="$ROOT/target/release/herald"; BENCH="$ROOT/target/release/herald-bench"
RPORT=16390; PA=16401; PB=16402; PS=16403
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
redis-server --port $RPORT --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
node() { # node PORT NODE_ID [REDIS_URL]
  env HERALD_HOST=127.0.0.1 HERALD_PORT="$1" HERALD_NODE_ID="$2" HERALD_AUDIT_MODE=off \
      ${3:+HERALD_REDIS_URL=$3} RUST_LOG=warn "$HERALD" >/dev/null 2>&1 &
  pids+=($!)
}
node $PA a "redis://127.0.0.1:$RPORT"; PID_A=$!
node $PB b "redis://127.0.0.1:$RPORT"; PID_B=$!
node $PS single; PID_S=$!
for p in $PA $PB $PS; do
  until curl -sf "http://127.0.0.1:$p/ready" >/dev/null; do sleep 0.1; done
done
calls() { redis-cli -p $RPORT INFO commandstats | awk -F'[=,:]' '/^cmdstat_/ {s+=$3} END {print s}'; }
stats() { redis-cli -p $RPORT INFO commandstats | grep -E 'cmdstat_(spublish|evalsha|eval|hget|ssubscribe|sunsubscribe|set|sadd|smembers|exists)[:]' || true; }
run() { # run NAME BENCH-ARGS...
  local name="$1"; shift
  echo "=== $name"
  "$BENCH" --quiet "$@" fanout -n "$SUBS" --rate "$RATE" --duration "$DURATION"
}
run "single node (subscribers and triggers on one node)" --url "http://127.0.0.1:$PS" --server-pid $PID_S
run "cluster, same node (subscribers and triggers on node A)" --url "http://127.0.0.1:$PA" --server-pid $PID_A
redis-cli -p $RPORT CONFIG RESETSTAT >/dev/null
before=$(calls)
run "cluster, cross node (subscribers on B, triggers on A)" --url "http://127.0.0.1:$PA" --ws-url "ws://127.0.0.1:$PB" --server-pid $PID_B
after=$(calls)
echo "=== Redis commands during the cross-node run: $((after - before)) (includes the subscribers' setup and heartbeats)"
stats
