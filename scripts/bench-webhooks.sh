#!/usr/bin/env bash
# Webhook throughput, and the proof that a dead receiver leaves fan-out alone. Starts a
# webhook receiver (tests/compat/lib/webhook-sink.js: counts events, answers 200, or never
# answers in `blackhole` mode) and release herald processes on free loopback ports, then:
#
#   1. sustained webhook events/s: presence churn with one member per channel, so every
#      cycle is channel_occupied + member_added + member_removed + channel_vacated (the
#      pause is longer than the 3 s hold, so nothing is debounced away); events received by
#      the sink per second, and the outbox backlog at the end;
#   2. fan-out latency (herald-bench fanout) while the same churn emits webhooks, three ways:
#      no webhooks configured, a live receiver, a receiver that accepts connections and
#      never answers (every POST waits for the 4 s timeout, then is retried).
#
#   bash scripts/bench-webhooks.sh [CHURN_CLIENTS] [SUBSCRIBERS] [RATE] [DURATION]
#   # defaults 2000 2000 20 20s
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CHURN="${1:-2000}"; SUBS="${2:-2000}"; RATE="${3:-20}"; DURATION="${4:-20s}"
cargo build --release -q -p herald -p herald-bench
HERALD="$ROOT/target/release/herald"; BENCH="$ROOT/target/release/herald-bench"
SINK="$ROOT/tests/compat/lib/webhook-sink.js"
WORK="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sink() { # sink MODE → sets SINK_PORT, SINK_PID
  SINK_PORT=$(free_port)
  node "$SINK" "$SINK_PORT" "$1" >"$WORK/sink-$1.log" 2>&1 &
  SINK_PID=$!; pids+=("$SINK_PID")
  until curl -s -o /dev/null "http://127.0.0.1:$SINK_PORT/count" --max-time 1 || [ "$1" = blackhole ]; do sleep 0.1; done
  sleep 0.3
}
herald() { # herald NAME [WEBHOOK_URL] → sets HPORT, MPORT, HPID
  HPORT=$(free_port); MPORT=$(free_port)
  mkdir -p "$WORK/$1"
  local hooks=""
  if [ -n "${2:-}" ]; then
    hooks="[{\"url\":\"$2\",\"event_types\":[\"channel_occupied\",\"channel_vacated\",\"member_added\",\"member_removed\"]}]"
  fi
  (cd "$WORK/$1" && env HERALD_HOST=127.0.0.1 HERALD_PORT="$HPORT" HERALD_METRICS_PORT="$MPORT" \
    HERALD_AUDIT_MODE=off ${hooks:+HERALD_APP_WEBHOOKS=$hooks} RUST_LOG=warn "$HERALD" >"$WORK/$1.log" 2>&1) &
  HPID=$!; pids+=("$HPID")
  until curl -sf "http://127.0.0.1:$HPORT/ready" >/dev/null; do sleep 0.1; done
}
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
churn() { # churn DURATION [--quiet]
  "$BENCH" --quiet --url "http://127.0.0.1:$HPORT" presence -n "$CHURN" --members-per-channel 1 \
    --hold 200ms --pause 3500ms --duration "$1"
}

echo "=== 1. sustained webhook events/s ($CHURN churning members, one per channel, $DURATION)"
sink count; herald throughput "http://127.0.0.1:$SINK_PORT/hooks"
start_count=$(curl -s "http://127.0.0.1:$SINK_PORT/count")
start=$(date +%s.%N)
churn "$DURATION" >/dev/null
end=$(date +%s.%N)
end_count=$(curl -s "http://127.0.0.1:$SINK_PORT/count")
depth=$(metric herald_webhook_queue_depth)
python3 - "$start" "$end" "$start_count" "$end_count" "$depth" <<'PY'
import sys
s, e, c0, c1, depth = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"received {c1 - c0} webhook events in {e - s:.1f} s = {(c1 - c0) / (e - s):.0f} events/s; backlog at the end: {depth} events")
PY
echo "  batches sent: $(metric herald_webhook_batches_sent_total), failed attempts: $(metric herald_webhook_attempts_failed_total), dropped: $(metric herald_webhook_events_dropped_total)"
kill "$HPID" "$SINK_PID"

fanout() { # fanout NAME: churn in the background, fanout in the foreground
  churn "$(( ${DURATION%s} + 10 ))s" >/dev/null &
  local churn_pid=$!
  sleep 5
  echo "=== 2. fan-out while webhooks are emitted: $1"
  "$BENCH" --quiet --url "http://127.0.0.1:$HPORT" --server-pid "$HPID" fanout -n "$SUBS" --rate "$RATE" --duration "$DURATION"
  echo "  webhook events sent: $(metric herald_webhook_events_sent_total), failed attempts: $(metric herald_webhook_attempts_failed_total), backlog: $(metric herald_webhook_queue_depth), dropped: $(metric herald_webhook_events_dropped_total)"
  wait "$churn_pid" || true
}
herald nohooks; fanout "no webhooks configured"; kill "$HPID"
sink count; herald live "http://127.0.0.1:$SINK_PORT/hooks"; fanout "live receiver"; kill "$HPID" "$SINK_PID"
sink blackhole; herald dead "http://127.0.0.1:$SINK_PORT/hooks"; fanout "receiver that never answers"; kill "$HPID" "$SINK_PID"
