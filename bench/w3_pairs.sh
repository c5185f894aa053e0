#!/bin/bash
# W3 in short, for comparing builds: 1:1 chat between 1,000 demo users (500 pairs) over the
# WebSocket, each message persisted and delivered, at RATE messages/s for DUR seconds (default
# 8), the server pinned to CPU 1 and the load generator to CPU 0, as the harness runs them.
#
#   LOADGEN=/path/to/harness/loadgen/loadgen bench/w3_pairs.sh RATE [BIN]
#
# LOADGEN is the benchmark harness's load generator (the same one `BENCHMARKS.md` names for
# W1-W3). Prints the delivered rate, the delivered/offered ratio and p50/p99 latency.
set -e
RATE=${1:?usage: LOADGEN=... bench/w3_pairs.sh RATE [BIN]}
BIN=${2:-build/release/herald}
: "${LOADGEN:?set LOADGEN to the harness load generator}"
D=$(mktemp -d)
PORT=${PORT:-18100}
taskset -c 1 env HERALD_DEMO=1 HERALD_LISTEN=127.0.0.1:$PORT HERALD_DATA_DIR=$D \
    HERALD_LOG_LEVEL=warn "$BIN" serve > "$D/log" 2>&1 &
P=$!
trap 'kill $P 2>/dev/null; wait $P 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "127.0.0.1:$PORT/health" && break; sleep 0.1; done
timeout 120 taskset -c 0 "$LOADGEN" --host 127.0.0.1 --port "$PORT" --size 64 --pids $P \
    --label w3 --mode pairs --conns 1000 --rate "$RATE" --duration "${DUR:-8}" --warmup 2 \
    --drain 2 --proto ws --sub-path '/ws?user_id=u{id}' \
    --pub-frame '{"type":"send","to":"u{peer}","message":{"type":"text","content":"{content}"}}' \
    2>/dev/null | tr ' ' '\n' | grep -E "^(delivered_per_s|ratio|p50_ms|p99_ms)="
