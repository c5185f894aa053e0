/*
 * Configuration loading (README, "Configuration"). One table below describes every setting:
 * its HERALD_* name (the flag name is derived from it), type, range, default,
 * whether it is secret, and one line of help. Loading, validation, check-config
 * output and --help all walk that table, so a new setting is one new row.
 * Layers are applied in order, each over the previous: defaults, .env, the
 * environment, flags. Errors name the setting as the user wrote it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "cidr.h"
#include "log.h"
#include "pg_url.h"
#include "redis_url.h"
#include "xalloc.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define SEC_MS 1000ll
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * (int64_t)HOUR_MS)

#define ENV_PREFIX "HERALD_"
#define ENV_PREFIX_LEN 7
#define ENV_FILE_MAX (1u << 20) /* a .env file larger than this is a mistake */
#define WORKERS_MAX 64

enum setting_type {
    T_LISTEN,   /* host:port into listen_host + listen_port */
    T_INT,      /* decimal integer in [min, max] */
    T_SIZE,     /* config_parse_size in [min, max] bytes */
    T_DURATION, /* config_parse_duration in [min, max] ms, stored as int ms */
    T_BOOL,     /* config_parse_bool */
    T_ENUM,     /* one of names[], stored as its index */
    T_STRING,   /* any non-empty string */
    T_ORIGINS,  /* "", "*" or a comma list of scheme://host[:port], normalized */
    T_CIDRS,    /* a comma list of IP addresses and CIDR blocks, normalized */
    T_BASEURL,  /* "" or http(s)://host[:port][/path], no query; normalized, no final '/' */
};

/* The C type of the field a setting writes. */
enum storage { S_INT, S_BOOL, S_SIZE, S_STR };

struct setting {
    const char *env; /* HERALD_NAME; the flag is --name */
    enum setting_type type;
    size_t off; /* offset of the field in struct config */
    enum storage store;
    int64_t min, max;         /* T_INT, T_SIZE, T_DURATION */
    const char *const *names; /* T_ENUM: accepted values, NULL-terminated */
    const char *what;         /* T_ENUM: what a value is called in errors ("level") */
    const char *def;          /* default as a user would write it; NULL: computed */
    bool secret;              /* masked by config_print */
    const char *metavar;      /* value placeholder in --help */
    const char *help;         /* one line */
};

/*
 * offsetof() plus a compile-time check that the field has type T: comparing
 * distinct pointer types is a diagnostic, an error under -Werror.
 */
#define FIELD(f, T) (offsetof(struct config, f) + 0 * sizeof((T *)0 == &((struct config *)0)->f))
#define F_INT(f) .off = FIELD(f, int), .store = S_INT
#define F_BOOL(f) .off = FIELD(f, bool), .store = S_BOOL
#define F_SIZE(f) .off = FIELD(f, size_t), .store = S_SIZE
#define F_STR(f) .off = FIELD(f, char *), .store = S_STR

/* Indexed by enum log_level. */
static const char *const level_names[] = {"debug", "info", "warn", "error", "off", NULL};
_Static_assert(LOG_DEBUG == 0 && LOG_INFO == 1 && LOG_WARN == 2 && LOG_ERROR == 3 && LOG_OFF == 4,
               "level_names follows enum log_level");
/* Indexed by enum store_durability. */
static const char *const durability_names[] = {"normal", "strict", NULL};
/* Index 1 ("json") sets log_json. */
static const char *const format_names[] = {"text", "json", NULL};

/* Rows of the table: numbers with a range, plain values, and enums. */
#define NUM(env_, type_, field_, min_, max_, def_, metavar_, help_)                                \
    {                                                                                              \
        .env = env_, .type = type_, field_, .min = min_, .max = max_, .def = def_,                 \
        .metavar = metavar_, .help = help_                                                         \
    }
#define VAL(env_, type_, field_, def_, metavar_, help_)                                            \
    {                                                                                              \
        .env = env_, .type = type_, field_, .def = def_, .metavar = metavar_, .help = help_        \
    }
#define ENUM(env_, field_, names_, what_, def_, metavar_, help_)                                   \
    {                                                                                              \
        .env = env_, .type = T_ENUM, field_, .names = names_, .what = what_, .def = def_,          \
        .metavar = metavar_, .help = help_                                                         \
    }
/*
 * A secret (a future HERALD_JWT_SECRET) is a row with .secret = true:
 *   {.env = "HERALD_JWT_SECRET", .type = T_STRING, F_STR(jwt_secret), .secret = true, ...}
 * config_print shows it through config_mask_secret().
 */

static const struct setting settings[] = {
    /* network */
    VAL("HERALD_LISTEN", T_LISTEN, F_STR(listen_host), "0.0.0.0:8080", "ADDR",
        "host:port, :port, [ipv6]:port or port to listen on (port 0: any)"),
    NUM("HERALD_WORKERS", T_INT, F_INT(workers), 1, WORKERS_MAX, NULL, "N",
        "event-loop threads accepting connections"),
    NUM("HERALD_MAX_CONNECTIONS", T_INT, F_INT(max_connections), 1, 1000000, "60000", "N",
        "open connections; further ones are refused"),
    /* HTTP limits */
    NUM("HERALD_MAX_URL", T_SIZE, F_SIZE(max_url), 256, MIB, "8KiB", "SIZE",
        "longest request target (longer: 414)"),
    NUM("HERALD_MAX_HEADER_BYTES", T_SIZE, F_SIZE(max_header_bytes), KIB, MIB, "32KiB", "SIZE",
        "total bytes of request headers (more: 431)"),
    NUM("HERALD_MAX_HEADERS", T_INT, F_INT(max_headers), 8, 1000, "100", "N",
        "number of request headers (more: 431)"),
    NUM("HERALD_MAX_BODY", T_SIZE, F_SIZE(max_body), KIB, GIB, "1MiB", "SIZE",
        "largest JSON request body (larger: 413)"),
    NUM("HERALD_HEADER_TIMEOUT", T_DURATION, F_INT(header_timeout_ms), 100, 10 * MIN_MS, "10s",
        "DURATION", "time allowed for a request head to arrive"),
    NUM("HERALD_IDLE_TIMEOUT", T_DURATION, F_INT(idle_timeout_ms), 100, HOUR_MS, "60s", "DURATION",
        "keep-alive idle time before a connection is closed"),
    VAL("HERALD_CORS_ORIGINS", T_ORIGINS, F_STR(cors_origins), "", "ORIGINS",
        "browser origins: * or scheme://host[:port],...; empty: same origin"),
    VAL("HERALD_STATIC_DIR", T_STRING, F_STR(static_dir), NULL, "DIR",
        "folder of UI files served instead of the built-in web UI"),
    VAL("HERALD_APP_TITLE", T_STRING, F_STR(app_title), "Herald", "TEXT",
        "product name shown by the web UI (title, sign-in page)"),
    VAL("HERALD_APP_DESCRIPTION", T_STRING, F_STR(app_description), NULL, "TEXT",
        "one line shown under the title by the web UI"),
    VAL("HERALD_TRUST_PROXY", T_BOOL, F_BOOL(trust_proxy), "false", "BOOL",
        "client address from X-Forwarded-For (see --trusted-proxies)"),
    VAL("HERALD_TRUSTED_PROXIES", T_CIDRS, F_STR(trusted_proxies), "127.0.0.0/8,::1/128", "CIDRS",
        "addresses/CIDR blocks of the proxies whose X-Forwarded-For counts"),
    /* WebSocket */
    NUM("HERALD_WS_MAX_MESSAGE", T_SIZE, F_SIZE(ws_max_message), 125, 64 * MIB, "64KiB", "SIZE",
        "largest WebSocket message (larger: close 1009)"),
    NUM("HERALD_WS_MAX_QUEUE", T_SIZE, F_SIZE(ws_max_queue), 4 * KIB, GIB, "1MiB", "SIZE",
        "output bytes queued per WebSocket before it is closed (1008)"),
    NUM("HERALD_WS_HEARTBEAT", T_DURATION, F_INT(ws_heartbeat_ms), 100, HOUR_MS, "30s", "DURATION",
        "WebSocket ping interval; a peer is dead after two missed"),
    /* storage and identity */
    VAL("HERALD_DATA_DIR", T_STRING, F_STR(data_dir), "./data", "DIR",
        "folder for the database and uploads (created 0700)"),
    VAL("HERALD_DATABASE_URL", T_STRING, F_STR(database_url), NULL, "URL",
        "sqlite:PATH or postgres://...; default sqlite:DATA_DIR/herald.db"),
    {.env = "HERALD_REDIS_URL",
     .type = T_STRING,
     F_STR(redis_url),
     .secret = true,
     .metavar = "URL",
     .help = "redis://[:PASS@]HOST[:PORT][/DB] for several nodes (unset: one)"},
    ENUM("HERALD_DURABILITY", F_INT(durability), durability_names, "mode", "normal", "MODE",
         "normal: commits survive a crash; strict: also power loss (fsync)"),
    {.env = "HERALD_JWT_SECRET",
     .type = T_STRING,
     F_STR(jwt_secret),
     .secret = true,
     .metavar = "SECRET",
     .help = "token signing key, 32+ bytes (default: generated DATA_DIR/jwt.key)"},
    NUM("HERALD_ACCESS_TTL", T_DURATION, F_INT(access_ttl_ms), 1000, 7 * 24 * HOUR_MS, "15m",
        "DURATION", "lifetime of user and app access tokens"),
    {.env = "HERALD_REFRESH_TTL",
     .type = T_DURATION,
     F_SIZE(refresh_ttl_ms),
     .min = 60 * 1000,
     .max = 365 * DAY_MS,
     .def = "30d",
     .metavar = "DURATION",
     .help = "lifetime of end-user refresh tokens (rotated on every use)"},
    {.env = "HERALD_OPERATOR_TTL",
     .type = T_DURATION,
     F_SIZE(operator_ttl_ms),
     .min = 60 * 1000,
     .max = 90 * DAY_MS,
     .def = "7d",
     .metavar = "DURATION",
     .help = "lifetime of console (operator) tokens"},
    {.env = "HERALD_ENCRYPTION_KEY",
     .type = T_STRING,
     F_STR(encryption_key),
     .secret = true,
     .metavar = "KEY",
     .help = "secrets-at-rest key, hex/base64 (default: DATA_DIR/encryption.key)"},
    /* chat */
    NUM("HERALD_MAX_MESSAGE_CHARS", T_INT, F_INT(max_message_chars), 1, 100000, "4000", "N",
        "characters of a text message (more: 422)"),
    NUM("HERALD_HISTORY_DAYS", T_INT, F_INT(history_days), 0, 100000, "0", "N",
        "days of chat messages and events kept (0: forever)"),
    NUM("HERALD_PRESENCE_GRACE", T_DURATION, F_INT(presence_grace_ms), 0, MIN_MS, "5s", "DURATION",
        "a user stays online this long after their last connection closed"),
    NUM("HERALD_SUPPORT_CAPACITY", T_INT, F_INT(support_capacity), 0, 100000, "0", "N",
        "open support conversations given to one agent (0: no limit)"),
    NUM("HERALD_RECALL_WINDOW", T_DURATION, F_INT(recall_window_ms), 0, 7 * DAY_MS, "2m",
        "DURATION", "a sender may recall a chat message this long after sending it"),
    /* notifications (docs/notifications.md) */
    {.env = "HERALD_IDEMPOTENCY_WINDOW",
     .type = T_DURATION,
     F_SIZE(idempotency_window_ms),
     .min = SEC_MS,
     .max = 30 * DAY_MS,
     .def = "24h",
     .metavar = "DURATION",
     .help = "a repeated notification idempotency key replays this long"},
    /* uploads (docs/uploads.md) */
    NUM("HERALD_MAX_UPLOAD", T_SIZE, F_SIZE(max_upload), 1, 64 * GIB, "10MiB", "SIZE",
        "largest uploaded file (larger: 413)"),
    VAL("HERALD_UPLOAD_TYPES", T_STRING, F_STR(upload_types), NULL, "MIMES",
        "file types accepted by content (else 415); default docs/uploads.md"),
    NUM("HERALD_UPLOAD_RATE", T_INT, F_INT(upload_rate), 0, 100000, "30", "N",
        "uploads per user per minute (more: 429; 0: no limit)"),
    VAL("HERALD_BASE_URL", T_BASEURL, F_STR(base_url), "", "URL",
        "prefix of absolute media URLs (a CDN); empty: from the request Host"),
    VAL("HERALD_DEMO", T_BOOL, F_BOOL(demo), "false", "BOOL", "demo mode (never in production)"),
    VAL("HERALD_ALLOW_PRIVATE_TARGETS", T_BOOL, F_BOOL(allow_private_targets), "false", "B",
        "HTTP channels may reach private/loopback addresses"),
    /* logs */
    ENUM("HERALD_LOG_LEVEL", F_INT(log_level), level_names, "level", "info", "LEVEL",
         "least severe log lines written"),
    ENUM("HERALD_LOG_FORMAT", F_BOOL(log_json), format_names, "format", "text", "FORMAT",
         "log lines as text or JSON"),
    NUM("HERALD_SHUTDOWN_TIMEOUT", T_DURATION, F_INT(shutdown_timeout_ms), 100, 10 * MIN_MS, "10s",
        "DURATION", "time to finish in-flight work after SIGTERM"),
    NUM("HERALD_BUSY_POLL_US", T_INT, F_INT(busy_poll_us), 0, 10000, "50", "MICROSECONDS",
        "keep polling this long after I/O before sleeping (0: never spin)"),
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static FILE *g_warn;

/* ---- small helpers */

static bool is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_space(int ch)
{
    return ch == ' ' || ch == '\t';
}

static char to_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes one line to err; returns -1 for `return fail(...)`. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warn(const char *fmt, ...)
{
    FILE *f = g_warn ? g_warn : stderr;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fflush(f);
}

/*
 * A user value made safe for a one-line message: control bytes escaped,
 * quotes escaped, long values cut with "...". With quotes, wrapped in "".
 */
struct shown {
    char s[80];
};

static const char *show(struct shown *q, const char *v, size_t n, bool quotes)
{
    size_t o = 0;
    if (quotes)
        q->s[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (o > sizeof(q->s) - 10) {
            memcpy(q->s + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char ch = (unsigned char)v[i];
        if (ch == '"' || ch == '\\') {
            q->s[o++] = '\\';
            q->s[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            q->s[o++] = '\\';
            q->s[o++] = 'x';
            q->s[o++] = hex[ch >> 4];
            q->s[o++] = hex[ch & 15];
        } else {
            q->s[o++] = (char)ch;
        }
    }
    if (quotes)
        q->s[o++] = '"';
    q->s[o] = '\0';
    return q->s;
}

static const char *quoted(struct shown *q, const char *v)
{
    return show(q, v, strlen(v), true);
}

/* "1GiB", "64KiB", "125": the largest binary unit that divides v. */
static void fmt_size(char *out, size_t n, uint64_t v)
{
    if (v != 0 && v % GIB == 0)
        snprintf(out, n, "%lluGiB", (unsigned long long)(v / GIB));
    else if (v != 0 && v % MIB == 0)
        snprintf(out, n, "%lluMiB", (unsigned long long)(v / MIB));
    else if (v != 0 && v % KIB == 0)
        snprintf(out, n, "%lluKiB", (unsigned long long)(v / KIB));
    else
        snprintf(out, n, "%llu", (unsigned long long)v);
}

/* "2h", "10m", "30s", "250ms": the largest unit that divides ms. */
static void fmt_duration(char *out, size_t n, int64_t ms)
{
    if (ms != 0 && ms % DAY_MS == 0)
        snprintf(out, n, "%lldd", (long long)(ms / DAY_MS));
    else if (ms != 0 && ms % HOUR_MS == 0)
        snprintf(out, n, "%lldh", (long long)(ms / HOUR_MS));
    else if (ms != 0 && ms % MIN_MS == 0)
        snprintf(out, n, "%lldm", (long long)(ms / MIN_MS));
    else if (ms % SEC_MS == 0)
        snprintf(out, n, "%llds", (long long)(ms / SEC_MS));
    else
        snprintf(out, n, "%lldms", (long long)ms);
}

/* "debug|info|warn|error|off" */
static void fmt_names(char *out, size_t n, const char *const *names)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; names[i] && o < n; i++) {
        int w = snprintf(out + o, n - o, "%s%s", i ? "|" : "", names[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* The flag name of a setting: HERALD_MAX_BODY -> max-body. */
static void flag_name(char *out, size_t n, const struct setting *s)
{
    const char *p = s->env + ENV_PREFIX_LEN;
    size_t o = 0;
    for (; *p && o + 1 < n; p++)
        out[o++] = *p == '_' ? '-' : to_lower(*p);
    out[o] = '\0';
}

static const struct setting *find_env(const char *name, size_t n)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].env) == n && memcmp(settings[i].env, name, n) == 0)
            return &settings[i];
    return NULL;
}

static const struct setting *find_flag(const char *name, size_t n)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        char flag[64];
        flag_name(flag, sizeof(flag), &settings[i]);
        if (strlen(flag) == n && memcmp(flag, name, n) == 0)
            return &settings[i];
    }
    return NULL;
}

static bool env_has(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return true;
    return false;
}

/* ---- field access */

static void *field(struct config *c, const struct setting *s)
{
    return (char *)c + s->off;
}

static const void *cfield(const struct config *c, const struct setting *s)
{
    return (const char *)c + s->off;
}

static void set_num(struct config *c, const struct setting *s, int64_t v)
{
    void *p = field(c, s);
    switch (s->store) {
    case S_INT:
        *(int *)p = (int)v;
        break;
    case S_BOOL:
        *(bool *)p = v != 0;
        break;
    case S_SIZE:
        *(size_t *)p = (size_t)v;
        break;
    case S_STR:
        abort(); /* a table bug */
    }
}

static int64_t get_num(const struct config *c, const struct setting *s)
{
    const void *p = cfield(c, s);
    switch (s->store) {
    case S_INT:
        return *(const int *)p;
    case S_BOOL:
        return *(const bool *)p;
    case S_SIZE: {
        size_t v = *(const size_t *)p;
        return (int64_t)v;
    }
    case S_STR:
        break;
    }
    abort(); /* a table bug */
}

/* Takes ownership of v. */
static void set_str(struct config *c, const struct setting *s, char *v)
{
    char **p = field(c, s);
    free(*p);
    *p = v;
}

static const char *get_str(const struct config *c, const struct setting *s)
{
    const char *const *p = cfield(c, s);
    return *p ? *p : "";
}

/* Appends v with the password of a "scheme://user:password@host" URL replaced by ****. */
static void put_url_masked(struct buf *out, const char *v)
{
    const char *sep = strstr(v, "://");
    const char *at = sep ? strchr(sep + 3, '@') : NULL;
    const char *colon = sep && at ? memchr(sep + 3, ':', (size_t)(at - sep - 3)) : NULL;
    if (colon == NULL) {
        buf_puts(out, v);
        return;
    }
    buf_append(out, v, (size_t)(colon - v + 1));
    buf_puts(out, "****");
    buf_puts(out, at);
}

/* ---- value parsers */

int config_parse_size(const char *s, uint64_t *bytes)
{
    if (s == NULL || !is_digit((unsigned char)s[0]))
        return -1;
    uint64_t v = 0;
    const char *p = s;
    for (; is_digit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"", 1},     {"b", 1},     {"k", KIB}, {"kb", KIB}, {"kib", KIB}, {"m", MIB},
        {"mb", MIB}, {"mib", MIB}, {"g", GIB}, {"gb", GIB}, {"gib", GIB},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(p, units[i].suffix) != 0)
            continue;
        if (v > UINT64_MAX / units[i].mult)
            return -1;
        *bytes = v * units[i].mult;
        return 0;
    }
    return -1;
}

int config_parse_duration(const char *s, int64_t *ms)
{
    if (s == NULL || !is_digit((unsigned char)s[0]))
        return -1;
    int64_t v = 0;
    const char *p = s;
    for (; is_digit((unsigned char)*p); p++) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    int64_t mult;
    if (strcmp(s, "0") == 0)
        mult = 1; /* "0" needs no unit; any other number does (is "30" seconds or ms?) */
    else if (strcasecmp(p, "s") == 0)
        mult = SEC_MS;
    else if (strcasecmp(p, "ms") == 0)
        mult = 1;
    else if (strcasecmp(p, "m") == 0)
        mult = MIN_MS;
    else if (strcasecmp(p, "h") == 0)
        mult = HOUR_MS;
    else if (strcasecmp(p, "d") == 0)
        mult = DAY_MS;
    else
        return -1;
    if (v > INT64_MAX / mult)
        return -1;
    *ms = v * mult;
    return 0;
}

int config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Decimal integer with an optional '-'. Returns 0, -1 for garbage, 1 when out of int64. */
static int parse_int(const char *s, int64_t *out)
{
    bool neg = s[0] == '-';
    const char *p = s + neg;
    if (!is_digit((unsigned char)*p))
        return -1;
    int64_t v = 0;
    bool over = false;
    for (; is_digit((unsigned char)*p); p++) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (*p != '\0')
        return -1;
    if (over)
        return 1;
    *out = neg ? -v : v;
    return 0;
}

/* An IPv4 literal of n bytes. */
static bool valid_ipv4(const char *h, size_t n)
{
    char tmp[INET_ADDRSTRLEN];
    unsigned char addr[4];
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, h, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET, tmp, addr) == 1;
}

/* An IPv6 literal of n bytes, optionally with a %scope (interface name). */
static bool valid_ipv6(const char *h, size_t n, bool allow_scope)
{
    char tmp[INET6_ADDRSTRLEN];
    unsigned char addr[16];
    const char *pct = memchr(h, '%', n);
    size_t alen = pct ? (size_t)(pct - h) : n;
    if (pct) {
        size_t slen = n - alen - 1;
        if (!allow_scope || slen == 0 || slen > 15)
            return false;
        for (size_t i = 0; i < slen; i++) {
            char ch = pct[1 + i];
            if (!is_alpha(ch) && !is_digit(ch) && ch != '_' && ch != '.' && ch != '-')
                return false;
        }
    }
    if (alen == 0 || alen >= sizeof(tmp))
        return false;
    memcpy(tmp, h, alen);
    tmp[alen] = '\0';
    return inet_pton(AF_INET6, tmp, addr) == 1;
}

/*
 * A DNS host name of n bytes: dot-separated labels of letters, digits and '-'
 * (not at either end of a label), at most 253 bytes, with at least one letter
 * so that a mistyped IPv4 address ("1.2.3") is not taken for a name.
 */
static bool valid_hostname(const char *h, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        if (ch == '.') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (ch == '-' ? label == 0 : !is_alpha(ch) && !is_digit(ch))
            return false;
        letter |= is_alpha(ch);
        if (++label > 63)
            return false;
    }
    return letter && h[n - 1] != '-' && h[n - 1] != '.';
}

/* 1..5 decimal digits, value <= 65535. */
static bool parse_port(const char *p, size_t n, int *port)
{
    if (n == 0 || n > 5)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return false;
        v = v * 10 + (p[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = v;
    return true;
}

/*
 * "0.0.0.0:8080", ":8080", "[::1]:8080", "8080", "localhost:8080". A host
 * name is kept as written; config_resolve_listen() turns it into an address
 * (loading stays free of DNS lookups). On error *why says what is wrong.
 */
static int parse_listen(const char *s, char **host, int *port, const char **why)
{
    const char *h;
    size_t hlen;
    const char *ps;
    *why = "use host:port, :port, [ipv6]:port or port";
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(rb - h);
        ps = rb + 2;
        if (!valid_ipv6(h, hlen, true)) {
            *why = "not an IPv6 address";
            return -1;
        }
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL) {
            h = "0.0.0.0";
            hlen = 7;
            ps = s;
        } else if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
            *why = "put an IPv6 address in brackets, e.g. [::1]:8080";
            return -1;
        } else if (colon == s) {
            h = "0.0.0.0";
            hlen = 7;
            ps = colon + 1;
        } else {
            h = s;
            hlen = (size_t)(colon - s);
            ps = colon + 1;
            if (!valid_ipv4(h, hlen) && !valid_hostname(h, hlen)) {
                *why = "the host must be an IP address or a host name";
                return -1;
            }
        }
    }
    if (!parse_port(ps, strlen(ps), port)) {
        *why = "the port must be a number from 0 to 65535";
        return -1;
    }
    *host = xstrndup(h, hlen);
    return 0;
}

int config_resolve_listen(struct config *c, char *errbuf, size_t errlen)
{
    const char *h = c->listen_host;
    size_t n = strlen(h);
    if (strchr(h, ':') != NULL || valid_ipv4(h, n))
        return 0; /* already an address */
    static const int families[] = {AF_INET, AF_INET6};
    int e = EAI_NONAME;
    for (size_t i = 0; i < 2; i++) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = families[i];
        hints.ai_socktype = SOCK_STREAM;
        e = getaddrinfo(h, NULL, &hints, &res);
        if (e != 0)
            continue;
        char addr[INET6_ADDRSTRLEN] = "";
        const void *a = families[i] == AF_INET
                            ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
        inet_ntop(families[i], a, addr, sizeof(addr));
        freeaddrinfo(res);
        free(c->listen_host);
        c->listen_host = xstrdup(addr);
        return 0;
    }
    struct shown q;
    return fail(errbuf, errlen, "HERALD_LISTEN: cannot resolve host %s: %s", quoted(&q, h),
                e == EAI_SYSTEM ? strerror(errno) : gai_strerror(e));
}

/* One origin "scheme://host[:port]" of n bytes, appended normalized to out. */
static bool append_origin(struct buf *out, const char *p, size_t n)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= n; i++) {
        if (memcmp(p + i, "://", 3) == 0) {
            sep = p + i;
            break;
        }
    }
    if (sep == NULL)
        return false;
    size_t slen = (size_t)(sep - p);
    int default_port;
    const char *scheme;
    if (slen == 4 && strncasecmp(p, "http", 4) == 0) {
        scheme = "http";
        default_port = 80;
    } else if (slen == 5 && strncasecmp(p, "https", 5) == 0) {
        scheme = "https";
        default_port = 443;
    } else {
        return false;
    }
    const char *h = sep + 3, *end = p + n;
    const char *hend;
    if (h < end && *h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (rb == NULL || !valid_ipv6(h + 1, (size_t)(rb - h - 1), false))
            return false;
        hend = rb + 1;
    } else {
        hend = h;
        while (hend < end &&
               (is_alpha(*hend) || is_digit(*hend) || *hend == '.' || *hend == '-' || *hend == '_'))
            hend++;
        if (hend == h)
            return false;
    }
    int port = default_port;
    if (hend < end) {
        if (*hend != ':' || !parse_port(hend + 1, (size_t)(end - hend - 1), &port) || port == 0)
            return false; /* a path, query, user info or a bad port */
    }
    if (out->len)
        buf_putc(out, ',');
    buf_puts(out, scheme);
    buf_puts(out, "://");
    for (const char *q = h; q < hend; q++)
        buf_putc(out, to_lower(*q));
    if (port != default_port)
        buf_printf(out, ":%d", port);
    return true;
}

/* ---- applying one value */

/* Sets s from v; who is the setting as the user wrote it. c is unchanged on error. */
static int setting_set(struct config *c, const struct setting *s, const char *who, const char *raw,
                       char *err, size_t errlen)
{
    struct shown q;
    char lo[32], hi[32];
    if (s->type == T_STRING) {
        if (raw[0] == '\0')
            return fail(err, errlen, "%s: must not be empty", who);
        set_str(c, s, xstrdup(raw));
        return 0;
    }

    /* every other type ignores blanks around the value */
    while (is_space(*raw))
        raw++;
    size_t n = strlen(raw);
    while (n > 0 && is_space(raw[n - 1]))
        n--;
    char *v = xstrndup(raw, n);
    int rc = 0;

    switch (s->type) {
    case T_LISTEN: {
        char *host;
        int port;
        const char *why;
        if (parse_listen(v, &host, &port, &why) != 0) {
            rc = fail(err, errlen, "%s: invalid address %s (%s)", who, quoted(&q, v), why);
            break;
        }
        set_str(c, s, host);
        c->listen_port = port;
        break;
    }
    case T_INT: {
        int64_t x = 0;
        int r = parse_int(v, &x);
        if (r < 0)
            rc = fail(err, errlen, "%s: invalid integer %s", who, quoted(&q, v));
        else if (r > 0 || x < s->min || x > s->max)
            rc = fail(err, errlen, "%s: must be between %lld and %lld, got %s", who,
                      (long long)s->min, (long long)s->max, show(&q, v, n, false));
        else
            set_num(c, s, x);
        break;
    }
    case T_SIZE: {
        uint64_t x;
        if (config_parse_size(v, &x) != 0) {
            rc = fail(err, errlen, "%s: invalid size %s (use bytes or k/m/g suffixes)", who,
                      quoted(&q, v));
        } else if (x < (uint64_t)s->min || x > (uint64_t)s->max) {
            fmt_size(lo, sizeof(lo), (uint64_t)s->min);
            fmt_size(hi, sizeof(hi), (uint64_t)s->max);
            rc = fail(err, errlen, "%s: must be between %s and %s, got %s", who, lo, hi,
                      show(&q, v, n, false));
        } else {
            set_num(c, s, (int64_t)x);
        }
        break;
    }
    case T_DURATION: {
        int64_t x;
        if (n > 0 && strspn(v, "0123456789") == n && config_parse_duration(v, &x) != 0) {
            rc = fail(err, errlen, "%s: %s needs a unit (ms, s, m, h or d, e.g. %ss)", who,
                      quoted(&q, v), v);
        } else if (config_parse_duration(v, &x) != 0) {
            rc = fail(err, errlen,
                      "%s: invalid duration %s (use ms, s, m, h or d, e.g. 250ms or 10s)", who,
                      quoted(&q, v));
        } else if (x < s->min || x > s->max) {
            fmt_duration(lo, sizeof(lo), s->min);
            fmt_duration(hi, sizeof(hi), s->max);
            rc = fail(err, errlen, "%s: must be between %s and %s, got %s", who, lo, hi,
                      show(&q, v, n, false));
        } else {
            set_num(c, s, x);
        }
        break;
    }
    case T_BOOL: {
        bool b;
        if (config_parse_bool(v, &b) != 0)
            rc = fail(err, errlen, "%s: invalid boolean %s (1/0, true/false, yes/no, on/off)", who,
                      quoted(&q, v));
        else
            set_num(c, s, b);
        break;
    }
    case T_ENUM: {
        int64_t idx = -1;
        for (int64_t i = 0; s->names[i]; i++)
            if (strcasecmp(v, s->names[i]) == 0)
                idx = i;
        if (s->names == level_names && strcasecmp(v, "warning") == 0) /* as log_level_parse */
            idx = LOG_WARN;
        if (idx < 0) {
            char names[96];
            fmt_names(names, sizeof(names), s->names);
            rc = fail(err, errlen, "%s: unknown %s %s (%s)", who, s->what, quoted(&q, v), names);
        } else {
            set_num(c, s, idx);
        }
        break;
    }
    case T_ORIGINS: {
        struct buf out = BUF_INIT;
        size_t items = 0;
        bool star = false;
        for (const char *p = v;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            const char *item = p;
            while (len > 0 && is_space(*item)) {
                item++;
                len--;
            }
            while (len > 0 && is_space(item[len - 1]))
                len--;
            if (len == 1 && item[0] == '*') {
                star = true;
                items++;
            } else if (len > 0) {
                items++;
                if (!append_origin(&out, item, len)) {
                    rc = fail(err, errlen,
                              "%s: invalid origin %s (use scheme://host[:port] with http or "
                              "https, no path)",
                              who, show(&q, item, len, true));
                    break;
                }
            }
            if (comma == NULL)
                break;
            p = comma + 1;
        }
        if (rc == 0 && star && items > 1)
            rc = fail(err, errlen, "%s: \"*\" cannot be combined with other origins", who);
        if (rc == 0)
            set_str(c, s, star ? xstrdup("*") : buf_detach(&out, NULL));
        buf_release(&out);
        break;
    }
    case T_CIDRS: {
        struct cidr *blocks;
        char *canon, why[200];
        if (n == 0) {
            rc = fail(err, errlen, "%s: must not be empty (list addresses or CIDR blocks)", who);
        } else if (cidr_list_parse(v, &blocks, &canon, why, sizeof(why)) < 0) {
            rc = fail(err, errlen, "%s: %s", who, why);
        } else {
            free(blocks);
            set_str(c, s, canon);
        }
        break;
    }
    case T_BASEURL: {
        /* the origin, then an optional path of URL-safe characters; no query or fragment */
        const char *sep = strstr(v, "://");
        const char *path = sep ? strchr(sep + 3, '/') : NULL;
        size_t olen = path ? (size_t)(path - v) : n;
        struct buf out = BUF_INIT;
        bool ok = n == 0 || (sep != NULL && append_origin(&out, v, olen));
        for (const char *u = path; ok && u && *u; u++)
            ok = is_alpha(*u) || is_digit(*u) || strchr("-._~/%!$&'()*+,;=:@", *u) != NULL;
        if (!ok) {
            rc = fail(err, errlen,
                      "%s: invalid base URL %s (use http(s)://host[:port][/path], no query)", who,
                      quoted(&q, v));
        } else {
            if (path)
                buf_puts(&out, path);
            while (out.len > 0 && out.data[out.len - 1] == '/')
                out.len--;
            buf_putc(&out, '\0');
            set_str(c, s, buf_detach(&out, NULL));
        }
        buf_release(&out);
        break;
    }
    case T_STRING:
        break; /* handled above */
    }
    free(v);
    return rc;
}

/* ---- sources */

/* CPUs this process may run on (taskset, cgroup cpusets), else the online count. */
static int online_cpus(void)
{
    cpu_set_t set;
    long n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > WORKERS_MAX ? WORKERS_MAX : (int)n;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        char err[256];
        if (s->def != NULL && setting_set(c, s, s->env, s->def, err, sizeof(err)) != 0) {
            fprintf(stderr, "fatal: bad built-in default: %s\n", err);
            abort();
        }
    }
    c->workers = online_cpus();
}

void config_release(struct config *c)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].store == S_STR)
            set_str(c, &settings[i], NULL);
}

void config_set_warn_stream(FILE *f)
{
    g_warn = f;
}

/* The byte a .env escape \\e stands for, or 0 when e is not an escape. */
static char unescape(char e)
{
    switch (e) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case '"':
    case '\\':
        return e;
    default:
        return '\0';
    }
}

/* Appends a double-quoted .env value (after the opening quote) to val; *pp past the closing one. */
static int env_double_quoted(const char **pp, const char *end, struct buf *val)
{
    const char *p = *pp;
    for (;;) {
        if (p == end)
            return -1;
        char ch = *p++;
        if (ch == '"')
            break;
        if (ch == '\\' && p < end) {
            char e = unescape(*p);
            if (e != '\0') {
                buf_putc(val, e);
                p++;
                continue;
            }
        }
        buf_putc(val, ch); /* an unknown escape keeps its backslash */
    }
    *pp = p;
    return 0;
}

/* One .env line of n bytes (no newline, no NUL). */
static int env_line(struct config *c, const char *fname, int lineno, const char *line, size_t n,
                    char **envp, struct buf *val, char *err, size_t errlen)
{
    const char *p = line, *end = line + n;
    while (p < end && is_space(*p))
        p++;
    if (p == end || *p == '#')
        return 0;
    if (end - p > 7 && memcmp(p, "export", 6) == 0 && is_space(p[6])) {
        p += 7;
        while (p < end && is_space(*p))
            p++;
    }
    const char *key = p;
    if (p < end && (is_alpha(*p) || *p == '_'))
        while (p < end && (is_alpha(*p) || is_digit(*p) || *p == '_'))
            p++;
    size_t klen = (size_t)(p - key);
    while (p < end && is_space(*p))
        p++;
    if (klen == 0 || p == end || *p != '=')
        return fail(err, errlen, "%s line %d: expected KEY=VALUE", fname, lineno);
    p++;
    while (p < end && is_space(*p))
        p++;

    buf_clear(val);
    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p++;
        if (q == '"') {
            if (env_double_quoted(&p, end, val) != 0)
                return fail(err, errlen, "%s line %d: unterminated double quote", fname, lineno);
        } else {
            const char *close = memchr(p, '\'', (size_t)(end - p));
            if (close == NULL)
                return fail(err, errlen, "%s line %d: unterminated single quote", fname, lineno);
            buf_append(val, p, (size_t)(close - p));
            p = close + 1;
        }
        while (p < end && is_space(*p))
            p++;
        if (p < end && *p != '#')
            return fail(err, errlen, "%s line %d: unexpected text after the closing quote", fname,
                        lineno);
    } else {
        /* unquoted: a '#' after a blank starts a comment; trailing blanks are dropped */
        const char *v = p;
        while (p < end && !(*p == '#' && is_space(p[-1])))
            p++;
        while (p > v && is_space(p[-1]))
            p--;
        buf_append(val, v, (size_t)(p - v));
    }

    if (klen < ENV_PREFIX_LEN || memcmp(key, ENV_PREFIX, ENV_PREFIX_LEN) != 0)
        return 0; /* not ours */
    const struct setting *s = find_env(key, klen);
    if (s == NULL) {
        warn("warning: unknown setting %.*s ignored (%s line %d)\n", (int)(klen > 100 ? 100 : klen),
             key, fname, lineno);
        return 0;
    }
    if (env_has(envp, s->env))
        return 0; /* the environment wins */
    char who[300];
    snprintf(who, sizeof(who), "%s line %d: %s", fname, lineno, s->env);
    return setting_set(c, s, who, val->data ? val->data : "", err, errlen);
}

static int load_env_text(struct config *c, const char *fname, const char *text, size_t len,
                         char **envp, char *err, size_t errlen)
{
    struct buf val = BUF_INIT;
    size_t pos = 0;
    int lineno = 0, rc = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a UTF-8 byte-order mark */
    while (pos < len && rc == 0) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        lineno++;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (memchr(line, '\0', n) != NULL)
            rc = fail(err, errlen, "%s line %d: contains a NUL byte", fname, lineno);
        else
            rc = env_line(c, fname, lineno, line, n, envp, &val, err, errlen);
    }
    buf_release(&val);
    return rc;
}

int config_load_env_text(struct config *c, const char *text, size_t len, char *errbuf,
                         size_t errlen)
{
    return load_env_text(c, ".env", text, len, NULL, errbuf, errlen);
}

static int load_env_file(struct config *c, const char *path, char **envp, char *err, size_t errlen)
{
    const char *shown = path ? path : ".env";
    FILE *f = fopen(path ? path : "./.env", "rb");
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0; /* no .env file */
        return fail(err, errlen, "%s: cannot open: %s", shown, strerror(errno));
    }
    struct buf text = BUF_INIT;
    int rc = 0;
    for (;;) {
        buf_reserve(&text, 4096);
        size_t got = fread(text.data + text.len, 1, 4096, f);
        text.len += got;
        if (text.len > ENV_FILE_MAX) {
            rc = fail(err, errlen, "%s: larger than 1 MiB", shown);
            break;
        }
        if (got < 4096) {
            if (ferror(f))
                rc = fail(err, errlen, "%s: cannot read: %s", shown, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (rc == 0)
        rc = load_env_text(c, shown, text.data ? text.data : "", text.len, envp, err, errlen);
    buf_release(&text);
    return rc;
}

static int load_environ(struct config *c, char **envp, char *err, size_t errlen)
{
    for (char **e = envp; e && *e; e++) {
        const char *kv = *e;
        const char *eq = strchr(kv, '=');
        if (eq == NULL || strncmp(kv, ENV_PREFIX, ENV_PREFIX_LEN) != 0)
            continue;
        size_t klen = (size_t)(eq - kv);
        const struct setting *s = find_env(kv, klen);
        if (s == NULL) {
            struct shown q;
            warn("warning: unknown setting %s ignored\n", show(&q, kv, klen, false));
            continue;
        }
        if (setting_set(c, s, s->env, eq + 1, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int load_flags(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
    struct shown q;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            return fail(err, errlen, "unexpected argument %s (flags look like --name=value)",
                        quoted(&q, a));
        const char *name = a[1] == '-' ? a + 2 : a + 1;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct setting *s = a[1] == '-' ? find_flag(name, nlen) : NULL;
        if (s == NULL)
            return fail(err, errlen, "unknown flag %s",
                        show(&q, a, (size_t)(name - a) + nlen, false));
        char who[72] = "--";
        flag_name(who + 2, sizeof(who) - 2, s);
        const char *v;
        bool b;
        if (eq != NULL)
            v = eq + 1;
        else if (s->type == T_BOOL)
            v = i + 1 < argc && argv[i + 1][0] != '-' && config_parse_bool(argv[i + 1], &b) == 0
                    ? argv[++i]
                    : "true";
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            v = argv[++i];
        else
            return fail(err, errlen, "%s: missing value", who);
        if (setting_set(c, s, who, v, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Settings whose default depends on others, and checks across settings. */
static int derive(struct config *c, char *err, size_t errlen)
{
    if (c->database_url == NULL) {
        struct buf b = BUF_INIT;
        buf_printf(&b, "sqlite:%s/herald.db", c->data_dir);
        c->database_url = buf_detach(&b, NULL);
    }
    const char *u = c->database_url;
    if (strncmp(u, "sqlite:", 7) != 0 && strncmp(u, "postgres://", 11) != 0 &&
        strncmp(u, "postgresql://", 13) != 0)
        return fail(err, errlen,
                    "HERALD_DATABASE_URL: unsupported scheme (use sqlite:PATH or postgres://...)");
    if (strncmp(u, "sqlite:", 7) == 0 && u[7] == '\0')
        return fail(err, errlen, "HERALD_DATABASE_URL: sqlite: needs a file path");
    if (strncmp(u, "sqlite:", 7) != 0) {
        char why[300];
        if (pg_url_check(u, why, sizeof(why)) != 0)
            return fail(err, errlen, "HERALD_DATABASE_URL: %s", why);
    }
    if (c->redis_url != NULL && c->redis_url[0] != '\0') {
        struct redis_url r;
        char why[160];
        if (redis_url_parse(c->redis_url, &r, why, sizeof(why)) != 0) {
            return fail(err, errlen, "HERALD_REDIS_URL: %s", why);
        }
    }
    if (c->jwt_secret != NULL && c->jwt_secret[0] != '\0' && strlen(c->jwt_secret) < 32)
        return fail(err, errlen, "HERALD_JWT_SECRET: must be at least 32 bytes");
    return 0;
}

int config_load(struct config *c, const char *env_path, char **envp, int argc, char **argv,
                char *errbuf, size_t errlen)
{
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    config_defaults(c);
    if (load_env_file(c, env_path, envp, errbuf, errlen) != 0 ||
        load_environ(c, envp, errbuf, errlen) != 0 ||
        load_flags(c, argc, argv, errbuf, errlen) != 0 || derive(c, errbuf, errlen) != 0)
        goto fail;
    return 0;
fail:
    config_release(c);
    return -1;
}

/* ---- output */

const char *config_mask_secret(const char *value)
{
    return value == NULL || value[0] == '\0' ? "(unset)" : "****";
}

/* The value of s in c as a user would write it, into out. */
static void format_value(const struct config *c, const struct setting *s, struct buf *out)
{
    char tmp[32];
    switch (s->type) {
    case T_LISTEN: {
        const char *h = get_str(c, s);
        buf_printf(out, strchr(h, ':') ? "[%s]:%d" : "%s:%d", h, c->listen_port);
        break;
    }
    case T_INT:
        buf_printf(out, "%lld", (long long)get_num(c, s));
        break;
    case T_SIZE:
        fmt_size(tmp, sizeof(tmp), (uint64_t)get_num(c, s));
        buf_puts(out, tmp);
        break;
    case T_DURATION:
        fmt_duration(tmp, sizeof(tmp), get_num(c, s));
        buf_puts(out, tmp);
        break;
    case T_BOOL:
        buf_puts(out, get_num(c, s) ? "true" : "false");
        break;
    case T_ENUM: {
        int64_t idx = get_num(c, s);
        int64_t n = 0;
        while (s->names[n])
            n++;
        buf_puts(out, idx >= 0 && idx < n ? s->names[idx] : "?");
        break;
    }
    case T_STRING:
    case T_ORIGINS:
    case T_CIDRS:
    case T_BASEURL:
        put_url_masked(out, get_str(c, s));
        break;
    }
}

/* Whether a value must be double-quoted to read back from a .env file unchanged. */
static bool needs_quotes(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '#' || *p == '"' || *p == '\'' || *p == '\\')
            return true;
    return false;
}

static void put_env_value(FILE *f, const char *v)
{
    if (!needs_quotes(v)) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        default:
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

void config_print(const struct config *c, FILE *f)
{
    struct buf v = BUF_INIT;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (s->store == S_STR && s->def == NULL && *(const char *const *)cfield(c, s) == NULL) {
            /* a derived default before config_load derived it: nothing to show yet */
            fprintf(f, "# %s is derived from other settings\n", s->env);
            continue;
        }
        buf_clear(&v);
        format_value(c, s, &v);
        fprintf(f, "%s=", s->env);
        if (s->secret)
            fputs(config_mask_secret(v.data), f);
        else
            put_env_value(f, v.data ? v.data : "");
        fputc('\n', f);
    }
    buf_release(&v);
}

static bool help_listed(const struct setting *s, const char *const *only)
{
    for (; only && *only; only++)
        if (strcmp(*only, s->env) == 0)
            return true;
    return only == NULL;
}

/* "--max-body=SIZE", "--demo[=BOOL]": the left column of --help. */
static int help_flag(char *out, size_t n, const struct setting *s)
{
    char flag[64];
    flag_name(flag, sizeof(flag), s);
    return snprintf(out, n, s->type == T_BOOL ? "--%s[=%s]" : "--%s=%s", flag, s->metavar);
}

int config_print_help(FILE *f, const char *const *only)
{
    int width = 0; /* the widest flag shown sets the column of the help text */
    for (size_t i = 0; i < NSETTINGS; i++) {
        char left[100];
        int w = help_listed(&settings[i], only) ? help_flag(left, sizeof(left), &settings[i]) : 0;
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        char left[100], lo[32], hi[32], range[100] = "", def[64];
        if (!help_listed(s, only))
            continue;
        help_flag(left, sizeof(left), s);

        if (s->type == T_INT) {
            snprintf(range, sizeof(range), "; %lld..%lld", (long long)s->min, (long long)s->max);
        } else if (s->type == T_SIZE) {
            fmt_size(lo, sizeof(lo), (uint64_t)s->min);
            fmt_size(hi, sizeof(hi), (uint64_t)s->max);
            snprintf(range, sizeof(range), "; %s..%s", lo, hi);
        } else if (s->type == T_DURATION) {
            fmt_duration(lo, sizeof(lo), s->min);
            fmt_duration(hi, sizeof(hi), s->max);
            snprintf(range, sizeof(range), "; %s..%s", lo, hi);
        } else if (s->type == T_ENUM) {
            range[0] = ';';
            range[1] = ' ';
            fmt_names(range + 2, sizeof(range) - 2, s->names);
        }
        if (s->def == NULL && s->store == S_STR)
            snprintf(def, sizeof(def), "derived");
        else if (s->def == NULL)
            snprintf(def, sizeof(def), "online CPUs (%d here)", online_cpus());
        else if (s->secret)
            snprintf(def, sizeof(def), "%s", config_mask_secret(s->def));
        else if (s->def[0] == '\0')
            snprintf(def, sizeof(def), "empty");
        else
            snprintf(def, sizeof(def), "%s", s->def);

        fprintf(f, "  %-*s  %s\n", width, left, s->help);
        fprintf(f, "  %-*s  [%s%s; default %s%s]\n", width, "", s->env, range, def,
                s->secret ? "; secret" : "");
    }
    return width;
}
