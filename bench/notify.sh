#!/usr/bin/env bash
# bench/notify.sh - issue 11's in-app targets, each on a fresh server (release build, SQLite,
# a temporary data folder), measured with `herald-bench notify`:
#
#   bench/notify.sh inapp  HERALD_BIN HERALD_BENCH_BIN
#       SOCKETS (1000) users online; POST /api/v1/notifications open loop at each of RATES
#       ("1000 5000 20000 30000"), one in-app recipient each (round robin over the sockets),
#       over PUBLISHERS (16) keep-alive connections with an app token; every frame acked.
#       Target: >= 20,000/s accepted with accept p99 <= 20 ms; >= 20,000/s delivered.
#   bench/notify.sh fanout HERALD_BIN HERALD_BENCH_BIN
#       USERS (100000) users, a message type `bench.fan` whose default channel is inapp,
#       SOCKETS (10000) of the users online; ONE notification to "subscribers"; measures the
#       accept (the 202 comes after the deliveries and jobs are committed), the time until no
#       delivery is pending or sending (bench/notify_poll.py) and until every online socket
#       got its frame (herald-bench: last frame). Target: within 5 s.
#
# Knobs: DUR (8), WARM (2), DRAIN (3), POLL_INTERVAL (fanout: 0.05 s), HERALD_WORKERS, SRV_CPU / LG_CPU
# (taskset the server / herald-bench on those CPUs; default unpinned), JSON=1 (one JSON
# object per run), OUT (bench/out/notify: results.txt gets every JSON object).
set -euo pipefail
MODE="${1:-}"
[ "$MODE" = inapp ] || [ "$MODE" = fanout ] && [ $# -eq 3 ] || { sed -n '2,22p' "$0" >&2; exit 2; }
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="$(realpath "$2")"
HB="$(realpath "$3")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/herald-notify-XXXXXX")"
OUT="${OUT:-bench/out/notify}"
mkdir -p "$OUT"
RES="$OUT/results.txt"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
srv=() lg=()
[ -n "${SRV_CPU:-}" ] && srv=(taskset -c "$SRV_CPU")
[ -n "${LG_CPU:-}" ] && lg=(taskset -c "$LG_CPU")
PY=/usr/bin/python3

start() { # a fresh server in $WORK/$1: PID, PORT, SECRET, APP_TOKEN
    local d="$WORK/$1"
    mkdir -p "$d"
    env HERALD_LISTEN=127.0.0.1:0 HERALD_DATA_DIR="$d/data" HERALD_LOG_LEVEL=warn \
        HERALD_ACCESS_TTL=4h ${HERALD_WORKERS:+HERALD_WORKERS=$HERALD_WORKERS} \
        "${srv[@]}" "$BIN" serve > "$d/out" 2> "$d/err" &
    PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$d/out" 2>/dev/null && break; sleep 0.1; done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$d/out")
    [ -n "$PORT" ] || { cat "$d/err" >&2; exit 1; }
    export HERALD_DATA_DIR="$d/data"
    SECRET=$(HERALD_LOG_LEVEL=warn "$BIN" app secret default | sed -n 's/^secret=//p')
    APP_TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
        -d "{\"api_key\":\"default\",\"api_secret\":\"$SECRET\"}" \
        "http://127.0.0.1:$PORT/api/v1/auth/token" | $PY -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    echo "== $1: server pid $PID port $PORT" >&2
}

stop() {
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
}

report() { # the JSON line: kept in $RES, printed as it is (JSON=1) or as the table
    tee -a "$RES"
}

if [ "$MODE" = inapp ]; then
    SOCKETS="${SOCKETS:-1000}"
    for rate in ${RATES:-1000 5000 20000 30000}; do
        start "inapp-$rate"
        $PY "$HERE/chat_setup.py" "$PORT" "$SECRET" notify "$SOCKETS" "$SOCKETS" "$WORK/tokens" >&2
        "${lg[@]}" "$HB" notify --port "$PORT" --tokens "$WORK/tokens" --conns "$SOCKETS" \
            --rate "$rate" --publishers "${PUBLISHERS:-16}" --duration "${DUR:-8}" \
            --warmup "${WARM:-2}" --drain "${DRAIN:-3}" --pid "$PID" \
            --header "Authorization: Bearer $APP_TOKEN" ${JSON:+--json} | report || true
        stop
    done
    exit 0
fi

# fanout
USERS="${USERS:-100000}"
SOCKETS="${SOCKETS:-10000}"
start fanout
t0=$(date +%s.%N)
$PY "$HERE/chat_setup.py" "$PORT" "$SECRET" notify "$USERS" "$SOCKETS" "$WORK/tokens" >&2
echo "setup: $USERS users, $SOCKETS tokens in $(echo "$(date +%s.%N) - $t0" | bc) s" >&2
PASS="bench-passphrase-$RANDOM$RANDOM"
echo "$PASS" | HERALD_LOG_LEVEL=warn "$BIN" admin create fanbench --password-stdin >&2
OP=$(curl -fsS -H 'Content-Type: application/json' -d "{\"username\":\"fanbench\",\"password\":\"$PASS\"}" \
    "http://127.0.0.1:$PORT/api/v1/admin/auth/login" | $PY -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
APP_ID=$(curl -fsS -H "Authorization: Bearer $OP" "http://127.0.0.1:$PORT/api/v1/admin/apps" |
    $PY -c 'import json,sys; print([a["id"] for a in json.load(sys.stdin)["results"] if a["key"] == "default"][0])')
curl -fsS -o /dev/null -H "Authorization: Bearer $OP" -H 'Content-Type: application/json' \
    -d "{\"app_id\":\"$APP_ID\",\"code\":\"bench.fan\",\"name\":\"Bench fan-out\",\"channels\":[\"inapp\"]}" \
    "http://127.0.0.1:$PORT/api/v1/admin/message-types"
$PY "$HERE/notify_poll.py" "$PORT" "$APP_TOKEN" bench.fan "${TIMEOUT:-600}" "${POLL_INTERVAL:-0.05}" > "$WORK/poll" &
POLL=$!
"${lg[@]}" "$HB" notify --port "$PORT" --tokens "$WORK/tokens" --conns "$SOCKETS" --count 1 \
    --rate 1 --warmup 0 --duration 1 --drain "${DRAIN_FAN:-60}" --publishers 1 --pid "$PID" \
    --body '{"type":"bench.fan","recipients":"subscribers","title":"fan-out","content":"{t}"}' \
    --header "Authorization: Bearer $APP_TOKEN" ${JSON:+--json} | report || true
wait "$POLL" || true
echo "server side: $(cat "$WORK/poll")" | tee -a "$RES"
stop
