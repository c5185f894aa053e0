#!/usr/bin/env bash
# scripts/side-by-side.sh CMD1 CMD2 ... - runs each command (a shell command line) at the same
# time, each with its output in a log of its own, then prints each log in turn, in the order
# given, and exits 1 when any command failed (0 otherwise). `make test` runs the SQLite and the
# PostgreSQL passes of the end-to-end suite this way: most of their time is spent waiting on
# servers, so two passes on two cores take little longer than one. SIDE_BY_SIDE=0 runs them one
# after the other instead (a one-core machine).
set -uo pipefail
DIR="$(mktemp -d /tmp/herald-sbs-XXXXXX)"
trap 'rm -rf "$DIR"' EXIT
pids=()
status=0
i=0
for cmd in "$@"; do
    i=$((i + 1))
    if [ "${SIDE_BY_SIDE:-1}" = 0 ]; then
        echo "== [$i] $cmd"
        bash -c "$cmd" || status=1
        continue
    fi
    bash -c "$cmd" > "$DIR/$i.log" 2>&1 &
    pids+=("$!")
done
[ "${SIDE_BY_SIDE:-1}" = 0 ] && exit "$status"
i=0
for cmd in "$@"; do
    wait "${pids[$i]}"
    rc=$?
    i=$((i + 1))
    echo "== [$i] $cmd (exit $rc)"
    cat "$DIR/$i.log"
    [ "$rc" = 0 ] || status=1
done
exit "$status"
