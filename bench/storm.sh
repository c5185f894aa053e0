#!/usr/bin/env bash
# bench/storm.sh - the reconnect storm of issue 9: CLIENTS chat users, each in a direct
# conversation with one of PEERS peers (a shop's or an agent's account: client i talks to
# peer i mod PEERS), connect over /ws with app-minted user tokens, keep their hello cursor and
# go offline; the peers send MISSED messages to each of them; then every client reconnects at
# once, sends `sync {cursor}` and reads until `sync.done` without has_more, counting that it got
# exactly its MISSED messages. Target: 10,000 clients x 50 missed all caught up within 10 s.
# Starts its own server (release build, temporary data folder) and stops it.
#
#   bench/storm.sh HERALD_BIN HERALD_BENCH_BIN [CLIENTS=10000] [MISSED=50]
#   PEERS=100 SIZE=100 CONC=0 TIMEOUT=120 HERALD_WORKERS=2 JSON=1 bench/storm.sh ...
#
# Prints herald-bench's table (JSON=1: its JSON object) and the server's RSS after start and
# after setup. All traffic is loopback.
set -euo pipefail
BIN="$(realpath "$1")"
HB="$(realpath "$2")"
CLIENTS="${3:-10000}"
MISSED="${4:-50}"
PEERS="${PEERS:-100}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/storm-XXXXXX")"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

rss() { sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$PID/status"; }

env HERALD_LISTEN=127.0.0.1:0 HERALD_DATA_DIR="$WORK/data" HERALD_LOG_LEVEL=warn \
    HERALD_ACCESS_TTL=4h ${HERALD_WORKERS:+HERALD_WORKERS=$HERALD_WORKERS} \
    "$BIN" serve > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$WORK/out")
[ -n "$PORT" ] || { cat "$WORK/err" >&2; exit 1; }
echo "server pid $PID port $PORT, RSS after start: $(rss)"
SECRET=$(HERALD_DATA_DIR="$WORK/data" HERALD_LOG_LEVEL=warn "$BIN" app secret default |
    sed -n 's/^secret=//p')
/usr/bin/python3 "$(dirname "$0")/chat_setup.py" "$PORT" "$SECRET" storm "$PEERS" "$CLIENTS" \
    "$WORK/tokens"
echo "RSS after setup: $(rss)"
"$HB" storm --port "$PORT" --tokens "$WORK/tokens" --clients "$CLIENTS" --peers "$PEERS" \
    --missed "$MISSED" --size "${SIZE:-100}" --conc "${CONC:-0}" --timeout "${TIMEOUT:-120}" \
    --pid "$PID" ${JSON:+--json} || echo "herald-bench storm: exit status $? (not every client caught up exactly)"
# the server's own complaints, if any (not the first start's key and console notices)
grep -v -e "generated a new key" -e "no console operator" "$WORK/err" | tail -n 5 || true
