#!/usr/bin/env bash
# bench/login_p99.sh - issue 3 target: "while 50 concurrent logins hash passwords, /health p99
# stays <= 5 ms". Starts Herald (release build, default workers), registers 50 users, then runs
# herald-bench http on /health (10 connections, closed loop) twice: alone, and while 50 clients
# log in back to back (yescrypt on the worker pool). Prints both lines and the login rate.
#
#   bench/login_p99.sh build/release/herald build/release/herald-bench [SECONDS=8]
set -euo pipefail
BIN="$(realpath "$1")"
HB="$(realpath "$2")"
DUR="${3:-8}"
WORK="$(mktemp -d /tmp/login-p99-XXXXXX)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
HERALD_LISTEN=127.0.0.1:0 HERALD_DATA_DIR="$WORK/data" HERALD_LOG_LEVEL=warn "$BIN" serve \
    > "$WORK/out" 2> "$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/out" && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$WORK/out")
/usr/bin/python3 - "$PORT" <<'PYEOF'
import http.client, json, sys
port = int(sys.argv[1])
for i in range(50):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("POST", "/api/v1/auth/register", json.dumps(
        {"username": "bench%d" % i, "password": "bench password %d" % i}),
        {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 201, r.status
PYEOF
echo "== /health alone (herald-bench http --conns 10, ${DUR}s)"
"$HB" http --port "$PORT" --conns 10 --duration "$DUR" --pid "$PID" | grep -E "requests|latency|server" || true
echo "== /health while 50 clients log in back to back"
/usr/bin/python3 - "$PORT" "$((DUR + 2))" > "$WORK/logins" <<'PYEOF' &
import http.client, json, sys, threading, time
port, dur = int(sys.argv[1]), float(sys.argv[2])
done = [0] * 50
stop = time.time() + dur
def run(i):
    c = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"username": "bench%d" % i, "password": "bench password %d" % i})
    while time.time() < stop:
        c.request("POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
        done[i] += 1
ts = [threading.Thread(target=run, args=(i,)) for i in range(50)]
[t.start() for t in ts]; [t.join() for t in ts]
print("logins: %d in %.0fs = %.0f/s" % (sum(done), dur, sum(done) / dur))
PYEOF
LP=$!
sleep 1
"$HB" http --port "$PORT" --conns 10 --duration "$DUR" --pid "$PID" | grep -E "requests|latency|server" || true
wait "$LP"
cat "$WORK/logins"
