#!/usr/bin/env bash
# The measurement suite behind RESULTS.md: builds release herald and herald-bench, then runs
# each scenario against a fresh herald process (loopback only, new data directory each time)
# and keeps every JSON result and summary table in OUT (default ./bench-results).
#
#   crates/herald-bench/scripts/measure.sh [OUT]
#
# Each run is bounded (seconds, not minutes); the whole suite takes about four minutes.
# Runs use herald's default durable audit recording unless AUDIT_MODE says otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
OUT="$(mkdir -p "${1:-bench-results}" && cd "${1:-bench-results}" && pwd)"
PORT="${HERALD_BENCH_PORT:-16101}"
URL="http://127.0.0.1:$PORT"

cd "$ROOT"
cargo build --release -p herald --bin herald -p herald-bench --bin herald-bench
BIN="$ROOT/target/release"
SERVER_PID=""
SERVER_DIR=""

start_server() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "port $PORT is already in use: stop that server or set HERALD_BENCH_PORT" >&2
    exit 1
  fi
  SERVER_DIR="$(mktemp -d -t herald-bench-server.XXXXXX)"
  (cd "$SERVER_DIR" && HERALD_HOST=127.0.0.1 HERALD_PORT="$PORT" HERALD_AUDIT_MODE="${AUDIT_MODE:-durable}" RUST_LOG=warn exec "$BIN/herald" >"$SERVER_DIR/server.log" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "herald did not start; log:" >&2
  cat "$SERVER_DIR/server.log" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  # Graceful shutdown drains connections; wait so the next server can bind the port.
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  # The audit store of a run is of no further use; do not leave it in /tmp.
  if [ -n "$SERVER_DIR" ]; then rm -rf "$SERVER_DIR"; SERVER_DIR=""; fi
}
trap stop_server EXIT

run() {
  local name="$1"
  shift
  start_server
  echo "== $name: herald-bench $* --server-pid $SERVER_PID (HERALD_AUDIT_MODE=${AUDIT_MODE:-durable})" | tee "$OUT/$name.txt"
  uptime | tee -a "$OUT/$name.txt"
  "$BIN/herald-bench" "$@" --url "$URL" --server-pid "$SERVER_PID" --quiet \
    --json "$OUT/$name.json" | tee -a "$OUT/$name.txt"
  stop_server
}

{ nproc; free -h; lscpu | grep 'Model name'; uname -r; git rev-parse HEAD; } >"$OUT/machine.txt"

run connections-10k connections -n 10000 --rate 5000 --hold 6s
run connections-19k connections -n 19500 --rate 5000 --hold 6s
run fanout-1k-300 fanout -n 1000 --rate 300 --duration 10s
run fanout-10k-30 fanout -n 10000 --rate 30 --duration 10s
run fanout-10k-15 fanout -n 10000 --rate 15 --duration 10s
run fanout-10k-100ch fanout -n 10000 --channels 100 --rate 1500 --duration 10s
run triggers-c32 triggers -c 32 --duration 10s
run presence-1k presence -n 1000 --duration 10s
# The audit recorder's share: the same load with recording asynchronous, and off.
AUDIT_MODE=async run triggers-c32-audit-async triggers -c 32 --duration 10s
AUDIT_MODE=off run triggers-c32-audit-off triggers -c 32 --duration 10s
AUDIT_MODE=off run fanout-10k-15-audit-off fanout -n 10000 --rate 15 --duration 10s
echo "results in $OUT"
