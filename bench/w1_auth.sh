#!/usr/bin/env bash
# bench/w1_auth.sh - W1 with real chat users: memory per idle WebSocket connection when every
# user is authenticated (an app-minted user token, POST /api/v1/users/{id}/tokens) and a member
# of 3 conversations: a direct one with each ring neighbour and one group of GROUP users
# (bench/chat_setup.py w1). Target: <= 2 KiB per idle connection at 10,000.
# Starts its own server (release build, temporary data folder), creates the users, tokens and
# conversations, then `herald-bench ws-idle` connects all N with `/ws?token=...`, holds them HOLD
# seconds and reports (RSS after the hold - RSS before connecting) / connected. Stops the server.
# With BASELINE=1 (the default) it then does the same on a fresh demo-mode server with N bare
# connections (`/ws?user_id=u{id}`, no tokens, no conversations): the difference is the cost of
# authentication and chat state, measured in the same sitting.
#
#   bench/w1_auth.sh HERALD_BIN HERALD_BENCH_BIN [N=10000]
#   GROUP=50 HOLD=5 CONC=256 BASELINE=0 HERALD_WORKERS=1 JSON=1 bench/w1_auth.sh ...
#
# RSS before is read after the setup, so the users, conversations and the SQLite page cache
# that the setup filled are not counted; what connecting adds is (sessions, subscriptions,
# presence, the pages its reads touch).
set -euo pipefail
BIN="$(realpath "$1")"
HB="$(realpath "$2")"
N="${3:-10000}"
GROUP="${GROUP:-50}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/w1-auth-XXXXXX")"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

rss() { sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$PID/status"; }

start() { # $1 = label, then extra environment
    local label="$1"
    shift
    mkdir -p "$WORK/$label"
    env HERALD_LISTEN=127.0.0.1:0 HERALD_DATA_DIR="$WORK/$label/data" HERALD_LOG_LEVEL=warn \
        HERALD_ACCESS_TTL=4h ${HERALD_WORKERS:+HERALD_WORKERS=$HERALD_WORKERS} "$@" \
        "$BIN" serve > "$WORK/$label/out" 2> "$WORK/$label/err" &
    PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/$label/out" 2>/dev/null && break; sleep 0.1; done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$WORK/$label/out")
    [ -n "$PORT" ] || { cat "$WORK/$label/err" >&2; exit 1; }
    echo "== $label: server pid $PID port $PORT, RSS after start: $(rss)"
}

stop() { # $1 = label
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
    grep -v -e "generated a new key" -e "no console operator" -e "DEMO MODE" "$WORK/$1/err" | tail -n 5 || true
}

start authenticated
SECRET=$(HERALD_DATA_DIR="$WORK/authenticated/data" HERALD_LOG_LEVEL=warn "$BIN" app secret default |
    sed -n 's/^secret=//p')
/usr/bin/python3 "$(dirname "$0")/chat_setup.py" "$PORT" "$SECRET" w1 "$N" "$GROUP" "$WORK/tokens"
sleep 1
echo "RSS after setup: $(rss)"
"$HB" ws-idle --port "$PORT" --path '/ws?token={token}' --tokens "$WORK/tokens" --conns "$N" \
    --conc "${CONC:-256}" --hold "${HOLD:-5}" --connect-timeout 120 --pid "$PID" ${JSON:+--json}
stop authenticated

if [ "${BASELINE:-1}" = 1 ]; then
    start demo-bare HERALD_DEMO=1
    "$HB" ws-idle --port "$PORT" --path '/ws?user_id=u{id}' --conns "$N" \
        --conc "${CONC:-256}" --hold "${HOLD:-5}" --connect-timeout 120 --pid "$PID" ${JSON:+--json}
    stop demo-bare
fi
