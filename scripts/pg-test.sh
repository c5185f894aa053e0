#!/usr/bin/env bash
# scripts/pg-test.sh CMD [ARGS...] - runs CMD with a throwaway PostgreSQL server.
#
# Initialises a cluster into a temporary folder (initdb, as the unprivileged user
# `herald-pg`, created when running as root: PostgreSQL refuses to run as root), starts it
# with pg_ctl on a random free loopback port (unix socket inside the folder, fsync on), runs
# CMD with HERALD_TEST_PG_URL=postgres://herald@127.0.0.1:PORT/postgres (a superuser that
# may CREATE DATABASE, so tests can make one database per server), then stops the server by
# its pid and removes the folder, whatever CMD did. Exits with CMD's status.
set -euo pipefail
PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "pg-test: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
    exit 1
fi
RUNAS=()
if [ "$(id -u)" = 0 ]; then
    id herald-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin herald-pg
    RUNAS=(runuser -u herald-pg --)
fi
DIR="$(mktemp -d /tmp/herald-pg-XXXXXX)"
chmod 0755 "$DIR"
[ "$(id -u)" = 0 ] && chown herald-pg "$DIR"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PID=""
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -INT "$PID" 2>/dev/null || true # fast shutdown
        for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
"${RUNAS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U herald --auth=trust -E UTF8 --locale=C.UTF-8 \
    > "$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" \
    start > /dev/null || { cat "$DIR/server.log" >&2; exit 1; }
PID="$(head -1 "$DIR/data/postmaster.pid")"
export HERALD_TEST_PG_URL="postgres://herald@127.0.0.1:$PORT/postgres"
echo "pg-test: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') pid $PID on 127.0.0.1:$PORT"
set +e
"$@"
rc=$?
set -e
exit $rc
