#!/usr/bin/env bash
# bench/run.sh - the `make bench` scenarios: starts Herald (pinned to one CPU), drives it with
# herald-bench (pinned to another) and, when they are available, measures the reference peers in
# the same run (nginx `return 200` for HTTP, the shared harness's raw TCP echo "ceiling" for the
# ping round trip), then prints a markdown table with Herald/peer ratios.
#
#   bench/run.sh HERALD_BIN HERALD_BENCH_BIN
#   DUR=30 REPS=3 bench/run.sh build/release/herald build/release/herald-bench
#
# Every server is started fresh for each measurement and stopped by its pid (TERM, then KILL
# after 5 s). All traffic goes to 127.0.0.1. Outputs: bench/out/ (results.tsv, summary.md,
# commands.txt, server logs). Default run: about 4 minutes.
set -uo pipefail

# ---------------------------------------------------------------- knobs (environment)
DUR="${DUR:-8}"                     # measured seconds per rate / ping run
WARM="${WARM:-2}"                   # warmup seconds before the window (ping runs)
DRAIN="${DRAIN:-2}"                 # seconds to wait for late pongs after sending stops
HTTP_WARM="${HTTP_WARM:-1}"         # warmup seconds for the HTTP runs
HTTP_CONNS="${HTTP_CONNS:-50}"      # keep-alive connections (herald-bench http and wrk -c)
HTTP_PATH="${HTTP_PATH:-/health}"
IDLE_NS="${IDLE_NS:-1000 5000 10000}" # idle WebSocket connection counts
HOLD="${HOLD:-5}"                   # seconds idle connections are held before RSS is read
CONC="${CONC:-256}"                 # handshakes in flight while connecting
CONNS="${CONNS:-1000}"              # connections for ws-ping / raw-echo
RATE="${RATE:-40000}"               # open-loop ping rate (msg/s, in total)
DEPTH="${DEPTH:-1}"                 # pings in flight per connection in the closed-loop (max) run
REPS="${REPS:-2}"                   # repetitions; the table shows the median
WS_PATH="${WS_PATH:-/ws?user_id=u{id}}"
SRV_CPU="${SRV_CPU:-1}"             # CPU for the server under test
LG_CPU="${LG_CPU:-0}"               # CPU for herald-bench and wrk
PEERS="${PEERS:-1}"                 # 0: Herald only
WRK="${WRK:-1}"                     # 0: skip wrk even when installed
HERALD_WORKERS="${HERALD_WORKERS:-1}" # one event loop: Herald gets one core, like every peer
HERALD_DEMO="${HERALD_DEMO:-1}"     # demo sign-in, so /ws?user_id=uN needs no token
SCENARIOS="${SCENARIOS:-http idle ping}"
SPIN="${SPIN:-0}"                   # 1: SCHED_IDLE spinners keep both vCPUs out of halt (steadier
                                    # low-load latency, costlier wakeups; see the shared README)

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
SHARED_BENCH="${SHARED_BENCH:-$ROOT/../shared/bench}"
OUT="${BENCH_OUT:-$HERE/out}"
PY=/usr/bin/python3

if [ $# -ne 2 ]; then
    echo "usage: $0 HERALD_BIN HERALD_BENCH_BIN" >&2
    exit 2
fi
HERALD_BIN="$(realpath "$1")"
BENCH_BIN="$(realpath "$2")"
[ -x "$HERALD_BIN" ] || { echo "not executable: $HERALD_BIN" >&2; exit 2; }
[ -x "$BENCH_BIN" ] || { echo "not executable: $BENCH_BIN" >&2; exit 2; }

mkdir -p "$OUT"
RES="$OUT/results.tsv"
: > "$RES"
: > "$OUT/commands.txt"
: > "$OUT/herald.stderr"
: > "$OUT/wrk.log"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PIN_SRV=() PIN_LG=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SRV=(taskset -c "$SRV_CPU")
    PIN_LG=(taskset -c "$LG_CPU")
else
    log "taskset missing or fewer than 2 CPUs: server and load generator are not pinned"
fi

# ---------------------------------------------------------------- process control
SRV_PID=""        # the server process we started (stopped by pid)
SRV_PIDS=""       # comma list measured for CPU / RSS (nginx: master and worker)
SRV_PORT=""
SRV_DATA=""

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$SRV_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

stop_server() {
    [ -n "$SRV_PID" ] || return 0
    if kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null
        local i
        for ((i = 0; i < 50; i++)); do
            kill -0 "$SRV_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$SRV_PID" 2>/dev/null && kill -KILL "$SRV_PID" 2>/dev/null
    fi
    wait "$SRV_PID" 2>/dev/null
    [ -n "$SRV_DATA" ] && rm -rf "$SRV_DATA"
    SRV_PID="" SRV_PIDS="" SRV_PORT="" SRV_DATA=""
}
SPIN_PIDS=""
start_spin() { # the shared harness's spinner, compiled into $OUT like the ceiling
    local src="$SHARED_BENCH/loadgen/spin.c" c
    [ -f "$src" ] || { log "SPIN=1 but $src is missing: running without spinners"; return; }
    cc -O2 -o "$OUT/spin" "$src" 2>"$OUT/spin.build.log" || { log "spin.c did not build"; return; }
    for c in $SRV_CPU $LG_CPU; do
        taskset -c "$c" "$OUT/spin" 3600 &
        SPIN_PIDS="$SPIN_PIDS $!"
    done
}
stop_spin() {
    local p
    for p in $SPIN_PIDS; do
        kill -TERM "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    SPIN_PIDS=""
}
trap 'stop_server; stop_spin' EXIT
trap 'stop_server; stop_spin; exit 130' INT TERM

start_herald() {
    SRV_DATA="$(mktemp -d "${TMPDIR:-/tmp}/herald-bench-data.XXXXXX")"
    : > "$OUT/herald.stdout"
    HERALD_LISTEN=127.0.0.1:0 HERALD_DATA_DIR="$SRV_DATA" HERALD_LOG_LEVEL=warn \
        HERALD_WORKERS="$HERALD_WORKERS" HERALD_DEMO="$HERALD_DEMO" \
        "${PIN_SRV[@]}" "$HERALD_BIN" serve >"$OUT/herald.stdout" 2>>"$OUT/herald.stderr" &
    SRV_PID=$!
    SRV_PIDS=$SRV_PID
    local i line
    for ((i = 0; i < 150; i++)); do
        line="$(grep -m1 -o 'listening on .*' "$OUT/herald.stdout" 2>/dev/null)"
        if [ -n "$line" ]; then
            SRV_PORT="${line##*:}"
            return 0
        fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "herald did not print 'listening on HOST:PORT' (see $OUT/herald.stderr)"
    stop_server
    return 1
}

have_nginx() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }

start_nginx() {
    local bin port
    bin="$(command -v nginx || echo /usr/sbin/nginx)"
    port="$(free_port)"
    mkdir -p "$OUT/nginx_tmp"
    cat >"$OUT/nginx.conf" <<EOF
# generated by bench/run.sh: the HTTP reference peer (one worker, pinned like the server)
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $OUT/nginx.pid;
error_log $OUT/nginx_error.log warn;
events { worker_connections 19000; use epoll; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx_tmp;
    proxy_temp_path $OUT/nginx_tmp;
    fastcgi_temp_path $OUT/nginx_tmp;
    uwsgi_temp_path $OUT/nginx_tmp;
    scgi_temp_path $OUT/nginx_tmp;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location = $HTTP_PATH { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
EOF
    "${PIN_SRV[@]}" "$bin" -c "$OUT/nginx.conf" -p "$OUT/" -e "$OUT/nginx_error.log" \
        >"$OUT/nginx.stdout" 2>&1 &
    SRV_PID=$!
    SRV_PORT=$port
    if ! wait_port "$port" 10; then
        log "nginx did not listen on $port (see $OUT/nginx_error.log)"
        stop_server
        return 1
    fi
    local kids
    kids="$(ps -o pid= --ppid "$SRV_PID" 2>/dev/null | tr -d ' ' | paste -sd, -)"
    SRV_PIDS="$SRV_PID${kids:+,$kids}"
}

CEILING=""
build_ceiling() {
    local src="$SHARED_BENCH/loadgen/ceiling.c"
    [ -f "$src" ] || return 1
    if [ ! -x "$OUT/ceiling" ] || [ "$src" -nt "$OUT/ceiling" ]; then
        cc -O2 -o "$OUT/ceiling" "$src" 2>"$OUT/ceiling.build.log" || return 1
    fi
    CEILING="$OUT/ceiling"
}

start_ceiling() {
    local port
    port="$(free_port)"
    "${PIN_SRV[@]}" "$CEILING" echo "$port" >"$OUT/ceiling.log" 2>&1 &
    SRV_PID=$!
    SRV_PIDS=$SRV_PID
    SRV_PORT=$port
    wait_port "$port" 10 || { log "ceiling did not listen on $port"; stop_server; return 1; }
}

start_target() { # herald | nginx | ceiling
    case $1 in
    herald) start_herald ;;
    nginx) start_nginx ;;
    ceiling) start_ceiling ;;
    esac
}

# ---------------------------------------------------------------- measurements
# record SCENARIO TARGET TOOL REP JSON
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RES"; }

# bench SCENARIO TARGET REP MODE ARGS... : one herald-bench call against a fresh server
bench() {
    local sc=$1 tg=$2 rep=$3 mode=$4
    shift 4
    if ! start_target "$tg"; then
        record "$sc" "$tg" "herald-bench" "$rep" '{"error":"server did not start"}'
        return
    fi
    local args=("$mode" --host 127.0.0.1 --port "$SRV_PORT" --pid "$SRV_PIDS" --json "$@")
    echo "${PIN_LG[*]} herald-bench ${args[*]}   # $sc $tg rep $rep" >>"$OUT/commands.txt"
    local out
    out="$(timeout 300 "${PIN_LG[@]}" "$BENCH_BIN" "${args[@]}" 2>>"$OUT/herald-bench.log")"
    [ -n "$out" ] || out='{"error":"no output"}'
    record "$sc" "$tg" "herald-bench" "$rep" "$out"
    log "$sc $tg: $(summ_line "$out")"
    stop_server
}

cpu_ticks() { # utime+stime of a comma list of pids
    local t=0 p s
    for p in ${1//,/ }; do
        s="$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null)" && t=$((t + s))
    done
    echo "$t"
}

to_ms() { # wrk latency "182.00us" / "1.20ms" / "1.01s" -> ms
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "null" }'
}

wrk_run() { # SCENARIO TARGET REP
    local sc=$1 tg=$2 rep=$3
    start_target "$tg" || { record "$sc" "$tg" wrk "$rep" '{"error":"server did not start"}'; return; }
    local url="http://127.0.0.1:$SRV_PORT$HTTP_PATH" hz c0 c1 t0 t1 out
    echo "${PIN_LG[*]} wrk -t1 -c$HTTP_CONNS -d${DUR}s --latency $url   # $sc $tg rep $rep" >>"$OUT/commands.txt"
    hz="$(getconf CLK_TCK)"
    c0="$(cpu_ticks "$SRV_PIDS")"
    t0="$(date +%s%N)"
    out="$(timeout $((DUR + 30)) "${PIN_LG[@]}" wrk -t1 -c"$HTTP_CONNS" -d"${DUR}s" --latency "$url" 2>&1)"
    t1="$(date +%s%N)"
    c1="$(cpu_ticks "$SRV_PIDS")"
    printf '== %s %s rep %s\n%s\n' "$sc" "$tg" "$rep" "$out" >>"$OUT/wrk.log"
    local rps p50 p90 p99 non2xx errs cpu json
    rps="$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")"
    p50="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")"
    p90="$(to_ms "$(awk '$1 == "90%" { print $2 }' <<<"$out")")"
    p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
    non2xx="$(awk '/Non-2xx/ { print $NF }' <<<"$out")"
    errs="$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' <<<"$out")"
    cpu="$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%.1f", (b - a) * 100 / hz / ((t1 - t0) / 1e9) }')"
    json="{\"rps\":${rps:-0},\"p50_ms\":$p50,\"p90_ms\":$p90,\"p99_ms\":$p99,\"non2xx\":${non2xx:-0},\"errors\":${errs:-0},\"server_cpu_pct\":$cpu}"
    record "$sc" "$tg" wrk "$rep" "$json"
    log "$sc $tg wrk: ${rps:-0} req/s, p50 $p50 ms, p99 $p99 ms"
    stop_server
}

summ_line() { # one JSON result -> short log line
    "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
keys = ("error", "rps", "rate", "connected", "kib_per_conn", "p50_ms", "p99_ms", "loss_pct", "errors",
        "server_cpu_pct", "client_cpu_pct")
print(" ".join("%s=%s" % (k, d[k]) for k in keys if k in d))' "$1" 2>/dev/null || echo "$1"
}

# ---------------------------------------------------------------- scenarios
WITH_NGINX=0 WITH_CEILING=0 WITH_WRK=0
if [ "$PEERS" = 1 ]; then
    have_nginx && WITH_NGINX=1
    build_ceiling && WITH_CEILING=1
fi
[ "$WRK" = 1 ] && command -v wrk >/dev/null && WITH_WRK=1
log "herald $HERALD_BIN; load generator $BENCH_BIN; reps $REPS; server cpu ${PIN_SRV[*]:-unpinned}, load ${PIN_LG[*]:-unpinned}"
log "peers: nginx=$WITH_NGINX ceiling=$WITH_CEILING wrk=$WITH_WRK (shared bench: $SHARED_BENCH); spin $SPIN"
[ "$SPIN" = 1 ] && [ ${#PIN_SRV[@]} -gt 0 ] && start_spin

for ((rep = 1; rep <= REPS; rep++)); do
    log "== repetition $rep of $REPS"
    if [[ " $SCENARIOS " == *" http "* ]]; then
        for tg in herald $([ $WITH_NGINX = 1 ] && echo nginx); do
            bench http "$tg" "$rep" http --path "$HTTP_PATH" --conns "$HTTP_CONNS" \
                --duration "$DUR" --warmup "$HTTP_WARM"
            [ $WITH_WRK = 1 ] && wrk_run http "$tg" "$rep"
        done
    fi
    if [[ " $SCENARIOS " == *" idle "* ]]; then
        for n in $IDLE_NS; do
            bench "idle-$n" herald "$rep" ws-idle --path "$WS_PATH" --conns "$n" --conc "$CONC" \
                --hold "$HOLD"
        done
    fi
    if [[ " $SCENARIOS " == *" ping "* ]]; then
        for r in 0 "$RATE"; do
            bench "ping-$r" herald "$rep" ws-ping --path "$WS_PATH" --conns "$CONNS" --rate "$r" \
                --depth "$DEPTH" --duration "$DUR" --warmup "$WARM" --drain "$DRAIN" --conc "$CONC"
            [ $WITH_CEILING = 1 ] && bench "ping-$r" ceiling "$rep" raw-echo --conns "$CONNS" \
                --rate "$r" --depth "$DEPTH" --duration "$DUR" --warmup "$WARM" --drain "$DRAIN" \
                --conc "$CONC"
        done
    fi
done
stop_server
stop_spin

# ---------------------------------------------------------------- table
"$PY" "$HERE/summarize.py" "$RES" "$HTTP_CONNS" "$HTTP_PATH" "$CONNS" "$RATE" "$REPS" "$DUR" "$SPIN" \
    | tee "$OUT/summary.md"
