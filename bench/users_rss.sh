#!/usr/bin/env bash
# bench/users_rss.sh - issue 3 memory target: "a user record costs nothing while idle;
# 1,000,000 users in the store leave the server's RSS unchanged". Imports N users
# (`herald user import`, timed), then starts the server on that store and on an empty one,
# reads VmRSS after start and after R random GET /api/v1/users/{id} requests, and prints both.
#
#   bench/users_rss.sh build/release/herald [N=1000000] [R=5000]
set -euo pipefail
BIN="$(realpath "$1")"
N="${2:-1000000}"
R="${3:-5000}"
WORK="$(mktemp -d /tmp/users-rss-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
PY=/usr/bin/python3

$PY - "$WORK/users.jsonl" "$N" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"id": "u%d" % i, "name": "User %d" % i, "kind": "buyer",
                            "contacts": {"email": "u%d@example.com" % i},
                            "metadata": {"orders": [i, i + 1]}}) + "\n")
PYEOF

measure() { # $1 = data dir, $2 = label, $3 = id range for lookups
    local dir="$1" label="$2" range="$3" port pid
    HERALD_DATA_DIR="$dir" HERALD_LOG_LEVEL=warn "$BIN" app secret default > "$WORK/secret.$label"
    HERALD_LISTEN=127.0.0.1:0 HERALD_DATA_DIR="$dir" HERALD_WORKERS=1 HERALD_LOG_LEVEL=warn \
        "$BIN" serve > "$WORK/out.$label" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/out.$label" && break; sleep 0.1; done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$WORK/out.$label")
    $PY - "$port" "$pid" "$WORK/secret.$label" "$range" "$R" "$label" <<'PYEOF'
import http.client, random, sys
port, pid, secret_file, rng, reqs, label = sys.argv[1:]
kv = dict(l.strip().split("=", 1) for l in open(secret_file) if "=" in l)
h = {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"]}
def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
c = http.client.HTTPConnection("127.0.0.1", int(port))
c.request("GET", "/health"); c.getresponse().read()
start = rss()
found = 0
for _ in range(int(reqs)):
    c.request("GET", "/api/v1/users/u%d" % random.randrange(max(int(rng), 1)), headers=h)
    r = c.getresponse(); r.read(); found += r.status == 200
after = rss()
print("%-12s rss_after_start_kib=%d rss_after_%s_lookups_kib=%d found=%d" % (
    label, start, reqs, after, found))
PYEOF
    kill "$pid"; wait "$pid" || true
}

mkdir -p "$WORK/full" "$WORK/empty"
HERALD_DATA_DIR="$WORK/full" HERALD_LOG_LEVEL=warn "$BIN" migrate > /dev/null
start=$(date +%s.%N)
HERALD_DATA_DIR="$WORK/full" HERALD_LOG_LEVEL=warn "$BIN" user import "$WORK/users.jsonl" 2>/dev/null
end=$(date +%s.%N)
echo "import of $N users: $(echo "$end - $start" | bc) s; database $(du -h "$WORK/full/herald.db" | cut -f1)"
measure "$WORK/empty" "empty-store" 1
measure "$WORK/full" "$N-users" "$N"
