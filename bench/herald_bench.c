/*
 * herald-bench: Herald's own load generator, a tool for users (like redis-benchmark)
 * and the engine of `make bench` (bench/run.sh). One process, one thread, one epoll
 * loop, libc and libm only. It measures, with the same client code: HTTP keep-alive
 * request rate and latency (`http`), the server's memory per idle WebSocket connection
 * (`ws-idle`), the WebSocket JSON ping -> pong round trip (`ws-ping`), and the same
 * round trip over raw newline-framed TCP against an echo server (`raw-echo`, the
 * comparison harness's "ceiling"), so the server can be set against the physical limit
 * of this machine; also events published to many sockets (`fanout`) and chat users who
 * reconnect at once and sync what they missed (`storm`), and notifications POSTed to users'
 * sockets (`notify`: accept rate and latency, request-to-frame latency). It talks to loopback
 * addresses only and every phase has a time limit.
 *
 * Method. ws-ping and raw-echo send open loop: ping k is *scheduled* at t0 + k/rate,
 * whatever happened to earlier pings, and carries that scheduled time in its id
 * ("<seq>-<scheduled CLOCK_MONOTONIC ns>"). Its latency runs from the scheduled time to
 * the arrival of the matching pong, so time a ping spends waiting inside this client (a
 * late wakeup, a full socket buffer, a busy loop) is charged to the round trip instead of
 * silently lowering the offered load: no coordinated omission. A run has a warmup, a
 * measured window and a drain. The pings scheduled inside the window are the sample:
 * "achieved" counts those whose pong arrived before the drain ended, divided by the
 * window length, and the others are "lost". --rate 0 switches to closed loop (every
 * connection keeps --depth pings in flight, scheduled time = send time) to find the
 * maximum rate. `http` is closed loop like wrk: one request in flight per connection,
 * latency from the actual send. Pings go round-robin over the connections; everything
 * due at one wakeup is appended to per-connection output buffers and written with one
 * send() per connection; reads use one large shared buffer; nothing is allocated per
 * message. Latencies go into a log-linear histogram (error under 0.8 %), so memory does
 * not grow with the rate. "client cpu" is this process's CPU time over the window: when
 * it nears 100 %, the figure measures the client, not the server.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE (1u << 20)  /* shared read buffer */
#define MAX_HEAD (64u * 1024) /* HTTP response head limit */
#define MAX_MSG (16u << 20)   /* WebSocket message / raw line limit */
#define OUT_CAP (4u << 20)    /* pending output per connection before pings are dropped */
#define MAX_PATH_LEN 2048
#define MAX_PIDS 32
#define MAX_EVENTS 1024
#define HIST_N 4096
#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 section 1.3 */

/* ---------------------------------------------------------------- basics */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("herald-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL && n > 0) {
        fputs("herald-bench: out of memory\n", stderr);
        abort();
    }
    return q;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* xorshift64*: masks and handshake keys only need to be unpredictable-looking, not secret. */
static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rng_next(void)
{
    uint64_t x = g_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g_rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void rng_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
        s = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
    if (s != 0)
        g_rng = s;
}

static size_t put_u64(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

/* ---------------------------------------------------------------- SHA-1, base64 */

static uint32_t rol32(uint32_t x, unsigned k)
{
    return (x << k) | (x >> (32 - k));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha1(const void *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const uint8_t *p = data;
    size_t left = len;
    for (; left >= 64; p += 64, left -= 64)
        sha1_block(h, p);
    uint8_t tail[128] = {0};
    if (left > 0)
        memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tl = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - (size_t)i] = (uint8_t)(bits >> (8 * i));
    sha1_block(h, tail);
    if (tl == 128)
        sha1_block(h, tail + 64);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

/* Writes base64 of in[0..n) and a NUL to out (4 * ceil(n / 3) + 1 bytes); returns the length. */
static size_t base64_encode(const uint8_t *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* The Sec-WebSocket-Accept value for key: base64(SHA-1(key + GUID)), 28 chars + NUL. */
static void ws_accept_for(const char *key, char out[29])
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
    uint8_t d[20];
    sha1(buf, (size_t)n, d);
    base64_encode(d, sizeof d, out);
}

/* ---------------------------------------------------------------- latency histogram */

/*
 * Log-linear buckets over nanoseconds: exact below 128 ns, then 64 buckets per power of
 * two, so a bucket's midpoint is within 0.8 % of any value in it.
 */
struct hist {
    uint64_t n, max, sum;
    uint64_t b[HIST_N];
};

static unsigned hist_idx(uint64_t v)
{
    if (v < 128)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 6;
    return shift * 64 + (unsigned)(v >> shift);
}

static uint64_t hist_mid(unsigned i)
{
    if (i < 128)
        return i;
    unsigned shift = i / 64 - 1;
    uint64_t lo = (uint64_t)(i - shift * 64) << shift;
    return lo + ((1ULL << shift) >> 1);
}

static void hist_add(struct hist *h, int64_t v)
{
    uint64_t u = v < 0 ? 0 : (uint64_t)v;
    unsigned i = hist_idx(u);
    if (i >= HIST_N)
        i = HIST_N - 1;
    h->b[i]++;
    h->n++;
    h->sum += u;
    if (u > h->max)
        h->max = u;
}

/* The q-quantile (0..1) in milliseconds, NAN when empty. */
static double hist_ms(const struct hist *h, double q)
{
    if (h->n == 0)
        return NAN;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t cum = 0;
    for (unsigned i = 0; i < HIST_N; i++) {
        cum += h->b[i];
        if (cum >= rank) {
            uint64_t v = hist_mid(i);
            if (v > h->max)
                v = h->max;
            return (double)v / 1e6;
        }
    }
    return (double)h->max / 1e6;
}

/* ---------------------------------------------------------------- options */

enum mode { M_HTTP, M_WS_IDLE, M_WS_PING, M_RAW_ECHO, M_FANOUT, M_STORM, M_NOTIFY, M_SELFTEST };

static const char *const mode_name[] = {"http",   "ws-idle", "ws-ping", "raw-echo",
                                        "fanout", "storm",   "notify",  "selftest"};

struct opts {
    enum mode mode;
    const char *host;
    int port;
    const char *path;
    int conns;
    double duration, warmup, drain, hold, connect_timeout;
    int conc;
    double rate;
    int depth;
    double tick_us;
    bool hello;
    bool json;
    int pids[MAX_PIDS];
    int npids;
    int size;               /* fanout: bytes of each delivered frame's payload */
    const char *headers[8]; /* fanout: extra request headers of the publisher */
    int nheaders;
    const char *publish_path; /* fanout */
    const char *to;           /* fanout: the publish body's "to" (JSON) */
    int publishers;           /* fanout: publishing connections */
    const char *tokens;       /* a file of "ID TOKEN" lines: {user} and {token} in --path */
    const char *body;         /* notify: the request body, {user} and {t} replaced */
    long count;               /* notify: notifications to send at most (0: rate x time) */
    bool ack;                 /* notify: ack every notification frame */
    int clients, peers, missed, window, sync_limit; /* storm */
    double timeout, setup_timeout, offline;         /* storm */
};

enum opt_id {
    O_HOST = 256,
    O_PORT,
    O_PATH,
    O_CONNS,
    O_DURATION,
    O_WARMUP,
    O_DRAIN,
    O_HOLD,
    O_CONC,
    O_RATE,
    O_DEPTH,
    O_TICK,
    O_PID,
    O_CONNECT_TIMEOUT,
    O_HELLO,
    O_JSON,
    O_SIZE,
    O_HEADER,
    O_PUBLISH_PATH,
    O_TO,
    O_PUBLISHERS,
    O_TOKENS,
    O_CLIENTS,
    O_PEERS,
    O_MISSED,
    O_WINDOW,
    O_SYNC_LIMIT,
    O_TIMEOUT,
    O_SETUP_TIMEOUT,
    O_OFFLINE,
    O_BODY,
    O_COUNT,
    O_ACK,
    O_HELP,
};

#define MB(m) (1u << (m))
#define M_ANY                                                                                      \
    (MB(M_HTTP) | MB(M_WS_IDLE) | MB(M_WS_PING) | MB(M_RAW_ECHO) | MB(M_FANOUT) | MB(M_STORM) |    \
     MB(M_NOTIFY))
#define M_CONNS                                                                                    \
    (MB(M_WS_IDLE) | MB(M_WS_PING) | MB(M_RAW_ECHO) | MB(M_FANOUT) | MB(M_STORM) | MB(M_NOTIFY))
#define M_WS (MB(M_WS_IDLE) | MB(M_WS_PING) | MB(M_FANOUT) | MB(M_STORM) | MB(M_NOTIFY))
#define M_PING (MB(M_WS_PING) | MB(M_RAW_ECHO) | MB(M_FANOUT) | MB(M_NOTIFY))
#define M_PUB (MB(M_FANOUT) | MB(M_NOTIFY))

static const struct {
    struct option lo;
    unsigned modes;
} optdefs[] = {
    {{"host", required_argument, NULL, O_HOST}, M_ANY},
    {{"port", required_argument, NULL, O_PORT}, M_ANY},
    {{"path", required_argument, NULL, O_PATH}, MB(M_HTTP) | M_WS},
    {{"conns", required_argument, NULL, O_CONNS}, M_ANY & ~MB(M_STORM)},
    {{"duration", required_argument, NULL, O_DURATION}, MB(M_HTTP) | M_PING},
    {{"warmup", required_argument, NULL, O_WARMUP}, MB(M_HTTP) | M_PING},
    {{"drain", required_argument, NULL, O_DRAIN}, M_PING},
    {{"hold", required_argument, NULL, O_HOLD}, MB(M_WS_IDLE)},
    {{"conc", required_argument, NULL, O_CONC}, M_CONNS},
    {{"rate", required_argument, NULL, O_RATE}, M_PING},
    {{"depth", required_argument, NULL, O_DEPTH}, M_PING},
    {{"tick-us", required_argument, NULL, O_TICK}, M_PING},
    {{"pid", required_argument, NULL, O_PID}, M_ANY},
    {{"connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT}, M_ANY & ~MB(M_STORM)},
    {{"hello", required_argument, NULL, O_HELLO}, MB(M_WS_IDLE) | MB(M_WS_PING) | M_PUB},
    {{"size", required_argument, NULL, O_SIZE}, MB(M_FANOUT) | MB(M_STORM)},
    {{"header", required_argument, NULL, O_HEADER}, M_PUB},
    {{"publish-path", required_argument, NULL, O_PUBLISH_PATH}, M_PUB},
    {{"to", required_argument, NULL, O_TO}, MB(M_FANOUT)},
    {{"publishers", required_argument, NULL, O_PUBLISHERS}, M_PUB},
    {{"body", required_argument, NULL, O_BODY}, MB(M_NOTIFY)},
    {{"count", required_argument, NULL, O_COUNT}, MB(M_NOTIFY)},
    {{"ack", required_argument, NULL, O_ACK}, MB(M_NOTIFY)},
    {{"tokens", required_argument, NULL, O_TOKENS}, M_WS},
    {{"clients", required_argument, NULL, O_CLIENTS}, MB(M_STORM)},
    {{"peers", required_argument, NULL, O_PEERS}, MB(M_STORM)},
    {{"missed", required_argument, NULL, O_MISSED}, MB(M_STORM)},
    {{"window", required_argument, NULL, O_WINDOW}, MB(M_STORM)},
    {{"sync-limit", required_argument, NULL, O_SYNC_LIMIT}, MB(M_STORM)},
    {{"timeout", required_argument, NULL, O_TIMEOUT}, MB(M_STORM)},
    {{"setup-timeout", required_argument, NULL, O_SETUP_TIMEOUT}, MB(M_STORM)},
    {{"offline", required_argument, NULL, O_OFFLINE}, MB(M_STORM)},
    {{"json", no_argument, NULL, O_JSON}, M_ANY},
    {{"help", no_argument, NULL, O_HELP}, M_ANY | MB(M_SELFTEST)},
};
#define NOPTS (sizeof optdefs / sizeof optdefs[0])

static const char usage_main[] =
    "usage: herald-bench MODE [options]   (herald-bench MODE --help for each mode)\n"
    "\n"
    "Herald's load generator: one thread, one epoll loop, loopback targets only.\n"
    "\n"
    "modes:\n"
    "  http      closed-loop keep-alive GETs: requests/s, errors, non-2xx, latency\n"
    "  ws-idle   N idle WebSocket connections: connect time, server RSS per connection\n"
    "  ws-ping   open-loop JSON ping -> pong over WebSocket: achieved rate, loss, latency\n"
    "  raw-echo  the same over raw TCP lines against an echo server (the 'ceiling')\n"
    "  fanout    events published over HTTP to N WebSocket connections: deliveries/s, latency\n"
    "  storm     N chat users reconnect at once and sync what they missed: catch-up time, RSS\n"
    "  notify    POST /api/v1/notifications open loop to N users' WebSockets: accepted/s,\n"
    "            accept latency, delivered/s, request-to-frame latency (acks every frame)\n"
    "  selftest  checks SHA-1, base64, the accept key and the histogram\n"
    "\n"
    "common options: --host 127.0.0.1 (loopback only: 127.0.0.0/8, ::1, localhost),\n"
    "  --port P, --pid PID[,PID...] (server processes: CPU %, RSS), --json (one JSON\n"
    "  object instead of the table), --connect-timeout S.\n";

static const char usage_http[] =
    "usage: herald-bench http [options]\n"
    "\n"
    "Closed-loop HTTP/1.1 keep-alive GETs, one request in flight per connection (like wrk).\n"
    "Responses are parsed fully (status line, Content-Length or chunked, keep-alive);\n"
    "a connection the server closes is reopened. Latency runs from the send of a request\n"
    "to the last byte of its response; only responses completed inside the window count.\n"
    "\n"
    "  --host H             loopback address (default 127.0.0.1)\n"
    "  --port P             (default 8080)\n"
    "  --path P             request target (default /health)\n"
    "  --conns N            connections (default 50)\n"
    "  --duration S         measured window in seconds (default 8)\n"
    "  --warmup S           seconds before the window (default 1)\n"
    "  --connect-timeout S  limit for the first connections (default 10)\n"
    "  --pid PID[,PID]      server processes, for server CPU % over the window\n"
    "  --json               print one JSON object\n";

static const char usage_ws_idle[] =
    "usage: herald-bench ws-idle [options]\n"
    "\n"
    "Opens --conns WebSocket connections (at most --conc handshakes in flight), waits for\n"
    "every 101 and the first server frame, holds them --hold seconds (answering server\n"
    "pings, sending nothing else), and reports the server's RSS (VmRSS summed over --pid)\n"
    "before connecting and after the hold: KiB per connection = (after - before) / connected.\n"
    "\n"
    "  --host H             loopback address (default 127.0.0.1)\n"
    "  --port P             (default 8080)\n"
    "  --path P             WebSocket path; {id} becomes the connection index\n"
    "                       (default /ws; e.g. '/ws?user_id=u{id}' or '/ws?token={token}')\n"
    "  --tokens FILE        lines 'ID TOKEN' (a user id and its access token): {user} and\n"
    "                       {token} in --path become those of line i for connection i\n"
    "  --conns N            connections (default 10000)\n"
    "  --conc N             handshakes in flight at most (default 256)\n"
    "  --hold S             seconds to hold the connections (default 5)\n"
    "  --hello 1|0          1: a connection counts once the server's first frame arrived;\n"
    "                       0: once the 101 arrived (default 1)\n"
    "  --connect-timeout S  limit for the connect phase (default 60)\n"
    "  --pid PID[,PID]      server processes whose RSS is measured\n"
    "  --json               print one JSON object\n";

static const char usage_ws_ping[] =
    "usage: herald-bench ws-ping [options]\n"
    "\n"
    "Opens --conns WebSocket connections, then sends masked text frames\n"
    "{\"type\":\"ping\",\"id\":\"<seq>-<scheduled_ns>\"} round-robin over them, open loop at\n"
    "--rate per second in total, and matches each {\"type\":\"pong\",\"id\":...} by its id.\n"
    "Latency runs from the scheduled send time (no coordinated omission). Pings scheduled\n"
    "inside the window (after --warmup, for --duration) are the sample; pongs may arrive\n"
    "until the --drain ends. Other frames are ignored; server pings are answered.\n"
    "\n"
    "  --host H             loopback address (default 127.0.0.1)\n"
    "  --port P             (default 8080)\n"
    "  --path P             WebSocket path, {id} = connection index (default /ws)\n"
    "  --tokens FILE        lines 'ID TOKEN' (a user id and its access token): {user} and\n"
    "                       {token} in --path become those of line i for connection i\n"
    "  --conns N            connections (default 1000)\n"
    "  --rate R             pings per second in total (default 40000); 0 = closed loop:\n"
    "                       every connection keeps --depth pings in flight (maximum rate)\n"
    "  --depth D            pings in flight per connection with --rate 0 (default 1)\n"
    "  --tick-us N          at least N us between send wakeups: more pings per wakeup at very\n"
    "                       high rates, the wait counted in latency (default 0: exact times)\n"
    "  --duration S         measured window (default 8)\n"
    "  --warmup S           (default 2)\n"
    "  --drain S            (default 2)\n"
    "  --conc N             handshakes in flight at most while connecting (default 256)\n"
    "  --hello 1|0          wait for the server's first frame before pinging (default 1)\n"
    "  --connect-timeout S  (default 60)\n"
    "  --pid PID[,PID]      server processes, for server CPU % over the window\n"
    "  --json               print one JSON object\n";

static const char usage_raw_echo[] =
    "usage: herald-bench raw-echo [options]\n"
    "\n"
    "ws-ping over raw TCP: lines '<seq>-<scheduled_ns>\\n' to an echo server (the comparison\n"
    "harness's ceiling, started as 'ceiling echo PORT'), same scheduling, matching and\n"
    "reporting as ws-ping, so the ceiling's rate is measured with the same client code.\n"
    "\n"
    "  --host H             loopback address (default 127.0.0.1)\n"
    "  --port P             (default 18090)\n"
    "  --conns N            connections (default 1000)\n"
    "  --rate R             lines per second in total (default 40000); 0 = closed loop\n"
    "  --depth D            lines in flight per connection with --rate 0 (default 1)\n"
    "  --tick-us N          at least N us between send wakeups (default 0)\n"
    "  --duration S, --warmup S, --drain S   (defaults 8, 2, 2)\n"
    "  --conc N             connects in flight at most (default 256)\n"
    "  --connect-timeout S  (default 60)\n"
    "  --pid PID[,PID]      server processes, for server CPU % over the window\n"
    "  --json               print one JSON object\n";

static const char usage_fanout[] =
    "usage: herald-bench fanout [options]\n"
    "\n"
    "Opens --conns WebSocket connections (subscribers), then publishes events over\n"
    "--publishers keep-alive HTTP connections (round robin), open loop at --rate events per\n"
    "second: POST --publish-path\n"
    "with {\"to\":<--to>,\"event\":{\"t\":\"<seq>-<scheduled_ns>\",\"p\":\"...\"}}, padded so\n"
    "that each delivered frame {\"type\":\"event\",\"event\":{...}} has --size bytes. Every\n"
    "subscriber that receives it counts one delivery; latency runs from the scheduled publish\n"
    "time to the arrival on that subscriber. Events published inside the window are the\n"
    "sample: expected deliveries = those events x connected subscribers.\n"
    "\n"
    "  --host H             loopback address (default 127.0.0.1)\n"
    "  --port P             (default 8080)\n"
    "  --path P             subscribers' WebSocket path, {id} = index\n"
    "                       (default '/ws?user_id=fan{id}')\n"
    "  --tokens FILE        lines 'ID TOKEN' (a user id and its access token): {user} and\n"
    "                       {token} in --path become those of line i for connection i\n"
    "  --conns N            subscribers (default 10000)\n"
    "  --rate R             events per second (default 10)\n"
    "  --size B             payload bytes of each delivered frame (default 200)\n"
    "  --publish-path P     (default /api/v1/publish)\n"
    "  --publishers N       keep-alive HTTP connections the events go out on, round robin\n"
    "                       (default 4)\n"
    "  --to JSON            the publish body's recipients (default '\"*\"': every user of the "
    "app)\n"
    "  --header 'N: V'      a header of the publish requests (repeatable; e.g. the app's\n"
    "                       X-App-Key and X-App-Secret)\n"
    "  --duration S, --warmup S, --drain S   (defaults 8, 2, 2)\n"
    "  --conc N             handshakes in flight at most while connecting (default 256)\n"
    "  --hello 1|0          wait for the server's first frame (default 1)\n"
    "  --connect-timeout S  (default 120)\n"
    "  --pid PID[,PID]      server processes, for server CPU % over the window\n"
    "  --json               print one JSON object\n";

static const char usage_notify[] =
    "usage: herald-bench notify --tokens FILE [options]\n"
    "\n"
    "Opens --conns user WebSockets (--path, default '/ws?token={token}': line i of --tokens\n"
    "for connection i), then POSTs notifications open loop at --rate per second over\n"
    "--publishers keep-alive HTTP connections (pipelined, answers matched in order): --body\n"
    "with {user} = the user id of the next connected socket (round robin) and {t} =\n"
    "'<seq>-<scheduled CLOCK_MONOTONIC ns>'. The server's {\"type\":\"notification\",\n"
    "\"delivery_id\",\"notification\":{...\"content\":\"<t>\"}} frame is matched by {t} in its\n"
    "content and acked ({\"type\":\"ack\",\"delivery_id\"}). Notifications scheduled inside\n"
    "the window are the sample: accepted/s = their 2xx answers / window, accept latency =\n"
    "scheduled time -> status line of the answer; delivered/s = their frames / window,\n"
    "delivery latency = scheduled time -> frame. A body without {user} (e.g. recipients\n"
    "\"subscribers\") is expected on every connected socket, as in fanout.\n"
    "\n"
    "  --tokens FILE        lines 'USER_ID TOKEN' (required)\n"
    "  --path P             (default '/ws?token={token}')\n"
    "  --conns N            user sockets (default 1000)\n"
    "  --rate R             notifications per second (default 1000)\n"
    "  --count N            send N notifications at most, then drain (default 0: rate x time)\n"
    "  --body JSON          (default {\"type\":\"bench.inapp\",\"recipients\":[\"{user}\"],\n"
    "                       \"channels\":[\"inapp\"],\"title\":\"bench\",\"content\":\"{t}\"})\n"
    "  --publish-path P     (default /api/v1/notifications)\n"
    "  --publishers N       keep-alive HTTP connections (default 16)\n"
    "  --header 'N: V'      a request header (repeatable): the app token or key and secret\n"
    "  --ack 1|0            ack every notification frame (default 1)\n"
    "  --duration S, --warmup S, --drain S   (defaults 8, 2, 3)\n"
    "  --conc N, --hello 1|0, --connect-timeout S, --pid PID[,PID], --json   (as fanout)\n";

static const char usage_storm[] =
    "usage: herald-bench storm --tokens FILE [options]\n"
    "\n"
    "A reconnect storm of chat users. --tokens holds --peers lines, then --clients lines,\n"
    "each 'USER_ID ACCESS_TOKEN'; client i's peer is peer i mod --peers. Phases:\n"
    "  1. the peers connect and each sends one message to each of its clients with\n"
    "     {\"type\":\"send\",\"to\":client}, which creates their direct conversation;\n"
    "  2. the clients connect, keep the cursor of their hello, and disconnect;\n"
    "  3. the peers send --missed messages into each client's conversation (round by round,\n"
    "     so each client's messages are spread over the whole event log), --window sends\n"
    "     in flight per peer, each answered by send.ok;\n"
    "  4. the storm: every client reconnects at once (--conc 0) and sends\n"
    "     {\"type\":\"sync\",\"cursor\":<its cursor>}, reads message.new frames, follows\n"
    "     sync.done pages while has_more, and is caught up at sync.done with has_more false.\n"
    "It reports when the last client was caught up, the per-client catch-up time (from its\n"
    "connect to its last sync.done) and whether each got exactly its missed messages (the\n"
    "send.ok count of its conversation, once each, in cursor order). With --pid: the server's\n"
    "peak RSS over the storm (VmHWM, reset through /proc/PID/clear_refs when the storm begins,\n"
    "and VmRSS sampled every 50 ms) and its CPU.\n"
    "\n"
    "  --host H             loopback address (default 127.0.0.1)\n"
    "  --port P             (default 8080)\n"
    "  --tokens FILE        the peers' then the clients' 'ID TOKEN' lines (required)\n"
    "  --path P             WebSocket path; {token}, {user}, {id} (line index) are replaced\n"
    "                       (default '/ws?token={token}')\n"
    "  --clients N          clients (default 1000)\n"
    "  --peers P            peers sending to them (default 100)\n"
    "  --missed M           messages each client misses while offline (default 50)\n"
    "  --size C             characters of each message's text (default 100, at most 4000)\n"
    "  --window W           sends in flight per peer connection (default 64)\n"
    "  --sync-limit L       'limit' of each sync frame (default: none, the server's 100)\n"
    "  --conc N             handshakes in flight at most during the storm (default 0: all\n"
    "                       at once); phases 1 and 2 connect 256 at a time\n"
    "  --timeout S          limit of the storm (default 120)\n"
    "  --setup-timeout S    limit of each of phases 1 to 3 (default 600)\n"
    "  --offline S          the clients stay offline at least S seconds, so the server's\n"
    "                       presence grace (HERALD_PRESENCE_GRACE, 5 s) has passed and the\n"
    "                       storm is a return, not a flap (default 6)\n"
    "  --pid PID[,PID]      server processes: RSS and CPU over the storm\n"
    "  --json               print one JSON object\n";

static const char usage_selftest[] = "usage: herald-bench selftest\n"
                                     "\n"
                                     "Checks SHA-1, base64, the RFC 6455 accept key, the "
                                     "histogram and the id parser; prints 'N passed, N failed'.\n";

static const char *mode_usage(enum mode m)
{
    switch (m) {
    case M_HTTP:
        return usage_http;
    case M_WS_IDLE:
        return usage_ws_idle;
    case M_WS_PING:
        return usage_ws_ping;
    case M_RAW_ECHO:
        return usage_raw_echo;
    case M_FANOUT:
        return usage_fanout;
    case M_STORM:
        return usage_storm;
    case M_NOTIFY:
        return usage_notify;
    case M_SELFTEST:
        return usage_selftest;
    }
    return usage_main;
}

static double parse_num(const char *name, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= lo && v <= hi))
        die("--%s: expected a number in [%g, %g], got '%s'", name, lo, hi, s);
    return v;
}

static int parse_int(const char *name, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        die("--%s: expected an integer in [%ld, %ld], got '%s'", name, lo, hi, s);
    return (int)v;
}

static void parse_pids(struct opts *o, const char *s)
{
    char buf[512];
    if (strlen(s) >= sizeof buf)
        die("--pid: list too long");
    strcpy(buf, s);
    o->npids = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->npids == MAX_PIDS)
            die("--pid: at most %d pids", MAX_PIDS);
        o->pids[o->npids++] = parse_int("pid", t, 1, 0x7fffffff);
    }
}

static void opts_defaults(struct opts *o, enum mode m)
{
    memset(o, 0, sizeof *o);
    o->mode = m;
    o->host = "127.0.0.1";
    o->port = m == M_RAW_ECHO ? 18090 : 8080;
    o->path = m == M_HTTP ? "/health" : "/ws";
    o->conns = m == M_HTTP ? 50 : m == M_WS_IDLE ? 10000 : 1000;
    o->duration = 8;
    o->warmup = m == M_HTTP ? 1 : 2;
    o->drain = 2;
    o->hold = 5;
    o->connect_timeout = m == M_HTTP ? 10 : 60;
    o->conc = 256;
    o->rate = 40000;
    o->depth = 1;
    o->hello = true;
    o->size = 200;
    o->publish_path = "/api/v1/publish";
    o->to = "\"*\"";
    o->publishers = 4;
    if (m == M_FANOUT) {
        o->path = "/ws?user_id=fan{id}";
        o->conns = 10000;
        o->rate = 10;
        o->connect_timeout = 120;
    }
    o->clients = 1000;
    o->peers = 100;
    o->missed = 50;
    o->window = 64;
    o->timeout = 120;
    o->setup_timeout = 600;
    o->offline = 6;
    if (m == M_STORM) {
        o->path = "/ws?token={token}";
        o->conc = 0;
        o->size = 100;
    }
    o->ack = true;
    if (m == M_NOTIFY) {
        o->path = "/ws?token={token}";
        o->rate = 1000;
        o->drain = 3;
        o->publishers = 16;
        o->publish_path = "/api/v1/notifications";
        o->body = "{\"type\":\"bench.inapp\",\"recipients\":[\"{user}\"],\"channels\":[\"inapp\"],"
                  "\"title\":\"bench\",\"content\":\"{t}\"}";
    }
}

static void parse_args(struct opts *o, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        exit(argc < 2 ? 2 : 0);
    }
    enum mode m;
    for (m = M_HTTP; m <= M_SELFTEST; m++)
        if (strcmp(argv[1], mode_name[m]) == 0)
            break;
    if (m > M_SELFTEST)
        die("unknown mode '%s' (http, ws-idle, ws-ping, raw-echo, fanout, storm, notify, selftest)",
            argv[1]);
    opts_defaults(o, m);

    struct option lo[NOPTS + 1];
    for (size_t i = 0; i < NOPTS; i++)
        lo[i] = optdefs[i].lo;
    memset(&lo[NOPTS], 0, sizeof lo[NOPTS]);
    optind = 1;
    opterr = 0;
    int id;
    while ((id = getopt_long(argc - 1, argv + 1, "h", lo, NULL)) != -1) {
        if (id == '?' || id == ':')
            die("%s: unknown option or missing value in '%s' (see herald-bench %s --help)",
                mode_name[m], optind - 1 < argc - 1 ? argv[optind] : "?", mode_name[m]);
        if (id == 'h')
            id = O_HELP;
        const char *name = "?";
        for (size_t i = 0; i < NOPTS; i++) {
            if (optdefs[i].lo.val == id) {
                name = optdefs[i].lo.name;
                if (!(optdefs[i].modes & MB(m)))
                    die("--%s does not apply to %s", name, mode_name[m]);
            }
        }
        switch (id) {
        case O_HOST:
            o->host = optarg;
            break;
        case O_PORT:
            o->port = parse_int(name, optarg, 1, 65535);
            break;
        case O_PATH:
            if (optarg[0] != '/' || strlen(optarg) > MAX_PATH_LEN - 32 ||
                strpbrk(optarg, " \r\n") != NULL)
                die("--path must start with '/', have no spaces and be shorter than %d bytes",
                    MAX_PATH_LEN - 32);
            o->path = optarg;
            break;
        case O_CONNS:
            o->conns = parse_int(name, optarg, 1, 1000000);
            break;
        case O_DURATION:
            o->duration = parse_num(name, optarg, 0.1, 3600);
            break;
        case O_WARMUP:
            o->warmup = parse_num(name, optarg, 0, 3600);
            break;
        case O_DRAIN:
            o->drain = parse_num(name, optarg, 0, 3600);
            break;
        case O_HOLD:
            o->hold = parse_num(name, optarg, 0, 3600);
            break;
        case O_CONC:
            o->conc = parse_int(name, optarg, m == M_STORM ? 0 : 1, 100000);
            break;
        case O_RATE:
            o->rate = parse_num(name, optarg, 0, 1e8);
            break;
        case O_DEPTH:
            o->depth = parse_int(name, optarg, 1, 10000);
            break;
        case O_TICK:
            o->tick_us = parse_num(name, optarg, 0, 100000);
            break;
        case O_PID:
            parse_pids(o, optarg);
            break;
        case O_CONNECT_TIMEOUT:
            o->connect_timeout = parse_num(name, optarg, 0.1, 3600);
            break;
        case O_HELLO:
            o->hello = parse_int(name, optarg, 0, 1) == 1;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_SIZE:
            o->size = m == M_STORM ? parse_int(name, optarg, 1, 4000)
                                   : parse_int(name, optarg, 100, 60000);
            break;
        case O_HEADER:
            if (o->nheaders == 8 || strchr(optarg, ':') == NULL || strpbrk(optarg, "\r\n"))
                die("--header: at most 8, each 'Name: value' on one line");
            o->headers[o->nheaders++] = optarg;
            break;
        case O_PUBLISH_PATH:
            o->publish_path = optarg;
            break;
        case O_TO:
            o->to = optarg;
            break;
        case O_PUBLISHERS:
            o->publishers = parse_int(name, optarg, 1, 64);
            break;
        case O_TOKENS:
            o->tokens = optarg;
            break;
        case O_CLIENTS:
            o->clients = parse_int(name, optarg, 1, 1000000);
            break;
        case O_PEERS:
            o->peers = parse_int(name, optarg, 1, 10000);
            break;
        case O_MISSED:
            o->missed = parse_int(name, optarg, 1, 100000);
            break;
        case O_WINDOW:
            o->window = parse_int(name, optarg, 1, 10000);
            break;
        case O_SYNC_LIMIT:
            o->sync_limit = parse_int(name, optarg, 1, 500);
            break;
        case O_TIMEOUT:
            o->timeout = parse_num(name, optarg, 0.1, 86400);
            break;
        case O_SETUP_TIMEOUT:
            o->setup_timeout = parse_num(name, optarg, 0.1, 86400);
            break;
        case O_OFFLINE:
            o->offline = parse_num(name, optarg, 0, 3600);
            break;
        case O_BODY:
            if (strlen(optarg) > 32 * 1024 || strstr(optarg, "{t}") == NULL)
                die("--body must hold {t} and be at most 32 KiB");
            o->body = optarg;
            break;
        case O_COUNT:
            o->count = parse_int(name, optarg, 1, 1000000000);
            break;
        case O_ACK:
            o->ack = parse_int(name, optarg, 0, 1) == 1;
            break;
        case O_HELP:
            fputs(mode_usage(m), stdout);
            exit(0);
        }
    }
    if (optind + 1 < argc)
        die("%s: unexpected argument '%s'", mode_name[m], argv[optind + 1]);
    if (m == M_STORM) {
        if (o->tokens == NULL)
            die("storm: --tokens FILE is required (see herald-bench storm --help)");
        if (o->peers > o->clients)
            die("storm: --peers %d is more than --clients %d", o->peers, o->clients);
        o->conns = o->peers + o->clients;
    }
    if (m == M_NOTIFY) {
        if (o->tokens == NULL)
            die("notify: --tokens FILE is required (see herald-bench notify --help)");
        if (!(o->rate > 0))
            die("notify: --rate must be above 0 (open loop only)");
    }
}

/* ---------------------------------------------------------------- state */

enum reason {
    E_CONNECT,   /* connect() or SO_ERROR failed */
    E_RESET,     /* read or write error */
    E_EOF,       /* the server closed the connection unexpectedly */
    E_STATUS,    /* handshake answered with something other than 101 */
    E_HANDSHAKE, /* 101 without the right Upgrade/Connection/Sec-WebSocket-Accept */
    E_PROTO,     /* malformed HTTP response or WebSocket frame */
    E_CLOSE,     /* the server sent a WebSocket close frame */
    E_TIMEOUT,   /* still not ready when the connect phase ended */
    E_COUNT
};

static const char *const reason_name[E_COUNT] = {"connect",   "reset",    "eof",         "status",
                                                 "handshake", "protocol", "close_frame", "timeout"};

enum cstate { CS_NEW, CS_CONNECTING, CS_HANDSHAKE, CS_WAIT_HELLO, CS_READY, CS_IDLE, CS_DEAD };

/* Input parser states: WebSocket frames, HTTP responses. */
enum pstate {
    PS_WS_HDR,
    PS_WS_PAY,
    PS_H_HEAD,
    PS_H_BODY,
    PS_H_CHUNK_SIZE,
    PS_H_CHUNK_DATA,
    PS_H_CHUNK_END,
    PS_H_TRAILER,
    PS_H_UNTIL_EOF,
};

struct conn {
    int fd;
    uint32_t gen; /* bumped per socket, so stale epoll events are recognised */
    uint32_t idx;
    uint32_t ev;       /* events registered with epoll */
    uint32_t rpos;     /* position in g.ready while READY */
    uint32_t inflight; /* pings without pong */
    uint8_t state;     /* enum cstate */
    uint8_t ps;        /* enum pstate */
    bool dirty, ever_ready, busy, close_after, in_frag, f_fin, starved;
    uint8_t f_op, hdr_len, ctl_len;
    int status;      /* http: status of the response being read */
    uint64_t f_left; /* ws: payload bytes left in the frame; http: body or chunk bytes left */
    int64_t t_sent;  /* http: when the outstanding request was sent */
    int64_t retry_at;
    char *acc; /* partial head, line or message across reads */
    size_t acc_len, acc_cap;
    char *out;
    size_t out_off, out_len, out_cap;
    uint8_t hdr[14];
    char ctl[125];
    char accept[29];
};

/* fanout: one publishing HTTP connection */
struct pubc {
    int fd;
    char *out;
    size_t off, len, cap;
    char tail[16]; /* the last bytes read, to find status lines split across reads */
    int64_t *fifo; /* notify: scheduled times of the requests without an answer, in order */
    size_t fhead, flen, fcap;
};

struct slot {
    uint64_t seq;
    int64_t sched;
    uint32_t conn;
    uint32_t live;
};

static struct {
    struct opts o;
    struct sockaddr_storage addr;
    socklen_t alen;
    char hostport[300];
    int ep;
    bool pwait2;
    struct conn *c;
    int n;
    char *rbuf;
    uint32_t *dirty;
    int ndirty;
    uint32_t *ready;
    int nready;
    uint32_t *starved;
    int nstarved;
    int next_connect, in_flight, ready_ever, failed_setup, closed_after_ready;
    int64_t now;
    uint64_t err[E_COUNT];
    char first_err[256]; /* what the first failure looked like, for stderr */
    /* http */
    char req[MAX_PATH_LEN + 512];
    size_t req_len;
    uint64_t reconnects, non2xx, responses;
    /* ping */
    bool closed_loop;
    struct slot *slots;
    uint64_t slot_mask, seq;
    int64_t t0, win_start, win_end, send_end, drain_end;
    uint64_t sent, sent_win, sched_win, recv, recv_win, unmatched, misrouted, expired, dropped,
        outstanding, server_pings, other_frames;
    int64_t lag_max;
    uint64_t rr;
    struct hist h;
    /* fanout: the publishers' keep-alive HTTP connections */
    struct pubc *pubs;
    uint64_t published, published_win, pub_answers, pub_ok, deliveries, deliveries_win;
    /* notify: answers to the window's requests, their latency, acks, frames per target */
    uint64_t acc_win, acc_ok_win, acc_arrival_ok, acks, expected_win, expected_all;
    struct hist h_acc;
    bool fan_all;       /* the body has no {user}: every socket gets every notification */
    int64_t last_frame; /* notify: arrival of the last delivered frame of the window */
    /* --tokens: line i's user id and token, for connection i */
    char **tok_user, **tok;
    int ntok;
} g;

#define PUB_TAG (UINT64_MAX - 64) /* + publisher index */

/* ---------------------------------------------------------------- process figures */

/* A "Vm...:" figure of /proc/PID/status (VmRSS, VmHWM) summed over --pid, in KiB; -1 if none. */
static long proc_status_kib(const char *field)
{
    size_t fl = strlen(field);
    if (g.o.npids == 0)
        return -1;
    long total = 0;
    for (int i = 0; i < g.o.npids; i++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", g.o.pids[i]);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            return -1;
        long kib = -1;
        while (fgets(line, sizeof line, f))
            if (strncmp(line, field, fl) == 0)
                kib = strtol(line + fl, NULL, 10);
        fclose(f);
        if (kib < 0)
            return -1;
        total += kib;
    }
    return total;
}

static long proc_rss_kib(void)
{
    return proc_status_kib("VmRSS:");
}

/* utime + stime of the --pid processes in seconds, or -1. */
static double proc_cpu_s(void)
{
    if (g.o.npids == 0)
        return -1;
    double total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    for (int i = 0; i < g.o.npids; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", g.o.pids[i]);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            return -1;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        unsigned long ut, st;
        /* fields after the command: state ppid pgrp session tty tpgid flags minflt cminflt
         * majflt cmajflt utime stime */
        if (p == NULL ||
            sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
            return -1;
        total += (double)(ut + st) / (double)hz;
    }
    return total;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/*
 * Machine-wide jiffies from /proc/stat: steal (time the hypervisor took), idle (idle +
 * iowait) and the total over all CPUs.
 */
static void machine_jiffies(unsigned long long *steal, unsigned long long *idle,
                            unsigned long long *total)
{
    unsigned long long v[8] = {0};
    *steal = *idle = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8)
        return;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *steal = v[7];
    *idle = v[3] + v[4];
}

struct cpu_mark {
    int64_t t;
    double self, server;
    unsigned long long steal, idle, total;
    bool taken;
};

static void cpu_mark(struct cpu_mark *m)
{
    m->t = now_ns();
    m->self = self_cpu_s();
    m->server = proc_cpu_s();
    machine_jiffies(&m->steal, &m->idle, &m->total);
    m->taken = true;
}

/* Share of all CPUs' time taken by the hypervisor between two marks, in %. */
static double steal_pct(const struct cpu_mark *a, const struct cpu_mark *b)
{
    if (!a->taken || !b->taken || b->total <= a->total)
        return NAN;
    return 100.0 * (double)(b->steal - a->steal) / (double)(b->total - a->total);
}

static double cpu_pct(const struct cpu_mark *a, const struct cpu_mark *b, bool server)
{
    if (!a->taken || !b->taken || b->t <= a->t)
        return NAN;
    double x = server ? a->server : a->self, y = server ? b->server : b->self;
    if (x < 0 || y < 0)
        return NAN;
    return 100.0 * (y - x) / ((double)(b->t - a->t) / 1e9);
}

/*
 * CPU used by every other process on the machine between two marks (100 % = one core):
 * busy time of all CPUs minus this process and the --pid server. Well above zero means
 * something else competed for the CPUs and the figures are suspect.
 */
static double others_pct(const struct cpu_mark *a, const struct cpu_mark *b)
{
    if (!a->taken || !b->taken || b->total <= a->total)
        return NAN;
    double busy = (double)((b->total - a->total) - (b->idle - a->idle) - (b->steal - a->steal));
    double cores =
        100.0 * busy / (double)(b->total - a->total) * (double)sysconf(_SC_NPROCESSORS_ONLN);
    double self = cpu_pct(a, b, false), server = cpu_pct(a, b, true);
    double o = cores - self - (isnan(server) ? 0 : server);
    return o < 0 ? 0 : o;
}

/* ---------------------------------------------------------------- buffers and sockets */

static void acc_append(struct conn *c, const void *p, size_t n)
{
    if (c->acc_len + n > c->acc_cap) {
        size_t cap = c->acc_cap ? c->acc_cap : 256;
        while (cap < c->acc_len + n)
            cap *= 2;
        c->acc = xrealloc(c->acc, cap);
        c->acc_cap = cap;
    }
    memcpy(c->acc + c->acc_len, p, n);
    c->acc_len += n;
}

static void mark_dirty(struct conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        g.dirty[g.ndirty++] = c->idx;
    }
}

/* Room for n more output bytes; out_commit() makes them pending. */
static char *out_reserve(struct conn *c, size_t n)
{
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + n > c->out_cap) {
        if (c->out_off > 0) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + n > c->out_cap) {
            size_t cap = c->out_cap ? c->out_cap : 512;
            while (cap < c->out_len + n)
                cap *= 2;
            c->out = xrealloc(c->out, cap);
            c->out_cap = cap;
        }
    }
    return c->out + c->out_len;
}

static void out_commit(struct conn *c, size_t n)
{
    c->out_len += n;
    mark_dirty(c);
}

static void set_events(struct conn *c)
{
    uint32_t want = EPOLLIN;
    if (c->state == CS_CONNECTING || c->out_off < c->out_len)
        want |= EPOLLOUT;
    if (want == c->ev)
        return;
    struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)c->gen << 32 | c->idx};
    if (epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->ev = want;
}

static void ready_add(struct conn *c)
{
    c->rpos = (uint32_t)g.nready;
    g.ready[g.nready++] = c->idx;
}

static void ready_remove(struct conn *c)
{
    uint32_t last = g.ready[--g.nready];
    g.ready[c->rpos] = last;
    g.c[last].rpos = c->rpos;
}

/* Closes the socket with RST (SO_LINGER 0): no TIME_WAIT is left behind. */
static void conn_close_fd(struct conn *c)
{
    if (c->fd < 0)
        return;
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c->fd);
    c->fd = -1;
    c->ev = 0;
    c->acc_len = 0;
    c->out_off = c->out_len = 0;
}

/* Leaves the READY/handshake bookkeeping of c; always returns -1 (c stops parsing). */
static int conn_leave(struct conn *c)
{
    if (c->state == CS_CONNECTING || c->state == CS_HANDSHAKE)
        g.in_flight--;
    if (c->state == CS_READY && g.o.mode != M_HTTP)
        ready_remove(c);
    conn_close_fd(c);
    return -1;
}

/* Notes the first failure's details (a close code, a status line) for the report. */
__attribute__((format(printf, 2, 3))) static void note_first(struct conn *c, const char *fmt, ...)
{
    if (g.first_err[0] != '\0')
        return;
    int n = snprintf(g.first_err, sizeof g.first_err, "connection %u: ", c->idx);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g.first_err + n, sizeof g.first_err - (size_t)n, fmt, ap);
    va_end(ap);
}

static int storm_frame(struct conn *c, const char *d, size_t n);
static void storm_on_fail(struct conn *c);

/* Counts an error and takes c out of service (http: reopens it 10 ms later). Returns -1. */
static int conn_fail(struct conn *c, enum reason r)
{
    g.err[r]++;
    if (r == E_CONNECT || r == E_RESET)
        note_first(c, "%s: %s", reason_name[r], strerror(errno));
    else
        note_first(c, "%s", reason_name[r]);
    bool was_ready = c->ever_ready;
    if (g.o.mode == M_STORM)
        storm_on_fail(c);
    conn_leave(c);
    if (g.o.mode == M_HTTP) {
        c->state = CS_IDLE;
        c->busy = false;
        c->retry_at = g.now + 10 * NS_PER_MS;
    } else {
        c->state = CS_DEAD;
        if (was_ready)
            g.closed_after_ready++;
        else
            g.failed_setup++;
    }
    return -1;
}

static void start_connect(struct conn *c)
{
    int fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->state = CS_NEW;
        conn_fail(c, E_CONNECT);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->gen++;
    c->state = CS_CONNECTING;
    c->ps = g.o.mode == M_HTTP ? PS_H_HEAD : PS_WS_HDR;
    c->hdr_len = 0;
    c->in_frag = false;
    c->busy = false;
    g.in_flight++;
    if (connect(fd, (struct sockaddr *)&g.addr, g.alen) < 0 && errno != EINPROGRESS) {
        conn_fail(c, E_CONNECT);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                             .data.u64 = (uint64_t)c->gen << 32 | c->idx};
    if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        conn_fail(c, E_CONNECT);
        return;
    }
    c->ev = EPOLLIN | EPOLLOUT;
}

static int flush_conn(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            c->out_off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return conn_fail(c, E_RESET);
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    set_events(c);
    return 0;
}

static void flush_dirty(void)
{
    for (int i = 0; i < g.ndirty; i++) {
        struct conn *c = &g.c[g.dirty[i]];
        c->dirty = false;
        if (c->fd >= 0 && c->state != CS_CONNECTING)
            flush_conn(c);
    }
    g.ndirty = 0;
}

/* ---------------------------------------------------------------- small parsers */

/* Index just past the blank line that ends an HTTP head in b[0..n), from `from` on; 0: none. */
static size_t head_end(const char *b, size_t n, size_t from)
{
    for (size_t i = from; i < n;) {
        const char *nl = memchr(b + i, '\n', n - i);
        if (nl == NULL)
            return 0;
        size_t k = (size_t)(nl - b);
        if (k + 1 < n && b[k + 1] == '\n')
            return k + 2;
        if (k + 2 < n && b[k + 1] == '\r' && b[k + 2] == '\n')
            return k + 3;
        i = k + 1;
    }
    return 0;
}

/*
 * Takes a complete HTTP head from *p, or from c->acc plus *p when it arrived in pieces.
 * Returns 1 with *head and *hlen set (valid until c->acc_len is reset) and *p, *n advanced
 * past it, 0 when every byte was kept for later, -1 when the head is too large.
 */
static int head_take(struct conn *c, const uint8_t **p, size_t *n, const char **head, size_t *hlen)
{
    if (c->acc_len == 0) {
        size_t e = head_end((const char *)*p, *n, 0);
        if (e) {
            *head = (const char *)*p;
            *hlen = e;
            *p += e;
            *n -= e;
            return 1;
        }
        if (*n > MAX_HEAD)
            return -1;
        acc_append(c, *p, *n);
        *n = 0;
        return 0;
    }
    size_t old = c->acc_len;
    acc_append(c, *p, *n);
    size_t e = head_end(c->acc, c->acc_len, old >= 3 ? old - 3 : 0);
    if (e == 0) {
        *n = 0;
        return c->acc_len > MAX_HEAD ? -1 : 0;
    }
    size_t used = e - old;
    c->acc_len = e;
    *head = c->acc;
    *hlen = e;
    *p += used;
    *n -= used;
    return 1;
}

/* Same for one '\n'-terminated line; *len excludes the '\n' (and a '\r' before it). */
static int line_take(struct conn *c, const uint8_t **p, size_t *n, const char **line, size_t *len)
{
    const uint8_t *nl = memchr(*p, '\n', *n);
    if (nl == NULL) {
        if (c->acc_len + *n > MAX_MSG)
            return -1;
        acc_append(c, *p, *n);
        *n = 0;
        return 0;
    }
    size_t k = (size_t)(nl - *p);
    if (c->acc_len == 0) {
        *line = (const char *)*p;
        *len = k;
    } else {
        acc_append(c, *p, k);
        *line = c->acc;
        *len = c->acc_len;
    }
    *p += k + 1;
    *n -= k + 1;
    if (*len > 0 && (*line)[*len - 1] == '\r')
        (*len)--;
    return 1;
}

static bool ci_contains(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(s + i, word, w) == 0)
            return true;
    return false;
}

static bool name_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

struct resp_head {
    int status;
    bool chunked, has_len, close, ws_upgrade, conn_upgrade;
    uint64_t len;
    const char *accept;
    size_t accept_len;
};

static int parse_head(const char *h, size_t n, struct resp_head *r)
{
    memset(r, 0, sizeof *r);
    if (n < 12 || memcmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') || h[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++)
        if (!isdigit((unsigned char)h[i]))
            return -1;
    r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    bool http10 = h[7] == '0', ka = false, cl = false;
    const char *end = h + n;
    const char *line = memchr(h, '\n', n);
    if (line == NULL)
        return -1;
    line++;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL)
            break;
        const char *le = nl;
        if (le > line && le[-1] == '\r')
            le--;
        if (le == line)
            break;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (colon == NULL)
            return -1;
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vlen = (size_t)(ve - v);
        if (name_is(line, nlen, "content-length")) {
            uint64_t x = 0;
            if (vlen == 0 || vlen > 15)
                return -1;
            for (size_t i = 0; i < vlen; i++) {
                if (!isdigit((unsigned char)v[i]))
                    return -1;
                x = x * 10 + (uint64_t)(v[i] - '0');
            }
            r->has_len = true;
            r->len = x;
        } else if (name_is(line, nlen, "transfer-encoding")) {
            if (ci_contains(v, vlen, "chunked"))
                r->chunked = true;
        } else if (name_is(line, nlen, "connection")) {
            cl |= ci_contains(v, vlen, "close");
            ka |= ci_contains(v, vlen, "keep-alive");
            r->conn_upgrade |= ci_contains(v, vlen, "upgrade");
        } else if (name_is(line, nlen, "upgrade")) {
            r->ws_upgrade |= ci_contains(v, vlen, "websocket");
        } else if (name_is(line, nlen, "sec-websocket-accept")) {
            r->accept = v;
            r->accept_len = vlen;
        }
        line = nl + 1;
    }
    r->close = cl || (http10 && !ka);
    return 0;
}

/* Finds "key": "value" in JSON text (no nesting awareness, no unescaping). */
static bool json_str_field(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
    size_t kl = strlen(key);
    const char *end = s + n;
    for (const char *p = s; p + kl + 2 <= end;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (q == NULL || q + kl + 2 > end)
            return false;
        if (memcmp(q + 1, key, kl) == 0 && q[kl + 1] == '"') {
            const char *t = q + kl + 2;
            while (t < end && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n'))
                t++;
            if (t < end && *t == ':') {
                t++;
                while (t < end && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n'))
                    t++;
                if (t >= end || *t != '"')
                    return false;
                t++;
                const char *e = memchr(t, '"', (size_t)(end - t));
                if (e == NULL)
                    return false;
                *v = t;
                *vn = (size_t)(e - t);
                return true;
            }
        }
        p = q + 1;
    }
    return false;
}

/* Parses "<seq>-<ns>". */
static bool parse_id(const char *s, size_t n, uint64_t *seq, uint64_t *ns)
{
    size_t i = 0;
    uint64_t a = 0, b = 0;
    if (n == 0 || n > 41)
        return false;
    for (; i < n && s[i] != '-'; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        a = a * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0 || i == n || i + 1 == n)
        return false;
    for (i++; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        b = b * 10 + (uint64_t)(s[i] - '0');
    }
    *seq = a;
    *ns = b;
    return true;
}

/* ---------------------------------------------------------------- pings and pongs */

static void ws_put_frame(struct conn *c, unsigned op, const char *data, size_t len)
{
    char *w = out_reserve(c, len + 14);
    size_t h = 0;
    w[h++] = (char)(0x80 | op);
    if (len < 126) {
        w[h++] = (char)(0x80 | len);
    } else if (len <= 0xffff) {
        w[h++] = (char)(0x80 | 126);
        w[h++] = (char)(len >> 8);
        w[h++] = (char)len;
    } else {
        w[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--)
            w[h++] = (char)((uint64_t)len >> (8 * i));
    }
    uint32_t m = (uint32_t)rng_next();
    memcpy(w + h, &m, 4);
    const char *mask = w + h;
    h += 4;
    for (size_t i = 0; i < len; i++)
        w[h + i] = (char)(data[i] ^ mask[i & 3]);
    out_commit(c, h + len);
}

static void ping_send(struct conn *c, int64_t sched, int64_t now);
static void starve(struct conn *c)
{
    if (!c->starved && c->state == CS_READY) {
        c->starved = true;
        g.starved[g.nstarved++] = c->idx;
    }
}

/* Closed loop: tops up connections whose pings expired from the table. */
static void refill_starved(void)
{
    for (int i = 0; i < g.nstarved; i++) {
        struct conn *c = &g.c[g.starved[i]];
        c->starved = false;
        while (c->state == CS_READY && c->inflight < (uint32_t)g.o.depth && g.now < g.send_end)
            ping_send(c, g.now, g.now);
    }
    g.nstarved = 0;
}

/* Queues ping `g.seq` scheduled at `sched` on c. */
static void ping_send(struct conn *c, int64_t sched, int64_t now)
{
    uint64_t seq = g.seq++;
    bool in_win = sched >= g.win_start && sched < g.win_end;
    if (in_win)
        g.sched_win++;
    struct slot *s = &g.slots[seq & g.slot_mask];
    if (s->live) { /* still unanswered after a whole table of newer pings: lost */
        struct conn *o = &g.c[s->conn];
        s->live = 0;
        o->inflight--;
        g.outstanding--;
        g.expired++;
        if (g.closed_loop)
            starve(o);
    }
    if (c->out_len - c->out_off > OUT_CAP) {
        g.dropped++;
        if (g.closed_loop)
            starve(c);
        return;
    }
    size_t len;
    if (g.o.mode == M_WS_PING) {
        char pay[96];
        static const char pre[] = "{\"type\":\"ping\",\"id\":\"";
        memcpy(pay, pre, sizeof pre - 1);
        len = sizeof pre - 1;
        len += put_u64(pay + len, seq);
        pay[len++] = '-';
        len += put_u64(pay + len, (uint64_t)sched);
        pay[len++] = '"';
        pay[len++] = '}';
        ws_put_frame(c, 0x1, pay, len);
    } else {
        char *w = out_reserve(c, 48);
        len = put_u64(w, seq);
        w[len++] = '-';
        len += put_u64(w + len, (uint64_t)sched);
        w[len++] = '\n';
        out_commit(c, len);
    }
    s->seq = seq;
    s->sched = sched;
    s->conn = c->idx;
    s->live = 1;
    c->inflight++;
    g.outstanding++;
    g.sent++;
    if (in_win) {
        g.sent_win++;
        if (now - sched > g.lag_max)
            g.lag_max = now - sched;
    }
}

/* An echoed id arrived on c. */
static void on_echo_id(struct conn *c, const char *id, size_t n)
{
    uint64_t seq, ns;
    if (!parse_id(id, n, &seq, &ns)) {
        g.other_frames++;
        return;
    }
    struct slot *s = &g.slots[seq & g.slot_mask];
    if (!s->live || s->seq != seq || (uint64_t)s->sched != ns) {
        g.unmatched++;
        return;
    }
    s->live = 0;
    struct conn *o = &g.c[s->conn];
    if (o != c)
        g.misrouted++;
    o->inflight--;
    g.outstanding--;
    g.recv++;
    if (s->sched >= g.win_start && s->sched < g.win_end) {
        g.recv_win++;
        hist_add(&g.h, g.now - s->sched);
    }
    if (g.closed_loop && o->state == CS_READY && g.now < g.send_end)
        ping_send(o, g.now, g.now);
}

/* ---------------------------------------------------------------- WebSocket input */

static void set_ready(struct conn *c)
{
    c->state = CS_READY;
    if (!c->ever_ready) {
        c->ever_ready = true;
        g.ready_ever++;
    }
    ready_add(c);
}

/* fanout: an event arrived on a subscriber. */
static int on_fanout_frame(const char *d, size_t n)
{
    /* {"type":"event","event":{"t":"<seq>-<ns>",...}}: one memmem, no full scan (the
     * client must stay cheaper than the server at hundreds of thousands of frames/s) */
    static const char key[] = "{\"t\":\"";
    const char *id = n > 24 ? memmem(d, n < 64 ? n : 64, key, sizeof key - 1) : NULL;
    const char *end =
        id ? memchr(id + sizeof key - 1, '"', (size_t)(d + n - id) - (sizeof key - 1)) : NULL;
    uint64_t seq, ns;
    if (id == NULL || end == NULL || memcmp(d, "{\"type\":\"event\"", 15) != 0 ||
        !parse_id(id + sizeof key - 1, (size_t)(end - id) - (sizeof key - 1), &seq, &ns)) {
        g.other_frames++;
        return 0;
    }
    g.deliveries++;
    if ((int64_t)ns >= g.win_start && (int64_t)ns < g.win_end) {
        g.deliveries_win++;
        hist_add(&g.h, g.now - (int64_t)ns);
    }
    return 0;
}

/* notify: {"type":"notification","delivery_id":"…","notification":{…"content":"<t>"…}}: acked,
 * then counted by the scheduled time in its content. */
static int on_notify_frame(struct conn *c, const char *d, size_t n)
{
    static const char pre[] = "{\"type\":\"notification\"";
    const char *id, *t;
    size_t idn, tn;
    uint64_t seq, ns;
    if (n < sizeof pre - 1 || memcmp(d, pre, sizeof pre - 1) != 0 ||
        !json_str_field(d, n, "delivery_id", &id, &idn)) {
        g.other_frames++;
        return 0;
    }
    if (g.o.ack && idn < 200) {
        char f[256];
        int fl = snprintf(f, sizeof f, "{\"type\":\"ack\",\"delivery_id\":\"%.*s\"}", (int)idn, id);
        ws_put_frame(c, 0x1, f, (size_t)fl);
        g.acks++;
    }
    if (!json_str_field(d, n, "content", &t, &tn) || !parse_id(t, tn, &seq, &ns)) {
        g.other_frames++;
        return 0;
    }
    g.deliveries++;
    if ((int64_t)ns >= g.win_start && (int64_t)ns < g.win_end) {
        g.deliveries_win++;
        g.last_frame = g.now;
        hist_add(&g.h, g.now - (int64_t)ns);
    }
    return 0;
}

static int on_ws_message(struct conn *c, const char *d, size_t n)
{
    if (g.o.mode == M_STORM)
        return storm_frame(c, d, n);
    if (c->state == CS_WAIT_HELLO) {
        set_ready(c);
        g.other_frames++;
        return 0;
    }
    if (g.o.mode == M_FANOUT)
        return on_fanout_frame(d, n);
    if (g.o.mode == M_NOTIFY)
        return on_notify_frame(c, d, n);
    if (g.o.mode != M_WS_PING) {
        g.other_frames++;
        return 0;
    }
    const char *t, *id;
    size_t tn, idn;
    if (json_str_field(d, n, "type", &t, &tn) && tn == 4 && memcmp(t, "pong", 4) == 0 &&
        json_str_field(d, n, "id", &id, &idn))
        on_echo_id(c, id, idn);
    else
        g.other_frames++;
    return 0;
}

static int on_ws_control(struct conn *c, unsigned op, const char *d, size_t n)
{
    if (op == 0x9) { /* ping: answer with a pong carrying the same payload */
        g.server_pings++;
        ws_put_frame(c, 0xA, d, n);
        return 0;
    }
    if (op == 0x8) {
        int code = n >= 2 ? ((unsigned char)d[0] << 8 | (unsigned char)d[1]) : 1005;
        note_first(c, "close frame from the server: code %d, reason '%.*s'", code,
                   n > 2 ? (int)(n - 2) : 0, n > 2 ? d + 2 : "");
        return conn_fail(c, E_CLOSE);
    }
    return 0; /* unsolicited pong */
}

static size_t ws_hdr_size(uint8_t b1)
{
    size_t l = b1 & 0x7f;
    return 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
}

/* Ends the current frame (all payload seen). */
static int ws_frame_end(struct conn *c)
{
    c->ps = PS_WS_HDR;
    if (c->f_op >= 0x8)
        return on_ws_control(c, c->f_op, c->ctl, c->ctl_len);
    if (!c->f_fin) {
        c->in_frag = true;
        return 0;
    }
    c->in_frag = false;
    int r = on_ws_message(c, c->acc, c->acc_len);
    if (r == 0)
        c->acc_len = 0;
    return r;
}

/* Streams server frames: any split across reads, 7/16/64-bit lengths, fragments. */
static int ws_feed(struct conn *c, const uint8_t *p, size_t n)
{
    for (;;) {
        if (c->ps == PS_WS_PAY && c->f_left == 0) {
            if (ws_frame_end(c) < 0)
                return -1;
            continue;
        }
        if (n == 0)
            return 0;
        if (c->ps == PS_WS_HDR) {
            const uint8_t *h;
            if (c->hdr_len == 0 && n >= 2 && n >= ws_hdr_size(p[1])) {
                h = p;
                p += ws_hdr_size(p[1]);
                n -= ws_hdr_size(h[1]);
            } else {
                c->hdr[c->hdr_len++] = *p++;
                n--;
                if (c->hdr_len < 2 || c->hdr_len < ws_hdr_size(c->hdr[1]))
                    continue;
                h = c->hdr;
                c->hdr_len = 0;
            }
            unsigned op = h[0] & 0x0f;
            uint64_t len = h[1] & 0x7f;
            if (h[1] & 0x80) /* servers must not mask (RFC 6455 section 5.1) */
                return conn_fail(c, E_PROTO);
            if (len == 126) {
                len = (uint64_t)h[2] << 8 | h[3];
            } else if (len == 127) {
                len = 0;
                for (int i = 0; i < 8; i++)
                    len = len << 8 | h[2 + i];
            }
            bool fin = (h[0] & 0x80) != 0;
            if ((h[0] & 0x70) || (op > 0x2 && op < 0x8) || op > 0xA)
                return conn_fail(c, E_PROTO);
            if (op >= 0x8 && (!fin || len > 125))
                return conn_fail(c, E_PROTO);
            if (op < 0x8 && ((op == 0) != c->in_frag || c->acc_len + len > MAX_MSG))
                return conn_fail(c, E_PROTO);
            c->f_op = (uint8_t)op;
            c->f_fin = fin;
            c->f_left = len;
            c->ctl_len = 0;
            c->ps = PS_WS_PAY;
            continue;
        }
        /* payload */
        size_t take = n < c->f_left ? n : (size_t)c->f_left;
        if (c->f_op >= 0x8) {
            memcpy(c->ctl + c->ctl_len, p, take);
            c->ctl_len = (uint8_t)(c->ctl_len + take);
        } else if (c->f_fin && !c->in_frag && c->acc_len == 0 && take == c->f_left) {
            /* whole single-frame message in the read buffer: no copy */
            c->f_left = 0;
            c->ps = PS_WS_HDR;
            if (on_ws_message(c, (const char *)p, take) < 0)
                return -1;
            p += take;
            n -= take;
            continue;
        } else {
            acc_append(c, p, take);
        }
        c->f_left -= take;
        p += take;
        n -= take;
    }
}

static void ws_send_handshake(struct conn *c)
{
    uint8_t raw[16];
    uint64_t r1 = rng_next(), r2 = rng_next();
    memcpy(raw, &r1, 8);
    memcpy(raw + 8, &r2, 8);
    char key[32];
    base64_encode(raw, sizeof raw, key);
    ws_accept_for(key, c->accept);

    char path[MAX_PATH_LEN + 64];
    size_t pl = 0;
    for (const char *s = g.o.path; *s && pl < MAX_PATH_LEN;) {
        const char *sub = NULL;
        if (strncmp(s, "{id}", 4) == 0) {
            pl += put_u64(path + pl, c->idx);
            s += 4;
            continue;
        }
        if (strncmp(s, "{token}", 7) == 0 && (int)c->idx < g.ntok) {
            sub = g.tok[c->idx];
            s += 7;
        } else if (strncmp(s, "{user}", 6) == 0 && (int)c->idx < g.ntok) {
            sub = g.tok_user[c->idx];
            s += 6;
        }
        if (sub == NULL) {
            path[pl++] = *s++;
            continue;
        }
        for (; *sub && pl < MAX_PATH_LEN; sub++)
            path[pl++] = *sub;
    }
    path[pl] = '\0';
    size_t cap = pl + 512;
    char *w = out_reserve(c, cap);
    int n = snprintf(w, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "User-Agent: herald-bench\r\n\r\n",
                     path, g.hostport, key);
    out_commit(c, (size_t)n);
}

static int ws_feed_handshake(struct conn *c, const uint8_t *p, size_t n)
{
    const char *h;
    size_t hl;
    int r = head_take(c, &p, &n, &h, &hl);
    if (r < 0)
        return conn_fail(c, E_PROTO);
    if (r == 0)
        return 0;
    struct resp_head rh;
    int pr = parse_head(h, hl, &rh);
    c->acc_len = 0;
    if (pr < 0)
        return conn_fail(c, E_PROTO);
    if (rh.status != 101) {
        note_first(c, "handshake answered %.*s", (int)(strcspn(h, "\r\n")), h);
        return conn_fail(c, E_STATUS);
    }
    if (!rh.ws_upgrade || !rh.conn_upgrade || rh.accept_len != 28 ||
        memcmp(rh.accept, c->accept, 28) != 0) {
        note_first(c,
                   "bad 101: upgrade=%d connection=%d Sec-WebSocket-Accept '%.*s', expected '%s'",
                   rh.ws_upgrade, rh.conn_upgrade, (int)rh.accept_len, rh.accept ? rh.accept : "",
                   c->accept);
        return conn_fail(c, E_HANDSHAKE);
    }
    g.in_flight--;
    c->ps = PS_WS_HDR;
    if (g.o.hello)
        c->state = CS_WAIT_HELLO;
    else
        set_ready(c);
    return ws_feed(c, p, n);
}

/* ---------------------------------------------------------------- raw lines */

static int raw_feed(struct conn *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        const char *line;
        size_t len;
        int r = line_take(c, &p, &n, &line, &len);
        if (r < 0)
            return conn_fail(c, E_PROTO);
        if (r == 0)
            return 0;
        on_echo_id(c, line, len);
        c->acc_len = 0;
    }
    return 0;
}

/* ---------------------------------------------------------------- HTTP */

static void http_send(struct conn *c)
{
    char *w = out_reserve(c, g.req_len);
    memcpy(w, g.req, g.req_len);
    out_commit(c, g.req_len);
    c->t_sent = g.now;
    c->busy = true;
}

/* Reopens c without counting an error (the server asked to close). Returns -1. */
static int http_recycle(struct conn *c)
{
    conn_leave(c);
    g.reconnects++;
    c->state = CS_IDLE;
    c->busy = false;
    c->retry_at = g.now;
    return -1;
}

static int http_done(struct conn *c)
{
    if (g.now >= g.win_start && g.now < g.win_end) {
        g.responses++;
        hist_add(&g.h, g.now - c->t_sent);
        if (c->status < 200 || c->status > 299)
            g.non2xx++;
    }
    c->busy = false;
    c->ps = PS_H_HEAD;
    if (c->close_after)
        return http_recycle(c);
    if (g.now >= g.win_end)
        return 0;
    http_send(c);
    return flush_conn(c); /* one request in flight: nothing to batch, send at once */
}

static int http_feed(struct conn *c, const uint8_t *p, size_t n)
{
    for (;;) {
        if (c->ps == PS_H_BODY && c->f_left == 0) {
            if (http_done(c) < 0)
                return -1;
            continue;
        }
        if (n == 0)
            return 0;
        const char *s;
        size_t sl;
        int r;
        switch (c->ps) {
        case PS_H_HEAD: {
            if (!c->busy)
                return conn_fail(c, E_PROTO); /* bytes nobody asked for */
            r = head_take(c, &p, &n, &s, &sl);
            if (r < 0)
                return conn_fail(c, E_PROTO);
            if (r == 0)
                return 0;
            struct resp_head rh;
            int pr = parse_head(s, sl, &rh);
            c->acc_len = 0;
            if (pr < 0 || rh.status == 101)
                return conn_fail(c, E_PROTO);
            if (rh.status < 200)
                break; /* interim response: the real one follows */
            c->status = rh.status;
            c->close_after = rh.close;
            if (rh.status == 204 || rh.status == 304) {
                c->f_left = 0;
                c->ps = PS_H_BODY;
            } else if (rh.chunked) {
                c->ps = PS_H_CHUNK_SIZE;
            } else if (rh.has_len) {
                c->f_left = rh.len;
                c->ps = PS_H_BODY;
            } else {
                c->close_after = true;
                c->ps = PS_H_UNTIL_EOF;
            }
            break;
        }
        case PS_H_BODY:
        case PS_H_CHUNK_DATA: {
            size_t take = n < c->f_left ? n : (size_t)c->f_left;
            p += take;
            n -= take;
            c->f_left -= take;
            if (c->f_left == 0 && c->ps == PS_H_CHUNK_DATA)
                c->ps = PS_H_CHUNK_END;
            break;
        }
        case PS_H_CHUNK_SIZE: {
            r = line_take(c, &p, &n, &s, &sl);
            if (r <= 0)
                return r < 0 ? conn_fail(c, E_PROTO) : 0;
            uint64_t size = 0;
            size_t i = 0;
            for (; i < sl && isxdigit((unsigned char)s[i]) && i < 15; i++)
                size = size * 16 + (uint64_t)(isdigit((unsigned char)s[i])
                                                  ? s[i] - '0'
                                                  : (tolower((unsigned char)s[i]) - 'a' + 10));
            c->acc_len = 0;
            if (i == 0 || (i < sl && s[i] != ';' && s[i] != ' ' && s[i] != '\t'))
                return conn_fail(c, E_PROTO);
            c->f_left = size;
            c->ps = size == 0 ? PS_H_TRAILER : PS_H_CHUNK_DATA;
            break;
        }
        case PS_H_CHUNK_END:
        case PS_H_TRAILER:
            r = line_take(c, &p, &n, &s, &sl);
            if (r <= 0)
                return r < 0 ? conn_fail(c, E_PROTO) : 0;
            c->acc_len = 0;
            if (c->ps == PS_H_CHUNK_END) {
                if (sl != 0)
                    return conn_fail(c, E_PROTO);
                c->ps = PS_H_CHUNK_SIZE;
            } else if (sl == 0) {
                c->f_left = 0;
                c->ps = PS_H_BODY; /* complete */
            }
            break;
        case PS_H_UNTIL_EOF:
            return 0; /* the body ends when the server closes */
        default:
            return conn_fail(c, E_PROTO);
        }
    }
}

/* ---------------------------------------------------------------- event loop */

/* The TCP connection is up: send the first request or handshake. Returns -1 if c died. */
static int on_connected(struct conn *c)
{
    switch (g.o.mode) {
    case M_HTTP:
        g.in_flight--;
        c->state = CS_READY;
        c->ever_ready = true;
        http_send(c);
        break;
    case M_WS_IDLE:
    case M_WS_PING:
    case M_FANOUT:
    case M_STORM:
    case M_NOTIFY:
        c->state = CS_HANDSHAKE;
        ws_send_handshake(c);
        break;
    case M_RAW_ECHO:
        g.in_flight--;
        set_ready(c);
        break;
    case M_SELFTEST:
        break;
    }
    return flush_conn(c);
}

static int on_connect_done(struct conn *c)
{
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
        if (err != 0)
            errno = err;
        return conn_fail(c, E_CONNECT);
    }
    return on_connected(c);
}

static int feed(struct conn *c, const uint8_t *p, size_t n)
{
    switch (c->state) {
    case CS_HANDSHAKE:
        return ws_feed_handshake(c, p, n);
    case CS_WAIT_HELLO:
    case CS_READY:
        if (g.o.mode == M_HTTP)
            return http_feed(c, p, n);
        if (g.o.mode == M_RAW_ECHO)
            return raw_feed(c, p, n);
        return ws_feed(c, p, n);
    default:
        return conn_fail(c, E_PROTO);
    }
}

static void on_eof(struct conn *c)
{
    if (g.o.mode == M_HTTP) {
        if (c->ps == PS_H_UNTIL_EOF) {
            c->close_after = true;
            c->f_left = 0;
            c->ps = PS_H_BODY;
            http_done(c);
            return;
        }
        if (!c->busy && c->acc_len == 0) { /* idle keep-alive connection closed */
            http_recycle(c);
            return;
        }
    }
    conn_fail(c, E_EOF);
}

static void on_readable(struct conn *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, g.rbuf, RBUF_SIZE, 0);
        if (r > 0) {
            g.now = now_ns();
            if (feed(c, (const uint8_t *)g.rbuf, (size_t)r) < 0 || (size_t)r < RBUF_SIZE)
                return;
            continue;
        }
        if (r == 0) {
            g.now = now_ns();
            on_eof(c);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_fail(c, E_RESET);
        return;
    }
}

/* ---------------------------------------------------------------- fanout publisher */

static void pub_flush(struct pubc *pc, int idx)
{
    while (pc->off < pc->len) {
        ssize_t w = send(pc->fd, pc->out + pc->off, pc->len - pc->off, MSG_NOSIGNAL);
        if (w > 0) {
            pc->off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        die("publisher: send: %s", strerror(errno));
    }
    if (pc->off == pc->len)
        pc->off = pc->len = 0;
    struct epoll_event ev = {.events = EPOLLIN | (pc->off < pc->len ? EPOLLOUT : 0),
                             .data.u64 = PUB_TAG + (uint64_t)idx};
    epoll_ctl(g.ep, EPOLL_CTL_MOD, pc->fd, &ev);
}

/* One answer on publisher pc; in notify mode matched with the oldest request (pipelined). */
static void pub_answer(struct pubc *pc, bool ok)
{
    g.pub_answers++;
    g.pub_ok += ok;
    if (g.o.mode != M_NOTIFY || pc->flen == 0)
        return;
    int64_t sched = pc->fifo[pc->fhead];
    pc->fhead = (pc->fhead + 1) % pc->fcap;
    pc->flen--;
    if (ok && g.now >= g.win_start && g.now < g.win_end)
        g.acc_arrival_ok++;
    if (sched >= g.win_start && sched < g.win_end) {
        g.acc_win++;
        if (ok) {
            g.acc_ok_win++;
            hist_add(&g.h_acc, g.now - sched);
        }
    }
}

/* Counts status lines "HTTP/1.1 N" in t[0..n) that start at or after from. */
static void pub_count(struct pubc *pc, const char *t, size_t n, size_t from)
{
    for (size_t i = from; i + 10 <= n; i++) {
        if (t[i] == 'H' && memcmp(t + i, "HTTP/1.1 ", 9) == 0) {
            pub_answer(pc, t[i + 9] == '2');
            i += 9;
        }
    }
}

/* Counts the answers: each status line "HTTP/1.1 NNN" starts one (bodies are JSON). */
static void pub_scan(struct pubc *pc, const char *p, size_t n)
{
    /* a status line split across reads: the kept tail plus the head of this read */
    size_t tl = strlen(pc->tail);
    char seam[32];
    size_t head = n < 10 ? n : 10;
    memcpy(seam, pc->tail, tl);
    memcpy(seam + tl, p, head);
    for (size_t i = 0; i < tl; i++) /* only lines that start inside the tail */
        if (i + 10 <= tl + head && memcmp(seam + i, "HTTP/1.1 ", 9) == 0)
            pub_answer(pc, seam[i + 9] == '2');
    pub_count(pc, p, n, 0);
    /* keep the last 9 bytes unless they hold a complete status line start */
    size_t keep = n < 9 ? n : 9;
    memcpy(pc->tail, p + n - keep, keep);
    pc->tail[keep] = '\0';
}

static void pub_event(int idx, uint32_t events)
{
    struct pubc *pc = &g.pubs[idx];
    if (events & EPOLLOUT)
        pub_flush(pc, idx);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        ssize_t r = recv(pc->fd, g.rbuf, RBUF_SIZE, 0);
        if (r > 0) {
            pub_scan(pc, g.rbuf, (size_t)r);
            continue;
        }
        if (r == 0)
            die("publisher: the server closed the connection (%" PRIu64 " answers, %" PRIu64
                " 2xx)",
                g.pub_answers, g.pub_ok);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            die("publisher: recv: %s", strerror(errno));
        return;
    }
}

static void pub_open(void)
{
    g.pubs = calloc((size_t)g.o.publishers, sizeof *g.pubs);
    if (g.pubs == NULL)
        die("out of memory");
    for (int i = 0; i < g.o.publishers; i++) {
        struct pubc *pc = &g.pubs[i];
        pc->fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (pc->fd < 0 || connect(pc->fd, (struct sockaddr *)&g.addr, g.alen) < 0)
            die("publisher: connect to %s: %s", g.hostport, strerror(errno));
        int one = 1;
        setsockopt(pc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int fl = 1;
        if (ioctl(pc->fd, FIONBIO, &fl) < 0)
            die("publisher: FIONBIO: %s", strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = PUB_TAG + (uint64_t)i};
        if (epoll_ctl(g.ep, EPOLL_CTL_ADD, pc->fd, &ev) < 0)
            die("publisher: epoll_ctl: %s", strerror(errno));
    }
}

/* Queues one publish request for event seq scheduled at sched. */
static void pub_send(uint64_t seq, int64_t sched)
{
    char id[48], body[64 * 1024], req[72 * 1024];
    size_t il = put_u64(id, seq);
    id[il++] = '-';
    il += put_u64(id + il, (uint64_t)sched);
    id[il] = '\0';
    /* the delivered frame: {"type":"event","event":{"t":"<id>","p":"<pad>"}} */
    size_t fixed = strlen("{\"type\":\"event\",\"event\":{\"t\":\"\",\"p\":\"\"}}") + il;
    size_t pad = (size_t)g.o.size > fixed ? (size_t)g.o.size - fixed : 0;
    int bl = snprintf(body, sizeof body, "{\"to\":%s,\"event\":{\"t\":\"%s\",\"p\":\"", g.o.to, id);
    if (bl < 0 || (size_t)bl + pad + 8 > sizeof body)
        die("--size too large");
    memset(body + bl, 'x', pad);
    bl += (int)pad;
    memcpy(body + bl, "\"}}", 3);
    bl += 3;
    int rl = snprintf(req, sizeof req,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: herald-bench\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\n",
                      g.o.publish_path, g.hostport, bl);
    for (int i = 0; i < g.o.nheaders; i++)
        rl += snprintf(req + rl, sizeof req - (size_t)rl, "%s\r\n", g.o.headers[i]);
    rl += snprintf(req + rl, sizeof req - (size_t)rl, "\r\n");
    if ((size_t)rl + (size_t)bl > sizeof req)
        die("publish request too large");
    memcpy(req + rl, body, (size_t)bl);
    size_t total = (size_t)rl + (size_t)bl;
    int idx = (int)(seq % (uint64_t)g.o.publishers);
    struct pubc *pc = &g.pubs[idx];
    if (pc->len + total > pc->cap) {
        pc->cap = (pc->len + total) * 2;
        pc->out = xrealloc(pc->out, pc->cap);
    }
    memcpy(pc->out + pc->len, req, total);
    pc->len += total;
    g.published++;
    if (sched >= g.win_start && sched < g.win_end)
        g.published_win++;
    pub_flush(pc, idx);
}

/* notify: queues one notification (seq, scheduled at sched) on the next publisher. */
static void notify_send(uint64_t seq, int64_t sched)
{
    static char body[40 * 1024], req[48 * 1024];
    char t[48];
    size_t tl = put_u64(t, seq);
    t[tl++] = '-';
    tl += put_u64(t + tl, (uint64_t)sched);
    const char *user = "";
    bool in_win = sched >= g.win_start && sched < g.win_end;
    if (!g.fan_all) {
        user = g.tok_user[g.c[g.ready[g.rr++ % (uint64_t)g.nready]].idx];
        g.expected_all++;
        g.expected_win += in_win;
    } else {
        g.expected_all += (uint64_t)g.nready;
        g.expected_win += in_win ? (uint64_t)g.nready : 0;
    }
    size_t bl = 0, ul = strlen(user);
    for (const char *p = g.o.body; *p;) {
        if (bl + tl + ul + 2 > sizeof body)
            die("--body too large");
        if (strncmp(p, "{t}", 3) == 0) {
            memcpy(body + bl, t, tl);
            bl += tl;
            p += 3;
        } else if (strncmp(p, "{user}", 6) == 0) {
            memcpy(body + bl, user, ul);
            bl += ul;
            p += 6;
        } else {
            body[bl++] = *p++;
        }
    }
    int rl = snprintf(req, sizeof req,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: herald-bench\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                      g.o.publish_path, g.hostport, bl);
    for (int i = 0; i < g.o.nheaders; i++)
        rl += snprintf(req + rl, sizeof req - (size_t)rl, "%s\r\n", g.o.headers[i]);
    rl += snprintf(req + rl, sizeof req - (size_t)rl, "\r\n");
    if ((size_t)rl + bl > sizeof req)
        die("notification request too large");
    memcpy(req + rl, body, bl);
    size_t total = (size_t)rl + bl;
    int idx = (int)(seq % (uint64_t)g.o.publishers);
    struct pubc *pc = &g.pubs[idx];
    if (pc->flen == pc->fcap) { /* grow the ring, oldest first */
        size_t cap = pc->fcap ? pc->fcap * 2 : 1024;
        int64_t *f = xrealloc(NULL, cap * sizeof *f);
        for (size_t i = 0; i < pc->flen; i++)
            f[i] = pc->fifo[(pc->fhead + i) % pc->fcap];
        free(pc->fifo);
        pc->fifo = f;
        pc->fhead = 0;
        pc->fcap = cap;
    }
    pc->fifo[(pc->fhead + pc->flen++) % pc->fcap] = sched;
    if (pc->len + total > pc->cap) {
        pc->cap = (pc->len + total) * 2;
        pc->out = xrealloc(pc->out, pc->cap);
    }
    memcpy(pc->out + pc->len, req, total);
    pc->len += total;
    g.published++;
    g.published_win += in_win;
    pub_flush(pc, idx);
}

/* Flushes queued output, waits for events until `wake` (100 ms at most), handles them. */
static void loop_once(int64_t wake)
{
    struct epoll_event evs[MAX_EVENTS];
    flush_dirty();
    int64_t wait = wake - now_ns();
    if (wait < 0)
        wait = 0;
    if (wait > 100 * NS_PER_MS)
        wait = 100 * NS_PER_MS;
    int k = -1;
    if (g.pwait2) {
        struct timespec ts = {.tv_sec = (time_t)(wait / NS_PER_S),
                              .tv_nsec = (long)(wait % NS_PER_S)};
        k = epoll_pwait2(g.ep, evs, MAX_EVENTS, &ts, NULL);
        if (k < 0 && errno == ENOSYS)
            g.pwait2 = false;
    }
    if (!g.pwait2)
        k = epoll_wait(g.ep, evs, MAX_EVENTS, (int)((wait + NS_PER_MS - 1) / NS_PER_MS));
    g.now = now_ns();
    for (int i = 0; i < k; i++) {
        if (evs[i].data.u64 >= PUB_TAG) {
            pub_event((int)(evs[i].data.u64 - PUB_TAG), evs[i].events);
            continue;
        }
        struct conn *c = &g.c[(uint32_t)evs[i].data.u64];
        if (c->fd < 0 || c->gen != (uint32_t)(evs[i].data.u64 >> 32))
            continue; /* stale event for a socket closed earlier in this batch */
        uint32_t e = evs[i].events;
        if (c->state == CS_CONNECTING) {
            if (on_connect_done(c) < 0)
                continue;
        } else if ((e & EPOLLOUT) && flush_conn(c) < 0) {
            continue;
        }
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
            on_readable(c);
    }
    flush_dirty();
}

/* Opens every connection (at most --conc in flight) until all are ready or failed. */
static void connect_all(void)
{
    int64_t t0 = now_ns(), deadline = t0 + (int64_t)(g.o.connect_timeout * 1e9);
    g.now = t0;
    while (!g_stop) {
        while (g.in_flight < g.o.conc && g.next_connect < g.n)
            start_connect(&g.c[g.next_connect++]);
        if (g.ready_ever + g.failed_setup >= g.n || now_ns() >= deadline)
            break;
        loop_once(deadline);
    }
    for (int i = 0; i < g.n; i++) {
        struct conn *c = &g.c[i];
        if (c->state == CS_CONNECTING || c->state == CS_HANDSHAKE || c->state == CS_WAIT_HELLO ||
            c->state == CS_NEW)
            conn_fail(c, E_TIMEOUT);
    }
}

static void close_all(void)
{
    for (int i = 0; i < g.n; i++)
        conn_close_fd(&g.c[i]);
}

/* ---------------------------------------------------------------- output */

static bool out_json, out_first;

static void out_begin(const char *title)
{
    out_first = true;
    if (out_json)
        printf("{\"mode\":\"%s\"", mode_name[g.o.mode]);
    else
        printf("herald-bench %s  %s\n", mode_name[g.o.mode], title);
    out_first = false;
}

/* One figure: JSON key (NULL: table only) and table label (NULL: JSON only). */
static void out_num(const char *key, const char *label, double v, int prec, const char *unit)
{
    if (out_json) {
        if (key == NULL)
            return;
        if (isnan(v) || isinf(v))
            printf(",\"%s\":null", key);
        else
            printf(",\"%s\":%.*f", key, prec, v);
    } else if (label != NULL) {
        if (isnan(v))
            printf("  %-24s n/a\n", label);
        else
            printf("  %-24s %.*f%s%s\n", label, prec, v, unit ? " " : "", unit ? unit : "");
    }
}

static void out_str(const char *key, const char *label, const char *v)
{
    if (out_json) {
        printf(",\"%s\":\"", key);
        for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if (*p < 0x20)
                printf("\\u%04x", *p);
            else
                putchar(*p);
        }
        putchar('"');
    } else if (label != NULL)
        printf("  %-24s %s\n", label, v);
}

static uint64_t total_errors(void)
{
    uint64_t t = 0;
    for (int r = 0; r < E_COUNT; r++)
        t += g.err[r];
    return t;
}

static void out_errors(void)
{
    if (out_json) {
        printf(",\"errors\":%" PRIu64, total_errors());
        printf(",\"errors_by_reason\":{");
        bool first = true;
        for (int r = 0; r < E_COUNT; r++) {
            if (g.err[r]) {
                printf("%s\"%s\":%" PRIu64, first ? "" : ",", reason_name[r], g.err[r]);
                first = false;
            }
        }
        printf("}");
        return;
    }
    char line[512];
    size_t l = 0;
    line[0] = '\0';
    for (int r = 0; r < E_COUNT; r++)
        if (g.err[r] && l < sizeof line - 40)
            l += (size_t)snprintf(line + l, sizeof line - l, "%s%s=%" PRIu64, l ? " " : "",
                                  reason_name[r], g.err[r]);
    printf("  %-24s %s\n", "errors by reason", l ? line : "none");
}

static void out_latency(void)
{
    out_num("p50_ms", "latency p50", hist_ms(&g.h, 0.50), 3, "ms");
    out_num("p90_ms", "latency p90", hist_ms(&g.h, 0.90), 3, "ms");
    out_num("p99_ms", "latency p99", hist_ms(&g.h, 0.99), 3, "ms");
    out_num("p999_ms", "latency p99.9", hist_ms(&g.h, 0.999), 3, "ms");
    out_num("max_ms", "latency max", g.h.n ? (double)g.h.max / 1e6 : NAN, 3, "ms");
    out_num("mean_ms", NULL, g.h.n ? (double)g.h.sum / (double)g.h.n / 1e6 : NAN, 3, "ms");
}

static void out_end(void)
{
    if (g.first_err[0] != '\0')
        fprintf(stderr, "herald-bench: first failure: %s\n", g.first_err);
    if (g_stop)
        out_str("interrupted", "interrupted", "yes");
    if (out_json)
        printf("}\n");
    fflush(stdout);
}

/* ---------------------------------------------------------------- modes */

static int run_http(void)
{
    struct cpu_mark m0 = {0}, m1 = {0};
    g.now = now_ns();
    g.t0 = g.now;
    g.win_start = g.t0 + (int64_t)(g.o.warmup * 1e9);
    g.win_end = g.win_start + (int64_t)(g.o.duration * 1e9);
    int64_t first_deadline = g.t0 + (int64_t)(g.o.connect_timeout * 1e9);
    for (int i = 0; i < g.n; i++)
        start_connect(&g.c[i]);
    bool any_ready = false;
    while (!g_stop && g.now < g.win_end) {
        if (!m0.taken && g.now >= g.win_start)
            cpu_mark(&m0);
        int64_t wake = m0.taken ? g.win_end : g.win_start;
        for (int i = 0; i < g.n; i++) {
            struct conn *c = &g.c[i];
            any_ready |= c->ever_ready;
            if (c->state == CS_IDLE) {
                if (c->retry_at <= g.now)
                    start_connect(c);
                else if (c->retry_at < wake)
                    wake = c->retry_at;
            }
        }
        if (!any_ready && g.now >= first_deadline) {
            fprintf(stderr, "herald-bench: no connection within --connect-timeout\n");
            break;
        }
        loop_once(wake);
    }
    cpu_mark(&m1);
    uint64_t pending = 0;
    for (int i = 0; i < g.n; i++)
        pending += g.c[i].busy;
    close_all();

    double win = (double)(m1.t - g.win_start) / 1e9;
    if (win > g.o.duration || win <= 0)
        win = g.o.duration;
    char title[MAX_PATH_LEN + 400];
    snprintf(title, sizeof title, "GET http://%s%s  conns %d, warmup %g s, window %g s", g.hostport,
             g.o.path, g.o.conns, g.o.warmup, g.o.duration);
    out_begin(title);
    out_str("host", NULL, g.o.host);
    out_num("port", NULL, g.o.port, 0, NULL);
    out_str("path", NULL, g.o.path);
    out_num("conns", NULL, g.o.conns, 0, NULL);
    out_num("duration_s", NULL, g.o.duration, 3, NULL);
    out_num("warmup_s", NULL, g.o.warmup, 3, NULL);
    out_num("requests", "requests (window)", (double)g.responses, 0, NULL);
    out_num("rps", "requests/s", (double)g.responses / win, 1, NULL);
    out_num(NULL, "errors", (double)total_errors(), 0, NULL);
    out_num("non2xx", "non-2xx responses", (double)g.non2xx, 0, NULL);
    out_num("reconnects", "reconnects", (double)g.reconnects, 0, NULL);
    out_num("pending_at_end", NULL, (double)pending, 0, NULL);
    out_latency();
    out_num("client_cpu_pct", "client cpu", cpu_pct(&m0, &m1, false), 1, "%");
    out_num("server_cpu_pct", "server cpu", cpu_pct(&m0, &m1, true), 1, "%");
    out_num("steal_pct", "machine steal", steal_pct(&m0, &m1), 1, "%");
    out_num("others_cpu_pct", "other processes' cpu", others_pct(&m0, &m1), 1, "%");
    out_errors();
    out_end();
    return g.responses > 0 ? 0 : 1;
}

static int run_ws_idle(void)
{
    long rss0 = proc_rss_kib();
    int64_t t0 = now_ns();
    connect_all();
    int64_t t1 = now_ns();
    int connected = g.nready;
    int64_t hold_end = t1 + (int64_t)(g.o.hold * 1e9);
    g.now = t1;
    while (!g_stop && g.now < hold_end)
        loop_once(hold_end);
    long rss1 = proc_rss_kib();
    int alive = g.nready;
    close_all();

    double ct = (double)(t1 - t0) / 1e9;
    char title[MAX_PATH_LEN + 400];
    snprintf(title, sizeof title, "ws://%s%s  conns %d, conc %d, hold %g s", g.hostport, g.o.path,
             g.o.conns, g.o.conc, g.o.hold);
    out_begin(title);
    out_str("host", NULL, g.o.host);
    out_num("port", NULL, g.o.port, 0, NULL);
    out_str("path", NULL, g.o.path);
    out_num("conns", "connections asked", g.o.conns, 0, NULL);
    out_num("connected", "connected", connected, 0, NULL);
    out_num("failed", "failed", g.o.conns - connected, 0, NULL);
    out_num("connect_s", "connect time", ct, 3, "s");
    out_num("connect_rate", "connect rate", ct > 0 ? connected / ct : NAN, 0, "conn/s");
    out_num("hold_s", NULL, g.o.hold, 3, NULL);
    out_num("alive_after_hold", "alive after hold", alive, 0, NULL);
    out_num("server_pings", "server pings answered", (double)g.server_pings, 0, NULL);
    out_num("rss_before_kib", "server RSS before", rss0 < 0 ? NAN : (double)rss0, 0, "KiB");
    out_num("rss_after_kib", "server RSS after hold", rss1 < 0 ? NAN : (double)rss1, 0, "KiB");
    out_num("kib_per_conn", "KiB per connection",
            rss0 < 0 || rss1 < 0 || connected == 0 ? NAN
                                                   : (double)(rss1 - rss0) / (double)connected,
            2, "KiB");
    out_errors();
    out_end();
    return connected > 0 ? 0 : 1;
}

static int run_ping(void)
{
    g.closed_loop = g.o.rate == 0;
    /* the pong table: big enough for the whole run (open loop) or many rounds (closed) */
    double want = g.closed_loop ? (double)g.o.conns * g.o.depth * 8.0
                                : g.o.rate * (g.o.warmup + g.o.duration + g.o.drain) + 1;
    uint64_t cap = 1u << 16;
    while ((double)cap < want && cap < (1u << 23))
        cap <<= 1;
    g.slots = calloc(cap, sizeof *g.slots);
    if (g.slots == NULL)
        die("out of memory for %" PRIu64 " ping slots", cap);
    g.slot_mask = cap - 1;

    int64_t tc = now_ns();
    connect_all();
    int64_t t1 = now_ns();
    int connected = g.nready;
    struct cpu_mark m0 = {0}, m1 = {0};
    if (connected > 0) {
        g.now = now_ns();
        g.t0 = g.now;
        g.win_start = g.t0 + (int64_t)(g.o.warmup * 1e9);
        g.win_end = g.win_start + (int64_t)(g.o.duration * 1e9);
        g.send_end = g.win_end;
        g.drain_end = g.send_end + (int64_t)(g.o.drain * 1e9);
        double period = g.closed_loop ? 0 : 1e9 / g.o.rate;
        int64_t tick = (int64_t)(g.o.tick_us * 1e3);
        int64_t next = g.t0;
        if (g.closed_loop)
            for (int i = 0; i < g.nready; i++)
                for (int d = 0; d < g.o.depth; d++)
                    ping_send(&g.c[g.ready[i]], g.now, g.now);
        while (!g_stop) {
            g.now = now_ns();
            if (!m0.taken && g.now >= g.win_start)
                cpu_mark(&m0);
            if (!m1.taken && g.now >= g.win_end)
                cpu_mark(&m1);
            if (!g.closed_loop) {
                while (next <= g.now && next < g.send_end && g.nready > 0) {
                    ping_send(&g.c[g.ready[g.rr++ % (uint64_t)g.nready]], next, g.now);
                    next = g.t0 + (int64_t)((double)g.seq * period);
                }
            } else if (g.nstarved) {
                refill_starved();
            }
            if (g.now >= g.drain_end || (g.now >= g.send_end && g.outstanding == 0) ||
                g.nready == 0)
                break;
            int64_t wake = g.drain_end;
            if (!g.closed_loop && next < g.send_end)
                wake = next > g.now + tick ? next : g.now + tick;
            else if (g.now < g.send_end)
                wake = g.send_end;
            if (!m0.taken && g.win_start < wake)
                wake = g.win_start;
            loop_once(wake);
        }
        if (!m1.taken)
            cpu_mark(&m1);
    }
    close_all();

    double win = g.o.duration;
    if (g_stop && m0.taken) /* interrupted: only part of the window was measured */
        win = fmin(win, (double)(m1.t - g.win_start) / 1e9);
    if (!(win > 0))
        win = g.o.duration;
    uint64_t lost = g.sched_win > g.recv_win ? g.sched_win - g.recv_win : 0;
    char title[MAX_PATH_LEN + 400], rate[64];
    if (g.closed_loop)
        snprintf(rate, sizeof rate, "closed loop, depth %d", g.o.depth);
    else
        snprintf(rate, sizeof rate, "rate %g/s", g.o.rate);
    snprintf(title, sizeof title, "%s://%s%s  conns %d, %s, warmup %g s, window %g s, drain %g s",
             g.o.mode == M_WS_PING ? "ws" : "tcp", g.hostport,
             g.o.mode == M_WS_PING ? g.o.path : "", g.o.conns, rate, g.o.warmup, g.o.duration,
             g.o.drain);
    out_begin(title);
    out_str("host", NULL, g.o.host);
    out_num("port", NULL, g.o.port, 0, NULL);
    if (g.o.mode == M_WS_PING)
        out_str("path", NULL, g.o.path);
    out_num("conns", NULL, g.o.conns, 0, NULL);
    out_num("rate_target", NULL, g.o.rate, 1, NULL);
    out_num("depth", NULL, g.closed_loop ? g.o.depth : NAN, 0, NULL);
    out_num("duration_s", NULL, g.o.duration, 3, NULL);
    out_num("warmup_s", NULL, g.o.warmup, 3, NULL);
    out_num("drain_s", NULL, g.o.drain, 3, NULL);
    out_num("connected", "connected", connected, 0, NULL);
    out_num("failed", "failed to connect", g.o.conns - connected, 0, NULL);
    out_num("connect_s", "connect time", (double)(t1 - tc) / 1e9, 3, "s");
    out_num("sent", "sent (all phases)", (double)g.sent, 0, NULL);
    out_num("received", "received (all phases)", (double)g.recv, 0, NULL);
    out_num("scheduled_window", "scheduled in window", (double)g.sched_win, 0, NULL);
    out_num("received_window", "received of those", (double)g.recv_win, 0, NULL);
    out_num("rate", "achieved", (double)g.recv_win / win, 1, "msg/s");
    out_num("lost", "lost", (double)lost, 0, NULL);
    out_num("loss_pct", "loss", g.sched_win ? 100.0 * (double)lost / (double)g.sched_win : NAN, 3,
            "%");
    out_latency();
    out_num("dropped", "dropped (client backlog)", (double)g.dropped, 0, NULL);
    out_num("expired", NULL, (double)g.expired, 0, NULL);
    out_num("unmatched", "unmatched pongs", (double)g.unmatched, 0, NULL);
    out_num("misrouted", NULL, (double)g.misrouted, 0, NULL);
    out_num("other_frames", NULL, (double)g.other_frames, 0, NULL);
    out_num("server_pings", NULL, (double)g.server_pings, 0, NULL);
    out_num("closed_during_run", "closed during run", g.closed_after_ready, 0, NULL);
    out_num("send_lag_max_ms", "client send lag max", (double)g.lag_max / 1e6, 3, "ms");
    out_num("client_cpu_pct", "client cpu", cpu_pct(&m0, &m1, false), 1, "%");
    out_num("server_cpu_pct", "server cpu", cpu_pct(&m0, &m1, true), 1, "%");
    out_num("steal_pct", "machine steal", steal_pct(&m0, &m1), 1, "%");
    out_num("others_cpu_pct", "other processes' cpu", others_pct(&m0, &m1), 1, "%");
    out_errors();
    out_end();
    free(g.slots);
    return g.recv_win > 0 ? 0 : 1;
}

static int run_fanout(void)
{
    int64_t tc = now_ns();
    connect_all();
    int64_t t1 = now_ns();
    int connected = g.nready;
    struct cpu_mark m0 = {0}, m1 = {0};
    if (connected > 0) {
        pub_open();
        g.now = now_ns();
        g.t0 = g.now;
        g.win_start = g.t0 + (int64_t)(g.o.warmup * 1e9);
        g.win_end = g.win_start + (int64_t)(g.o.duration * 1e9);
        g.send_end = g.win_end;
        g.drain_end = g.send_end + (int64_t)(g.o.drain * 1e9);
        double period = 1e9 / g.o.rate;
        int64_t next = g.t0;
        while (!g_stop) {
            g.now = now_ns();
            if (!m0.taken && g.now >= g.win_start)
                cpu_mark(&m0);
            if (!m1.taken && g.now >= g.win_end)
                cpu_mark(&m1);
            while (next <= g.now && next < g.send_end) {
                pub_send(g.seq, next);
                g.seq++;
                next = g.t0 + (int64_t)((double)g.seq * period);
            }
            uint64_t expected = g.published * (uint64_t)g.nready;
            if (g.now >= g.drain_end || (g.now >= g.send_end && g.deliveries >= expected) ||
                g.nready == 0)
                break;
            int64_t wake = next < g.send_end ? next : g.drain_end;
            if (!m0.taken && g.win_start < wake)
                wake = g.win_start;
            if (!m1.taken && g.win_end < wake)
                wake = g.win_end;
            loop_once(wake);
        }
        if (!m1.taken)
            cpu_mark(&m1);
    }
    close_all();
    for (int i = 0; g.pubs && i < g.o.publishers; i++) {
        close(g.pubs[i].fd);
        free(g.pubs[i].out);
    }
    free(g.pubs);

    double win = g.o.duration;
    if (g_stop && m0.taken)
        win = fmin(win, (double)(m1.t - g.win_start) / 1e9);
    if (!(win > 0))
        win = g.o.duration;
    uint64_t expected = g.published_win * (uint64_t)connected;
    uint64_t lost = expected > g.deliveries_win ? expected - g.deliveries_win : 0;
    char title[MAX_PATH_LEN + 400];
    snprintf(title, sizeof title,
             "ws://%s%s  subscribers %d, %g events/s of %d bytes, warmup %g s, window %g s, "
             "drain %g s",
             g.hostport, g.o.path, g.o.conns, g.o.rate, g.o.size, g.o.warmup, g.o.duration,
             g.o.drain);
    out_begin(title);
    out_str("host", NULL, g.o.host);
    out_num("port", NULL, g.o.port, 0, NULL);
    out_str("path", NULL, g.o.path);
    out_num("conns", NULL, g.o.conns, 0, NULL);
    out_num("rate_target", NULL, g.o.rate, 1, NULL);
    out_num("size", NULL, g.o.size, 0, NULL);
    out_num("connected", "connected", connected, 0, NULL);
    out_num("failed", "failed to connect", g.o.conns - connected, 0, NULL);
    out_num("connect_s", "connect time", (double)(t1 - tc) / 1e9, 3, "s");
    out_num("published", "published (all phases)", (double)g.published, 0, NULL);
    out_num("publish_answers", "publish answers", (double)g.pub_answers, 0, NULL);
    out_num("publish_2xx", "publish 2xx", (double)g.pub_ok, 0, NULL);
    out_num("published_window", "published in window", (double)g.published_win, 0, NULL);
    out_num("expected_window", "deliveries expected", (double)expected, 0, NULL);
    out_num("delivered_window", "delivered of those", (double)g.deliveries_win, 0, NULL);
    out_num("rate", "achieved", (double)g.deliveries_win / win, 1, "deliveries/s");
    out_num("lost", "lost", (double)lost, 0, NULL);
    out_num("loss_pct", "loss", expected ? 100.0 * (double)lost / (double)expected : NAN, 3, "%");
    out_latency();
    out_num("other_frames", NULL, (double)g.other_frames, 0, NULL);
    out_num("closed_during_run", "closed during run", g.closed_after_ready, 0, NULL);
    out_num("client_cpu_pct", "client cpu", cpu_pct(&m0, &m1, false), 1, "%");
    out_num("server_cpu_pct", "server cpu", cpu_pct(&m0, &m1, true), 1, "%");
    out_num("steal_pct", "machine steal", steal_pct(&m0, &m1), 1, "%");
    out_num("others_cpu_pct", "other processes' cpu", others_pct(&m0, &m1), 1, "%");
    out_errors();
    out_end();
    return g.deliveries_win > 0 && lost == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- notify */

static int run_notify(void)
{
    int64_t tc = now_ns();
    connect_all();
    int64_t t1 = now_ns();
    int connected = g.nready;
    g.fan_all = strstr(g.o.body, "{user}") == NULL;
    struct cpu_mark m0 = {0}, m1 = {0};
    if (connected > 0) {
        pub_open();
        g.now = now_ns();
        g.t0 = g.now;
        g.win_start = g.t0 + (int64_t)(g.o.warmup * 1e9);
        g.win_end = g.win_start + (int64_t)(g.o.duration * 1e9);
        g.send_end = g.win_end;
        g.drain_end = g.send_end + (int64_t)(g.o.drain * 1e9);
        double period = 1e9 / g.o.rate;
        int64_t next = g.t0;
        while (!g_stop) {
            g.now = now_ns();
            if (!m0.taken && g.now >= g.win_start)
                cpu_mark(&m0);
            if (!m1.taken && g.now >= g.win_end)
                cpu_mark(&m1);
            while (next <= g.now && next < g.send_end && g.nready > 0) {
                notify_send(g.seq, next);
                g.seq++;
                next = g.t0 + (int64_t)((double)g.seq * period);
                if (g.o.count > 0 && g.seq >= (uint64_t)g.o.count && g.send_end > g.now) {
                    g.send_end = g.now; /* --count reached: drain from now */
                    g.drain_end = g.now + (int64_t)(g.o.drain * 1e9);
                }
            }
            if (g.now >= g.drain_end || g.nready == 0 ||
                (g.now >= g.send_end && g.deliveries >= g.expected_all &&
                 g.pub_answers >= g.published && (m1.taken || g.o.count > 0)))
                break;
            int64_t wake = next < g.send_end ? next : g.drain_end;
            if (!m0.taken && g.win_start < wake)
                wake = g.win_start;
            if (!m1.taken && g.win_end < wake)
                wake = g.win_end;
            loop_once(wake);
        }
        if (!m1.taken)
            cpu_mark(&m1);
    }
    close_all();
    for (int i = 0; g.pubs && i < g.o.publishers; i++) {
        close(g.pubs[i].fd);
        free(g.pubs[i].out);
        free(g.pubs[i].fifo);
    }
    free(g.pubs);

    double win = g.o.duration;
    if (g_stop && m0.taken)
        win = fmin(win, (double)(m1.t - g.win_start) / 1e9);
    if (!(win > 0))
        win = g.o.duration;
    uint64_t lost = g.expected_win > g.deliveries_win ? g.expected_win - g.deliveries_win : 0;
    char title[MAX_PATH_LEN + 400];
    snprintf(title, sizeof title,
             "POST http://%s%s -> ws://%s%s  sockets %d, %g notifications/s%s, warmup %g s, "
             "window %g s, drain %g s",
             g.hostport, g.o.publish_path, g.hostport, g.o.path, g.o.conns, g.o.rate,
             g.fan_all ? " (each to every socket)" : " (one recipient each)", g.o.warmup,
             g.o.duration, g.o.drain);
    out_begin(title);
    out_str("host", NULL, g.o.host);
    out_num("port", NULL, g.o.port, 0, NULL);
    out_str("path", NULL, g.o.path);
    out_num("conns", NULL, g.o.conns, 0, NULL);
    out_num("rate_target", NULL, g.o.rate, 1, NULL);
    out_num("publishers", NULL, g.o.publishers, 0, NULL);
    out_num("connected", "connected", connected, 0, NULL);
    out_num("failed", "failed to connect", g.o.conns - connected, 0, NULL);
    out_num("connect_s", "connect time", (double)(t1 - tc) / 1e9, 3, "s");
    out_num("sent", "sent (all phases)", (double)g.published, 0, NULL);
    out_num("answers", "answers (all phases)", (double)g.pub_answers, 0, NULL);
    out_num("answers_2xx", "2xx (all phases)", (double)g.pub_ok, 0, NULL);
    out_num("sent_window", "sent in window", (double)g.published_win, 0, NULL);
    out_num("accepted_window", "2xx of those", (double)g.acc_ok_win, 0, NULL);
    out_num("non2xx_window", "non-2xx of those", (double)(g.acc_win - g.acc_ok_win), 0, NULL);
    out_num("unanswered_window", "unanswered of those", (double)(g.published_win - g.acc_win), 0,
            NULL);
    out_num("accepted_per_s", "accepted", (double)g.acc_ok_win / win, 1, "notifications/s");
    out_num("accepted_by_arrival_per_s", "2xx by arrival", (double)g.acc_arrival_ok / win, 1,
            "answers/s");
    out_num("accept_p50_ms", "accept p50", hist_ms(&g.h_acc, 0.50), 3, "ms");
    out_num("accept_p99_ms", "accept p99", hist_ms(&g.h_acc, 0.99), 3, "ms");
    out_num("accept_max_ms", "accept max", g.h_acc.n ? (double)g.h_acc.max / 1e6 : NAN, 3, "ms");
    out_num("expected_window", "frames expected", (double)g.expected_win, 0, NULL);
    out_num("delivered_window", "frames received", (double)g.deliveries_win, 0, NULL);
    out_num("delivered_per_s", "delivered", (double)g.deliveries_win / win, 1, "frames/s");
    out_num("lost", "lost", (double)lost, 0, NULL);
    out_num("loss_pct", "loss",
            g.expected_win ? 100.0 * (double)lost / (double)g.expected_win : NAN, 3, "%");
    out_num("last_frame_s", "last frame after window start",
            g.last_frame ? (double)(g.last_frame - g.win_start) / 1e9 : NAN, 3, "s");
    out_latency();
    out_num("acks", "acks sent", (double)g.acks, 0, NULL);
    out_num("other_frames", NULL, (double)g.other_frames, 0, NULL);
    out_num("closed_during_run", "closed during run", g.closed_after_ready, 0, NULL);
    out_num("client_cpu_pct", "client cpu", cpu_pct(&m0, &m1, false), 1, "%");
    out_num("server_cpu_pct", "server cpu", cpu_pct(&m0, &m1, true), 1, "%");
    out_num("steal_pct", "machine steal", steal_pct(&m0, &m1), 1, "%");
    out_num("others_cpu_pct", "other processes' cpu", others_pct(&m0, &m1), 1, "%");
    out_errors();
    out_end();
    return g.acc_ok_win > 0 && lost == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- storm */

/* The storm's phases (herald-bench storm --help). */
enum { SP_PREPARE, SP_CURSOR, SP_OFFLINE, SP_STORM };

struct st_client {
    int64_t last;     /* the cursor of its first hello: everything up to it was seen */
    int64_t maxc;     /* the highest message.new cursor counted in the storm */
    int64_t req;      /* the cursor of its last sync request */
    int64_t t_start;  /* its storm connect() */
    int64_t t_done;   /* its last sync.done */
    uint32_t ok;      /* send.ok of its conversation in phase 3: what it missed */
    uint32_t got;     /* message.new of its conversation above its cursor, each once */
    uint32_t dup;     /* message.new at or below a cursor already counted */
    uint32_t foreign; /* message.new of another conversation */
    bool cursor_ok, done, dead, incomplete;
    char conv[40];
};

struct st_peer {
    uint32_t next, total, outstanding, nclients;
};

static struct {
    int phase, P, N;
    struct st_client *cl;
    struct st_peer *pe;
    char text[4096]; /* each message's text, --size characters */
    uint64_t prepare_ok, prepare_err, send_ok, send_err, unattributed, skipped;
    uint64_t done, dead, pages, events, sync_retries;
    int64_t last_done;
    char first_send_err[200];
    struct hist hello; /* storm connect() -> hello */
} sm;

/* "c<client>-<k>" (our client_msg_id) -> client index and k; false when not ours. */
static bool storm_msg_id(const char *s, size_t n, int *ci, uint64_t *k)
{
    uint64_t a, b;
    if (n < 4 || s[0] != 'c' || !parse_id(s + 1, n - 1, &a, &b) || a >= (uint64_t)sm.N)
        return false;
    *ci = (int)a;
    *k = b;
    return true;
}

/* A cursor string: 1 to 18 digits; -1 otherwise. */
static int64_t storm_cursor(const char *s, size_t n)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool type_is(const char *d, size_t n, const char *type)
{
    const char *t;
    size_t tn;
    return json_str_field(d, n, "type", &t, &tn) && tn == strlen(type) && memcmp(t, type, tn) == 0;
}

/* Queues peer p's next send of the phase (a client without a conversation is skipped). */
static void storm_send(struct conn *pc, int p)
{
    struct st_peer *pe = &sm.pe[p];
    uint32_t s = pe->next++;
    uint32_t j = s % pe->nclients, k = s / pe->nclients;
    int ci = p + (int)j * sm.P;
    struct st_client *cl = &sm.cl[ci];
    char buf[4608];
    int n;
    if (sm.phase == SP_PREPARE) {
        n = snprintf(buf, sizeof buf,
                     "{\"type\":\"send\",\"to\":\"%s\",\"client_msg_id\":\"c%d-0\",\"message\":"
                     "{\"type\":\"text\",\"content\":\"Hello %s, your order is confirmed\"}}",
                     g.tok_user[sm.P + ci], ci, g.tok_user[sm.P + ci]);
    } else {
        if (cl->conv[0] == '\0') {
            sm.skipped++;
            return;
        }
        n = snprintf(buf, sizeof buf,
                     "{\"type\":\"send\",\"conversation_id\":\"%s\",\"client_msg_id\":\"c%d-%u\","
                     "\"message\":{\"type\":\"text\",\"content\":\"%s\"}}",
                     cl->conv, ci, k + 1, sm.text);
    }
    ws_put_frame(pc, 0x1, buf, (size_t)n);
    pe->outstanding++;
}

static void storm_pump(int p)
{
    struct conn *pc = &g.c[p];
    struct st_peer *pe = &sm.pe[p];
    while (pc->state == CS_READY && pe->outstanding < (uint32_t)g.o.window && pe->next < pe->total)
        storm_send(pc, p);
}

/* A peer's frame: send.ok or error answer one of its sends. */
static int storm_peer_frame(struct conn *c, const char *d, size_t n)
{
    bool ok = type_is(d, n, "send.ok"), err = !ok && type_is(d, n, "error");
    if (!ok && !err) {
        g.other_frames++; /* conversation.updated, presence */
        return 0;
    }
    struct st_peer *pe = &sm.pe[c->idx];
    if (pe->outstanding > 0)
        pe->outstanding--;
    const char *v;
    size_t vn;
    int ci = -1;
    uint64_t k = 0;
    if (!json_str_field(d, n, "client_msg_id", &v, &vn) || !storm_msg_id(v, vn, &ci, &k)) {
        sm.unattributed++;
    } else if (ok && k == 0) {
        const char *cv;
        size_t cn;
        if (json_str_field(d, n, "conversation_id", &cv, &cn) && cn < sizeof sm.cl[ci].conv) {
            memcpy(sm.cl[ci].conv, cv, cn);
            sm.cl[ci].conv[cn] = '\0';
            sm.prepare_ok++;
        } else {
            sm.prepare_err++;
        }
    } else if (ok) {
        sm.cl[ci].ok++;
        sm.send_ok++;
    } else if (k == 0) {
        sm.prepare_err++;
    } else {
        sm.send_err++;
    }
    if (err && sm.first_send_err[0] == '\0')
        snprintf(sm.first_send_err, sizeof sm.first_send_err, "%.*s", (int)(n < 190 ? n : 190), d);
    storm_pump((int)c->idx);
    return 0;
}

static void storm_sync(struct conn *c, struct st_client *cl, int64_t cursor)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "{\"type\":\"sync\",\"cursor\":\"%lld\"", (long long)cursor);
    if (g.o.sync_limit > 0)
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"limit\":%d", g.o.sync_limit);
    buf[n++] = '}';
    ws_put_frame(c, 0x1, buf, (size_t)n);
    cl->req = cursor;
    sm.pages++;
}

/* A client's frame: hello (its cursor; in the storm, its first sync), then the replay. */
static int storm_client_frame(struct conn *c, const char *d, size_t n)
{
    struct st_client *cl = &sm.cl[c->idx - (uint32_t)sm.P];
    const char *v;
    size_t vn;
    if (c->state == CS_WAIT_HELLO) {
        int64_t cur = -1;
        if (type_is(d, n, "hello") && json_str_field(d, n, "cursor", &v, &vn))
            cur = storm_cursor(v, vn);
        if (cur < 0) {
            note_first(c, "the first frame is not a hello with a cursor: %.*s",
                       (int)(n < 160 ? n : 160), d);
            return conn_fail(c, E_PROTO);
        }
        set_ready(c);
        if (sm.phase == SP_CURSOR) {
            cl->last = cur;
            cl->cursor_ok = true;
        } else if (sm.phase == SP_STORM) {
            hist_add(&sm.hello, g.now - cl->t_start);
            storm_sync(c, cl, cl->last);
        }
        return 0;
    }
    if (sm.phase != SP_STORM || cl->done) {
        g.other_frames++;
        return 0;
    }
    if (type_is(d, n, "message.new")) {
        int64_t cur = -1;
        if (json_str_field(d, n, "cursor", &v, &vn))
            cur = storm_cursor(v, vn);
        sm.events++;
        if (!json_str_field(d, n, "conversation_id", &v, &vn) || vn != strlen(cl->conv) ||
            memcmp(v, cl->conv, vn) != 0) {
            cl->foreign++;
        } else if (cur <= cl->last || cur <= cl->maxc) {
            cl->dup++;
        } else {
            cl->got++;
            cl->maxc = cur;
        }
        return 0;
    }
    if (type_is(d, n, "sync.done")) {
        int64_t cur = -1;
        if (json_str_field(d, n, "cursor", &v, &vn))
            cur = storm_cursor(v, vn);
        if (cur < 0) {
            note_first(c, "sync.done without a cursor: %.*s", (int)(n < 160 ? n : 160), d);
            return conn_fail(c, E_PROTO);
        }
        if (memmem(d, n, "\"complete\":false", 16) != NULL)
            cl->incomplete = true;
        if (memmem(d, n, "\"has_more\":true", 15) != NULL) {
            storm_sync(c, cl, cur);
            return 0;
        }
        cl->done = true;
        cl->t_done = g.now;
        hist_add(&g.h, g.now - cl->t_start);
        if (g.now > sm.last_done)
            sm.last_done = g.now;
        sm.done++;
        return 0;
    }
    if (type_is(d, n, "error") && json_str_field(d, n, "code", &v, &vn) && vn == 11 &&
        memcmp(v, "unavailable", 11) == 0) { /* "the events could not be read; retry" */
        sm.sync_retries++;
        storm_sync(c, cl, cl->req);
        return 0;
    }
    if (type_is(d, n, "error")) {
        note_first(c, "sync refused: %.*s", (int)(n < 160 ? n : 160), d);
        return conn_fail(c, E_PROTO);
    }
    g.other_frames++; /* presence, typing, conversation.updated: not expected here */
    return 0;
}

static int storm_frame(struct conn *c, const char *d, size_t n)
{
    if ((int)c->idx < sm.P) {
        if (c->state == CS_WAIT_HELLO) {
            set_ready(c);
            g.other_frames++;
            return 0;
        }
        return storm_peer_frame(c, d, n);
    }
    return storm_client_frame(c, d, n);
}

/* A connection failed (called by conn_fail): a client that had not caught up never will. */
static void storm_on_fail(struct conn *c)
{
    if ((int)c->idx < sm.P || sm.phase != SP_STORM)
        return;
    struct st_client *cl = &sm.cl[c->idx - (uint32_t)sm.P];
    if (!cl->done && !cl->dead) {
        cl->dead = true;
        sm.dead++;
    }
}

/* Connects g.c[lo..hi) (256 handshakes in flight) until each is ready or failed. */
static void storm_connect(int lo, int hi, int64_t deadline)
{
    int next = lo, ready0 = g.ready_ever, failed0 = g.failed_setup;
    while (!g_stop) {
        while (g.in_flight < 256 && next < hi)
            start_connect(&g.c[next++]);
        if ((g.ready_ever - ready0) + (g.failed_setup - failed0) >= hi - lo || now_ns() >= deadline)
            break;
        loop_once(deadline);
    }
    for (int i = lo; i < hi; i++) {
        struct conn *c = &g.c[i];
        if (c->state == CS_CONNECTING || c->state == CS_HANDSHAKE || c->state == CS_WAIT_HELLO ||
            c->state == CS_NEW)
            conn_fail(c, E_TIMEOUT);
    }
}

/* Phases 1 and 3: every peer sends its share; returns when all are answered (or timeout). */
static void storm_sends(int phase, int64_t deadline)
{
    sm.phase = phase;
    for (int p = 0; p < sm.P; p++) {
        struct st_peer *pe = &sm.pe[p];
        pe->next = 0;
        pe->total = phase == SP_PREPARE ? pe->nclients : pe->nclients * (uint32_t)g.o.missed;
        storm_pump(p);
    }
    while (!g_stop && now_ns() < deadline) {
        bool busy = false;
        for (int p = 0; p < sm.P && !busy; p++) {
            struct st_peer *pe = &sm.pe[p];
            busy = g.c[p].state == CS_READY && (pe->next < pe->total || pe->outstanding > 0);
        }
        if (!busy)
            break;
        loop_once(deadline);
    }
}

/* Starts the HWM over: writing 5 to /proc/PID/clear_refs resets VmHWM to the current RSS. */
static bool reset_hwm(void)
{
    bool ok = g.o.npids > 0;
    for (int i = 0; i < g.o.npids; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/clear_refs", g.o.pids[i]);
        FILE *f = fopen(path, "w");
        if (f == NULL) {
            ok = false;
            continue;
        }
        fputs("5", f);
        if (fclose(f) != 0)
            ok = false;
    }
    return ok;
}

static int run_storm(void)
{
    int P = g.o.peers, N = g.o.clients;
    sm.P = P;
    sm.N = N;
    sm.cl = calloc((size_t)N, sizeof *sm.cl);
    sm.pe = calloc((size_t)P, sizeof *sm.pe);
    if (sm.cl == NULL || sm.pe == NULL)
        die("out of memory for %d clients", N);
    for (int p = 0; p < P; p++)
        sm.pe[p].nclients = (uint32_t)((N - p + P - 1) / P);
    static const char words[] = "see you at the usual place tomorrow, and bring the order list ";
    for (int i = 0; i < g.o.size; i++)
        sm.text[i] = words[(size_t)i % (sizeof words - 1)];
    sm.text[g.o.size] = '\0';

    /* 1: the peers connect and open a direct conversation with each of their clients */
    int64_t t_prep = now_ns();
    sm.phase = SP_PREPARE;
    storm_connect(0, P, t_prep + (int64_t)(g.o.setup_timeout * 1e9));
    int peers_up = g.nready;
    if (peers_up > 0)
        storm_sends(SP_PREPARE, now_ns() + (int64_t)(g.o.setup_timeout * 1e9));
    double prep_s = (double)(now_ns() - t_prep) / 1e9;

    /* 2: the clients connect, keep their hello's cursor and go offline */
    int64_t t_cur = now_ns();
    sm.phase = SP_CURSOR;
    if (peers_up > 0)
        storm_connect(P, P + N, t_cur + (int64_t)(g.o.setup_timeout * 1e9));
    double cursor_s = (double)(now_ns() - t_cur) / 1e9;
    for (int i = P; i < P + N; i++) {
        struct conn *c = &g.c[i];
        conn_leave(c);
        c->state = CS_NEW;
        c->ever_ready = false;
    }
    int64_t t_offline = now_ns();

    /* 3: what they miss, round by round */
    int64_t t_send = now_ns();
    if (peers_up > 0)
        storm_sends(SP_OFFLINE, t_send + (int64_t)(g.o.setup_timeout * 1e9));
    double send_s = (double)(now_ns() - t_send) / 1e9;
    int64_t back = t_offline + (int64_t)(g.o.offline * 1e9);
    g.now = now_ns();
    while (!g_stop && g.now < back)
        loop_once(back);

    /* 4: the storm */
    int eligible = 0;
    for (int i = 0; i < N; i++)
        eligible += sm.cl[i].cursor_ok && sm.cl[i].conv[0] != '\0';
    bool hwm_reset = reset_hwm();
    long rss0 = proc_status_kib("VmRSS:"), peak = rss0;
    struct cpu_mark m0 = {0}, m1 = {0};
    cpu_mark(&m0);
    sm.phase = SP_STORM;
    int64_t t0 = now_ns(), deadline = t0 + (int64_t)(g.o.timeout * 1e9), sample = t0;
    int next = 0, connected0 = g.ready_ever;
    int64_t progress = t0 + 10 * NS_PER_S;
    g.now = t0;
    while (!g_stop && eligible > 0) {
        while ((g.o.conc == 0 || g.in_flight < g.o.conc) && next < N) {
            struct st_client *cl = &sm.cl[next];
            struct conn *c = &g.c[P + next++];
            if (!cl->cursor_ok || cl->conv[0] == '\0')
                continue;
            cl->t_start = now_ns();
            start_connect(c);
        }
        g.now = now_ns();
        if (g.now >= sample) {
            long r = proc_status_kib("VmRSS:");
            if (r > peak)
                peak = r;
            sample = g.now + 50 * NS_PER_MS;
        }
        if (g.now >= progress) { /* a long storm says how far it is */
            fprintf(stderr,
                    "herald-bench storm: %.0f s: %" PRIu64 " of %d caught up, %d reconnected\n",
                    (double)(g.now - t0) / 1e9, sm.done, eligible, g.ready_ever - connected0);
            progress += 10 * NS_PER_S;
        }
        if ((int)(sm.done + sm.dead) >= eligible || g.now >= deadline)
            break;
        loop_once(deadline < sample ? deadline : sample);
    }
    cpu_mark(&m1);
    int64_t t_end = now_ns();
    long rss1 = proc_status_kib("VmRSS:"), hwm = proc_status_kib("VmHWM:");
    if (rss1 > peak)
        peak = rss1;
    int hellos = g.ready_ever - connected0;
    close_all();

    uint64_t exact = 0, wrong = 0, dups = 0, foreign = 0, incomplete = 0, short_sends = 0;
    for (int i = 0; i < N; i++) {
        struct st_client *cl = &sm.cl[i];
        short_sends += cl->conv[0] != '\0' && cl->ok != (uint32_t)g.o.missed;
        dups += cl->dup;
        foreign += cl->foreign;
        incomplete += cl->incomplete;
        if (!cl->done)
            continue;
        if (cl->got == cl->ok && cl->ok == (uint32_t)g.o.missed && cl->dup == 0 && cl->foreign == 0)
            exact++;
        else
            wrong++;
    }
    double storm_s = (double)(t_end - t0) / 1e9;
    char title[MAX_PATH_LEN + 400];
    snprintf(title, sizeof title, "ws://%s%s  clients %d, peers %d, %d missed each, conc %s",
             g.hostport, g.o.path, N, P, g.o.missed, g.o.conc ? "limited" : "all at once");
    out_begin(title);
    out_str("host", NULL, g.o.host);
    out_num("port", NULL, g.o.port, 0, NULL);
    out_num("clients", NULL, N, 0, NULL);
    out_num("peers", NULL, P, 0, NULL);
    out_num("missed", NULL, g.o.missed, 0, NULL);
    out_num("size", NULL, g.o.size, 0, NULL);
    out_num("conc", NULL, g.o.conc, 0, NULL);
    out_num("peers_connected", "peers connected", peers_up, 0, NULL);
    out_num("conversations", "conversations opened", (double)sm.prepare_ok, 0, NULL);
    out_num("prepare_s", "phase 1 (peers, convs)", prep_s, 3, "s");
    out_num("cursor_s", "phase 2 (cursors)", cursor_s, 3, "s");
    out_num("sent", "phase 3 sends ok", (double)sm.send_ok, 0, NULL);
    out_num("send_errors", "phase 3 send errors",
            (double)(sm.send_err + sm.prepare_err + sm.unattributed), 0, NULL);
    out_num("send_s", "phase 3 time", send_s, 3, "s");
    out_num("send_rate", "phase 3 rate", send_s > 0 ? (double)sm.send_ok / send_s : NAN, 0,
            "msg/s");
    out_num("clients_short", "clients missing sends", (double)short_sends, 0, NULL);
    out_num("eligible", "clients in the storm", eligible, 0, NULL);
    out_num("reconnected", "reconnected (hello)", hellos, 0, NULL);
    out_num("caught_up", "caught up", (double)sm.done, 0, NULL);
    out_num("not_caught_up", "not caught up", (double)(N - (int)sm.done), 0, NULL);
    out_num("all_caught_up_s", "all caught up after",
            (int)sm.done == N ? (double)(sm.last_done - t0) / 1e9 : NAN, 3, "s");
    out_num("storm_s", NULL, storm_s, 3, NULL);
    out_num("catchup_p50_ms", "catch-up p50", hist_ms(&g.h, 0.50), 1, "ms");
    out_num("catchup_p90_ms", "catch-up p90", hist_ms(&g.h, 0.90), 1, "ms");
    out_num("catchup_p99_ms", "catch-up p99", hist_ms(&g.h, 0.99), 1, "ms");
    out_num("catchup_max_ms", "catch-up max", g.h.n ? (double)g.h.max / 1e6 : NAN, 1, "ms");
    out_num("hello_p50_ms", "connect to hello p50", hist_ms(&sm.hello, 0.50), 1, "ms");
    out_num("hello_p99_ms", "connect to hello p99", hist_ms(&sm.hello, 0.99), 1, "ms");
    out_num("sync_requests", "sync requests", (double)sm.pages, 0, NULL);
    out_num("sync_retries", NULL, (double)sm.sync_retries, 0, NULL);
    out_num("events", "message.new received", (double)sm.events, 0, NULL);
    out_num("exact", "exactly their missed", (double)exact, 0, NULL);
    out_num("wrong_count", "wrong count", (double)wrong, 0, NULL);
    out_num("duplicates", "duplicates", (double)dups, 0, NULL);
    out_num("foreign", NULL, (double)foreign, 0, NULL);
    out_num("incomplete", NULL, (double)incomplete, 0, NULL);
    out_num("other_frames", NULL, (double)g.other_frames, 0, NULL);
    out_num("rss_before_kib", "server RSS before storm", rss0 < 0 ? NAN : (double)rss0, 0, "KiB");
    out_num("rss_peak_kib", "server RSS peak (50 ms)", peak < 0 ? NAN : (double)peak, 0, "KiB");
    out_num("hwm_kib", "server VmHWM in storm", hwm_reset && hwm >= 0 ? (double)hwm : NAN, 0,
            "KiB");
    out_num("rss_after_kib", "server RSS after storm", rss1 < 0 ? NAN : (double)rss1, 0, "KiB");
    out_num("client_cpu_pct", "client cpu", cpu_pct(&m0, &m1, false), 1, "%");
    out_num("server_cpu_pct", "server cpu", cpu_pct(&m0, &m1, true), 1, "%");
    out_num("steal_pct", "machine steal", steal_pct(&m0, &m1), 1, "%");
    out_num("others_cpu_pct", "other processes' cpu", others_pct(&m0, &m1), 1, "%");
    out_errors();
    if (sm.first_send_err[0] != '\0')
        fprintf(stderr, "herald-bench: first send error: %s\n", sm.first_send_err);
    out_end();
    free(sm.cl);
    free(sm.pe);
    return (int)exact == N ? 0 : 1;
}

/* ---------------------------------------------------------------- selftest */

static int st_pass, st_fail;

static void check(bool ok, const char *what)
{
    if (ok) {
        st_pass++;
    } else {
        st_fail++;
        printf("FAIL %s\n", what);
    }
}

/* Appends an unmasked server frame to b. */
static size_t st_frame(uint8_t *b, unsigned b0, const char *pay, size_t len)
{
    size_t h = 0;
    b[h++] = (uint8_t)b0;
    if (len < 126) {
        b[h++] = (uint8_t)len;
    } else if (len <= 0xffff) {
        b[h++] = 126;
        b[h++] = (uint8_t)(len >> 8);
        b[h++] = (uint8_t)len;
    } else {
        b[h++] = 127;
        for (int i = 7; i >= 0; i--)
            b[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(b + h, pay, len);
    return h + len;
}

/* Feeds WebSocket and HTTP byte streams through the parsers one byte at a time and whole. */
static void selftest_streams(void)
{
    static struct conn tc;
    static uint32_t arr[4];
    static char big[70000];
    static uint8_t ws[75000];
    memset(big, 'b', sizeof big);
    g.c = &tc;
    g.n = 1;
    g.dirty = arr;
    g.ready = arr + 2;

    size_t n = 0;
    n += st_frame(ws + n, 0x81, big, 300);        /* 16-bit length */
    n += st_frame(ws + n, 0x01, "{\"a\":", 5);    /* fragment 1 */
    n += st_frame(ws + n, 0x89, "hi", 2);         /* ping between fragments */
    n += st_frame(ws + n, 0x80, "1}", 2);         /* last fragment */
    n += st_frame(ws + n, 0x82, big, sizeof big); /* 64-bit length */
    n += st_frame(ws + n, 0x81, "", 0);           /* empty message */
    for (int pass = 0; pass < 2; pass++) {
        memset(&tc, 0, sizeof tc);
        tc.fd = -1;
        tc.state = CS_READY;
        tc.ps = PS_WS_HDR;
        g.o.mode = M_WS_IDLE;
        g.nready = 1;
        g.ready[0] = 0;
        g.other_frames = g.server_pings = 0;
        bool ok = true;
        if (pass == 0) {
            for (size_t i = 0; i < n && ok; i++)
                ok = ws_feed(&tc, ws + i, 1) == 0;
        } else {
            ok = ws_feed(&tc, ws, n) == 0;
        }
        check(ok && g.other_frames == 4 && g.server_pings == 1,
              pass ? "ws frames in one read" : "ws frames byte by byte");
        check(tc.out_len == 2 + 4 + 2 && ((uint8_t)tc.out[0]) == 0x8A &&
                  ((uint8_t)tc.out[1]) == 0x82 && (tc.out[6] ^ tc.out[2]) == 'h',
              "masked pong answers the ping");
        free(tc.out);
        free(tc.acc);
    }
    static const uint8_t masked[] = {0x81, 0x81, 1, 2, 3, 4, 'x'};
    memset(&tc, 0, sizeof tc);
    tc.fd = -1;
    tc.state = CS_READY;
    g.nready = 1;
    check(ws_feed(&tc, masked, sizeof masked) < 0 && g.err[E_PROTO] == 1,
          "masked server frame refused");

    /* two responses; the second is only expected once the first is complete */
    static const char *const resp[2] = {
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;x=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: t\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop"};
    for (int pass = 0; pass < 2; pass++) {
        memset(&tc, 0, sizeof tc);
        tc.fd = -1;
        tc.state = CS_READY;
        tc.ps = PS_H_HEAD;
        tc.busy = true;
        g.o.mode = M_HTTP;
        g.now = 0;
        g.win_start = g.win_end = 0; /* nothing counted, no new request sent */
        int done = 0, statuses = 0;
        bool ok = true;
        for (int r = 0; r < 2; r++) {
            size_t len = strlen(resp[r]), step = pass == 0 ? 1 : len;
            for (size_t i = 0; i < len && ok; i += step) {
                ok = http_feed(&tc, (const uint8_t *)resp[r] + i, step) == 0;
                if (!tc.busy) { /* a response completed: ask for the next */
                    done++;
                    statuses += tc.status;
                    tc.busy = true;
                }
            }
        }
        check(ok && done == 2 && statuses == 200 + 404 && tc.ps == PS_H_HEAD,
              pass ? "http responses in one read" : "http responses byte by byte");
        free(tc.acc);
    }
    memset(&g, 0, sizeof g);
}

static int run_selftest(void)
{
    uint8_t d[20];
    char hex[41], b64[64];
    static const char *const vec[][2] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        sha1(vec[i][0], strlen(vec[i][0]), d);
        for (int k = 0; k < 20; k++)
            snprintf(hex + 2 * k, 3, "%02x", d[k]);
        check(strcmp(hex, vec[i][1]) == 0, "sha1 vector");
    }
    base64_encode((const uint8_t *)"foobar", 6, b64);
    check(strcmp(b64, "Zm9vYmFy") == 0, "base64 foobar");
    base64_encode((const uint8_t *)"fooba", 5, b64);
    check(strcmp(b64, "Zm9vYmE=") == 0, "base64 fooba");
    base64_encode((const uint8_t *)"foob", 4, b64);
    check(strcmp(b64, "Zm9vYg==") == 0, "base64 foob");
    char acc[29];
    ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
    check(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "RFC 6455 accept example");

    static struct hist h;
    for (int64_t v = 1; v <= 100000; v++)
        hist_add(&h, v * 1000); /* 1 us .. 100 ms */
    double p50 = hist_ms(&h, 0.5), p99 = hist_ms(&h, 0.99);
    check(fabs(p50 - 50.0) / 50.0 < 0.01, "histogram p50");
    check(fabs(p99 - 99.0) / 99.0 < 0.01, "histogram p99");
    check(hist_ms(&h, 1.0) == 100.0, "histogram max");
    for (unsigned i = 128; i < 57 * 64 + 128; i++)
        if (hist_idx(hist_mid(i)) != i) {
            check(false, "histogram index round trip");
            break;
        }

    uint64_t s, ns;
    check(parse_id("12-345", 6, &s, &ns) && s == 12 && ns == 345, "id parse");
    check(!parse_id("12-", 3, &s, &ns) && !parse_id("-5", 2, &s, &ns), "id reject");
    const char *v;
    size_t vn;
    static const char js[] = "{\"type\": \"pong\", \"id\" : \"7-99\"}";
    check(json_str_field(js, sizeof js - 1, "id", &v, &vn) && vn == 4 && memcmp(v, "7-99", 4) == 0,
          "json id field");
    struct resp_head rh;
    static const char hd[] = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\n";
    check(parse_head(hd, sizeof hd - 1, &rh) == 0 && rh.status == 200 && rh.has_len &&
              rh.len == 15 && rh.close,
          "response head");
    check(head_end(hd, sizeof hd - 1, 0) == sizeof hd - 1, "head end");
    int ci;
    uint64_t k;
    sm.N = 10;
    check(storm_msg_id("c3-7", 4, &ci, &k) && ci == 3 && k == 7, "storm client_msg_id");
    check(!storm_msg_id("c10-1", 5, &ci, &k) && !storm_msg_id("x3-1", 4, &ci, &k),
          "storm client_msg_id reject");
    check(storm_cursor("1234", 4) == 1234 && storm_cursor("", 0) < 0 &&
              storm_cursor("12a", 3) < 0 && storm_cursor("1234567890123456789", 19) < 0,
          "storm cursor");
    static const char sd[] =
        "{\"type\":\"sync.done\",\"cursor\":\"42\",\"has_more\":true,\"complete\":true}";
    check(type_is(sd, sizeof sd - 1, "sync.done") && !type_is(sd, sizeof sd - 1, "sync") &&
              json_str_field(sd, sizeof sd - 1, "cursor", &v, &vn) && storm_cursor(v, vn) == 42,
          "storm sync.done fields");
    sm.N = 0;
    selftest_streams();
    printf("%d passed, %d failed\n", st_pass, st_fail);
    return st_fail ? 1 : 0;
}

/* ---------------------------------------------------------------- main */

static void resolve_target(void)
{
    char h[256];
    const char *host = g.o.host;
    size_t hl = strlen(host);
    if (hl >= sizeof h)
        die("--host too long");
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memcpy(h, host + 1, hl - 2);
        h[hl - 2] = '\0';
    } else {
        strcpy(h, host);
    }
    if (strcmp(h, "localhost") == 0)
        strcpy(h, "127.0.0.1");
    memset(&g.addr, 0, sizeof g.addr);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&g.addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&g.addr;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            die("--host %s is not a loopback address: this tool only loads 127.0.0.0/8 or ::1",
                g.o.host);
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)g.o.port);
        g.alen = sizeof *a4;
        snprintf(g.hostport, sizeof g.hostport, "%s:%d", h, g.o.port);
    } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
            die("--host %s is not a loopback address: this tool only loads 127.0.0.0/8 or ::1",
                g.o.host);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)g.o.port);
        g.alen = sizeof *a6;
        snprintf(g.hostport, sizeof g.hostport, "[%s]:%d", h, g.o.port);
    } else {
        die("--host must be a loopback address (127.0.0.0/8, ::1 or localhost), got '%s'",
            g.o.host);
    }
}

/* Reads --tokens: one 'USER_ID TOKEN' per line (blank lines skipped); at least `need`. */
static void load_tokens(int need)
{
    FILE *f = fopen(g.o.tokens, "r");
    if (f == NULL)
        die("--tokens %s: %s", g.o.tokens, strerror(errno));
    char line[4096];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *id = strtok_r(line, " \t\r\n", &save);
        char *tok = id ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        if (id == NULL)
            continue;
        if (tok == NULL || strlen(tok) > MAX_PATH_LEN / 2 || strlen(id) > 64)
            die("--tokens %s: line %d is not 'USER_ID TOKEN'", g.o.tokens, g.ntok + 1);
        if (g.ntok == cap) {
            cap = cap ? cap * 2 : 1024;
            g.tok_user = xrealloc(g.tok_user, (size_t)cap * sizeof *g.tok_user);
            g.tok = xrealloc(g.tok, (size_t)cap * sizeof *g.tok);
        }
        g.tok_user[g.ntok] = strdup(id);
        g.tok[g.ntok] = strdup(tok);
        if (g.tok_user[g.ntok] == NULL || g.tok[g.ntok] == NULL)
            die("out of memory");
        g.ntok++;
    }
    fclose(f);
    if (g.ntok < need)
        die("--tokens %s: %d lines, %d needed", g.o.tokens, g.ntok, need);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)g.o.conns + 64 > rl.rlim_cur)
        die("--conns %d needs more open files than the limit allows (%llu); lower --conns",
            g.o.conns, (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
    parse_args(&g.o, argc, argv);
    if (g.o.mode == M_SELFTEST)
        return run_selftest();
    out_json = g.o.json;
    resolve_target();
    if (g.o.tokens != NULL)
        load_tokens(g.o.conns);
    raise_nofile();
    rng_seed();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    g.n = g.o.conns;
    g.c = calloc((size_t)g.n, sizeof *g.c);
    g.dirty = calloc((size_t)g.n, sizeof *g.dirty);
    g.ready = calloc((size_t)g.n, sizeof *g.ready);
    g.starved = calloc((size_t)g.n, sizeof *g.starved);
    g.rbuf = malloc(RBUF_SIZE);
    if (!g.c || !g.dirty || !g.ready || !g.starved || !g.rbuf)
        die("out of memory for %d connections", g.n);
    for (int i = 0; i < g.n; i++) {
        g.c[i].fd = -1;
        g.c[i].idx = (uint32_t)i;
    }
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if (g.ep < 0)
        die("epoll_create1: %s", strerror(errno));
    g.pwait2 = true;
    g.win_start = g.win_end = INT64_MAX;
    g.send_end = INT64_MAX;
    int n = snprintf(g.req, sizeof g.req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: herald-bench\r\n\r\n", g.o.path,
                     g.hostport);
    g.req_len = (size_t)n;

    int rc = 1;
    switch (g.o.mode) {
    case M_HTTP:
        rc = run_http();
        break;
    case M_WS_IDLE:
        rc = run_ws_idle();
        break;
    case M_WS_PING:
    case M_RAW_ECHO:
        rc = run_ping();
        break;
    case M_FANOUT:
        rc = run_fanout();
        break;
    case M_STORM:
        rc = run_storm();
        break;
    case M_NOTIFY:
        rc = run_notify();
        break;
    case M_SELFTEST:
        break;
    }
    for (int i = 0; i < g.n; i++) {
        free(g.c[i].acc);
        free(g.c[i].out);
    }
    free(g.c);
    free(g.dirty);
    free(g.ready);
    free(g.starved);
    free(g.rbuf);
    for (int i = 0; i < g.ntok; i++) {
        free(g.tok_user[i]);
        free(g.tok[i]);
    }
    free(g.tok_user);
    free(g.tok);
    close(g.ep);
    return rc;
}
