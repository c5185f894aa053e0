#!/usr/bin/env bash
# bench/w5_setup.sh - the TARGET_W5_SETUP of the comparison harness's W5 (notifications by e-mail)
# for Herald: run by ../shared/bench/run.sh once the target (started by bench/w5.sh) listens.
#
#   PORT=18100 W5_SMTP_PORT=18225 W5_HERALD_BIN=build/release/herald HERALD_DATA_DIR=DIR bench/w5_setup.sh
#
# On the server's data folder and over its HTTP API it:
#  - adds a secret to the `default` app (`herald app secret default`) and trades it for an app
#    token (POST /api/v1/auth/token: checked in memory, where key + secret would read the store);
#  - creates a superadmin operator (`herald admin create`), logs in and creates an `email`
#    channel "bench-mail" whose pool is W5_ACCOUNTS (4) accounts, all at the harness's SMTP sink
#    127.0.0.1:$W5_SMTP_PORT with `security: none`, each keeping W5_CONNECTIONS (4) SMTP
#    connections open and reusing them; concurrency = accounts x connections (at most 16, the
#    channel's bound), no rate limit;
#  - checks the channel with a test send (the sink must answer `sent`);
#  - prints the header line the harness adds to every POST: `Authorization: Bearer <app token>`.
# The harness's default body already sends with `"channels":["email"]` and an e-mail recipient,
# so no message type is needed. Everything but the header goes to stderr.
set -euo pipefail
: "${PORT:?PORT: the port of the target, set by the harness}"
: "${W5_SMTP_PORT:?W5_SMTP_PORT is set by the harness}"
: "${W5_HERALD_BIN:?W5_HERALD_BIN}" "${HERALD_DATA_DIR:?HERALD_DATA_DIR}"
export HERALD_DATA_DIR HERALD_LOG_LEVEL=warn
ACCOUNTS="${W5_ACCOUNTS:-4}"
CONNS="${W5_CONNECTIONS:-4}"
CONC=$((ACCOUNTS * CONNS > 16 ? 16 : ACCOUNTS * CONNS))
BASE="http://127.0.0.1:$PORT/api/v1"
PY=/usr/bin/python3
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

SECRET=$("$W5_HERALD_BIN" app secret default | sed -n 's/^secret=//p')
[ -n "$SECRET" ] || { echo "w5_setup: no app secret" >&2; exit 1; }
APP_TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"api_key\":\"default\",\"api_secret\":\"$SECRET\"}" "$BASE/auth/token" | json 'd["access_token"]')

PASS="bench-passphrase-$RANDOM$RANDOM"
echo "$PASS" | "$W5_HERALD_BIN" admin create w5bench --password-stdin >&2
OP=$(curl -fsS -H 'Content-Type: application/json' -d "{\"username\":\"w5bench\",\"password\":\"$PASS\"}" \
    "$BASE/admin/auth/login" | json 'd["access_token"]')
APP_ID=$(curl -fsS -H "Authorization: Bearer $OP" "$BASE/admin/apps" |
    json '[a["id"] for a in d["results"] if a["key"] == "default"][0]')
accounts=$($PY -c "import json,sys; print(json.dumps([{'host':'127.0.0.1','port':int(sys.argv[1]),'security':'none','connections':int(sys.argv[3])} for _ in range(int(sys.argv[2]))]))" "$W5_SMTP_PORT" "$ACCOUNTS" "$CONNS")
CH=$(curl -fsS -H "Authorization: Bearer $OP" -H 'Content-Type: application/json' \
    -d "{\"app_id\":\"$APP_ID\",\"name\":\"bench-mail\",\"kind\":\"email\",\"concurrency\":$CONC,
         \"config\":{\"from\":\"Herald bench <bench@herald.test>\",\"cooldown_s\":1,\"accounts\":$accounts}}" \
    "$BASE/admin/channels" | json 'd["id"]')
outcome=$(curl -fsS -H "Authorization: Bearer $OP" -H 'Content-Type: application/json' \
    -d '{"to":"setup@example.com","title":"w5 setup","content":"channel check"}' \
    "$BASE/admin/channels/$CH/test" | json 'd["outcome"]')
[ "$outcome" = sent ] || { echo "w5_setup: test send through $CH: $outcome" >&2; exit 1; }
echo "w5_setup: app $APP_ID, channel $CH ($ACCOUNTS accounts x $CONNS connections, concurrency $CONC -> 127.0.0.1:$W5_SMTP_PORT), test send ok" >&2
echo "Authorization: Bearer $APP_TOKEN"
