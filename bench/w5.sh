#!/usr/bin/env bash
# bench/w5.sh - issue 11's e-mail target: the comparison harness's W5 (open-loop POST of e-mail
# notifications, mails counted at a local SMTP sink) with Herald as its `target` peer, in the
# same run as the S1 replica `s1_notify`.
#
#   bench/w5.sh HERALD_BIN HARNESS_DIR [PEER...]        (default peers: target s1_notify)
#   W5_RATES="100 200 1000 2000" REPS=2 bench/w5.sh build/release/herald /tmp/x/harness
#
# HARNESS_DIR is a writable copy of ../shared/bench with its loadgen built:
#   H=$(mktemp -d)/harness; cp -r /work/shared/bench $H && chmod 755 $(dirname $H) \
#     && chmod u+w $H && make -C $H/loadgen
# For every rate the harness starts Herald afresh (this script with --serve: an empty data
# folder, HERALD_WORKERS=1 by default, pinned to the harness's server CPU), runs
# bench/w5_setup.sh (app token, an e-mail channel of 4 accounts pointing at the sink), and
# POSTs {"type":"bench.notice","recipients":[{"email":…}],"channels":["email"],…} to
# /api/v1/notifications over 64 keep-alive connections with the app token.
# W5_SINK defaults to `fast` (aiosmtpd tops out near 400 mails/s). Other harness knobs
# (W5_RATES, W5_CONNS, W5_DRAIN, DUR, REPS, SPIN, BENCH_OUT) pass through.
# Results: $BENCH_OUT/results.txt and summary.md (default bench/out/w5).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

if [ "${1:-}" = --serve ]; then   # TARGET_CMD: a fresh data folder for every start
    rm -rf "$W5_WORK/data"
    mkdir -p "$W5_WORK/data"
    exec env HERALD_LISTEN="127.0.0.1:$TARGET_PORT" HERALD_DATA_DIR="$W5_WORK/data" \
        HERALD_LOG_LEVEL=warn HERALD_WORKERS="${HERALD_WORKERS:-1}" "$W5_HERALD_BIN" serve
fi

[ $# -ge 2 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
export W5_HERALD_BIN="$(readlink -f "$1")"
HARNESS="$(readlink -f "$2")"
shift 2
PEERS=("$@")
[ ${#PEERS[@]} -gt 0 ] || PEERS=(target s1_notify)
[ -x "$HARNESS/run.sh" ] && [ -x "$HARNESS/loadgen/loadgen" ] ||
    { echo "w5: $HARNESS is not a built copy of the harness (see the header)" >&2; exit 2; }
export W5_WORK="$(mktemp -d "${TMPDIR:-/tmp}/herald-w5-XXXXXX")"
trap 'rm -rf "$W5_WORK"' EXIT
export TARGET_PORT="${TARGET_PORT:-18100}"
export TARGET_CMD="$HERE/w5.sh --serve"
export HERALD_DATA_DIR="$W5_WORK/data"
export TARGET_W5_SETUP="$HERE/w5_setup.sh"
export TARGET_W5_HEADERS=""          # the setup prints the app token's header
export W5_SINK="${W5_SINK:-fast}"
export BENCH_OUT="$(mkdir -p "${BENCH_OUT:-bench/out/w5}" && readlink -f "${BENCH_OUT:-bench/out/w5}")"
cd "$HARNESS" && WORKLOADS=w5 REPS="${REPS:-1}" ./run.sh "${PEERS[@]}"
