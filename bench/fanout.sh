#!/usr/bin/env bash
# bench/fanout.sh - one event published to many WebSocket connections: Herald's bus
# (POST /api/v1/publish -> every connection of the app) measured with `herald-bench fanout`,
# and, in the same run, the peer harness's raw broadcast server (the "ceiling", harness W2)
# at the same subscriber count and event rates, so the figures are deliveries/s side by side.
#
#   bench/fanout.sh HERALD_BIN HERALD_BENCH_BIN [HARNESS_DIR]
#   FAN_SUBS=10000 FAN_RATES="10 20 40" bench/fanout.sh build/release/herald build/release/herald-bench
#
# HARNESS_DIR is a writable copy of the comparison harness (its loadgen built with make); without
# it only Herald is measured. Events go out over PUBLISHERS (4) keep-alive connections with an
# app token, as the harness's FastAPI peer publishes over 4. Herald runs with HERALD_WORKERS loops (default 2: both cores,
# unpinned) and again with one loop pinned to CPU 1 like the ceiling. All traffic is loopback.
set -uo pipefail
HERALD_BIN="$(readlink -f "$1")"
BENCH_BIN="$(readlink -f "$2")"
HARNESS="${3:-}"
FAN_SUBS="${FAN_SUBS:-10000}"
FAN_RATES="${FAN_RATES:-10 20 40}"
DUR="${DUR:-8}"
SIZE="${SIZE:-200}"
PORT="${PORT:-18177}"
OUT="${OUT:-bench/out/fanout}"
mkdir -p "$OUT"
RES="$OUT/results.txt"
: > "$RES"
ulimit -n 20000 2>/dev/null || true

herald_run() { # workers pin rate
    local workers=$1 pin=$2 rate=$3 dir pid secret token
    dir=$(mktemp -d)
    local pre=()
    [ "$pin" = 1 ] && pre=(taskset -c 1)
    (cd "$dir" && exec env HERALD_DEMO=1 HERALD_LISTEN=127.0.0.1:$PORT HERALD_DATA_DIR="$dir/data" \
        HERALD_WORKERS="$workers" HERALD_LOG_LEVEL=warn "${pre[@]}" "$HERALD_BIN" serve \
        >"$dir/out" 2>"$dir/err") &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
    secret=$(cd "$dir" && HERALD_DATA_DIR="$dir/data" "$HERALD_BIN" app secret default | sed -n 's/^secret=//p')
    # an app token: checked in memory on every publish (key + secret would read the store)
    token=$(curl -sf -H 'Content-Type: application/json' \
        -d "{\"api_key\":\"default\",\"api_secret\":\"$secret\"}" \
        "http://127.0.0.1:$PORT/api/v1/auth/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    local lg=()
    [ "$pin" = 1 ] && lg=(taskset -c 0)
    echo "herald workers=$workers pinned=$pin rate=$rate: $("${lg[@]}" "$BENCH_BIN" fanout --port $PORT \
        --conns "$FAN_SUBS" --rate "$rate" --size "$SIZE" --duration "$DUR" --json --pid $pid \
        --publishers "${PUBLISHERS:-4}" --header "Authorization: Bearer $token")" | tee -a "$RES"
    kill -TERM $pid; wait $pid 2>/dev/null
    rm -rf "$dir"
}

for r in $FAN_RATES; do herald_run "${HERALD_WORKERS:-2}" 0 "$r"; done
for r in $FAN_RATES; do herald_run 1 1 "$r"; done
if [ -n "$HARNESS" ]; then
    (cd "$HARNESS" && WORKLOADS=w2 W2_SUBS="$FAN_SUBS" W2_RATES="$FAN_RATES" REPS=1 SIZE="$SIZE" \
        ./run.sh ceiling) 2>&1 | tee "$OUT/ceiling.txt" | grep -E '^\|' || true
fi
echo "raw results: $RES${HARNESS:+ and $OUT/ceiling.txt}"
