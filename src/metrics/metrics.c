/*
 * Prometheus metrics registry; see metrics.h. Counters live in per-loop shards
 * written with relaxed atomic stores by their owner and read with relaxed
 * loads by the renderer, so the hot path has no locked instruction and no
 * shared cache line.
 */
#include "metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include <stdlib.h>

#include "core/xalloc.h"
#include "net/http.h"
#include "router/router.h"

static const int status_codes[] = {101, 200, 201, 202, 204, 206, 301, 302, 304, 400,
                                   401, 403, 404, 405, 408, 409, 410, 413, 414, 415,
                                   417, 422, 426, 429, 431, 500, 501, 503, 505};
#define NSTATUS ((int)(sizeof(status_codes) / sizeof(status_codes[0])) + 1) /* + other */

static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBUCKETS ((int)(sizeof(buckets) / sizeof(buckets[0])))

#define EXTRA_ROUTES 3 /* ws, static, unmatched */

/* The method label, indexed by the bit number of enum http_method (HTTP_M_OTHER last). */
static const char *const method_names[] = {"GET",   "HEAD",   "POST",    "PUT",
                                           "PATCH", "DELETE", "OPTIONS", "other"};
#define NMETHODS ((int)(sizeof(method_names) / sizeof(method_names[0])))
_Static_assert(HTTP_M_OTHER == 1 << (NMETHODS - 1), "method_names follows enum http_method");

struct metrics_shard {
    int nroutes;
    uint64_t *requests; /* [route slot][method slot][status slot] */
    uint64_t hist[NBUCKETS + 1];
    uint64_t hist_sum_us;
    uint64_t hist_count;
    int64_t conns[METRICS_CONN_KINDS];
    uint64_t ws_frames[2];
    uint64_t ws_bytes[2];
    char pad[64];
};

struct metrics {
    const struct router *router;
    int nroutes; /* router routes + EXTRA_ROUTES */
    int nshards;
    struct metrics_shard *shards;
    time_t start;
    int nsources;
    struct {
        metrics_source_fn fn;
        void *ud;
    } sources[METRICS_SOURCES_MAX];
};

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ADD(x, v) __atomic_store_n(&(x), LOAD(x) + (v), __ATOMIC_RELAXED)

struct metrics *metrics_new(int nshards, const struct router *r)
{
    struct metrics *m = xcalloc(1, sizeof(*m));
    m->router = r;
    m->nroutes = router_count(r) + EXTRA_ROUTES;
    m->nshards = nshards;
    m->shards = xcalloc((size_t)nshards, sizeof(struct metrics_shard));
    for (int i = 0; i < nshards; i++) {
        m->shards[i].nroutes = m->nroutes;
        m->shards[i].requests = xcalloc((size_t)m->nroutes * NMETHODS * NSTATUS, sizeof(uint64_t));
    }
    m->start = time(NULL);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < m->nshards; i++)
        free(m->shards[i].requests);
    free(m->shards);
    free(m);
}

void metrics_add_source(struct metrics *m, metrics_source_fn fn, void *ud)
{
    if (m->nsources == METRICS_SOURCES_MAX)
        abort(); /* a programming error: raise METRICS_SOURCES_MAX */
    m->sources[m->nsources].fn = fn;
    m->sources[m->nsources].ud = ud;
    m->nsources++;
}

struct metrics_shard *metrics_shard(struct metrics *m, int idx)
{
    return &m->shards[idx];
}

static int status_slot(int status)
{
    for (int i = 0; i < NSTATUS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return NSTATUS - 1;
}

/* Route ids: router ids 0..n-1, then -3 (ws), -2 (static), -1 (unmatched). */
static int route_slot(int nroutes, int route_id)
{
    if (route_id >= 0 && route_id < nroutes - EXTRA_ROUTES)
        return route_id;
    if (route_id == -3)
        return nroutes - 3;
    if (route_id == METRICS_ROUTE_STATIC)
        return nroutes - 2;
    return nroutes - 1;
}

/* A method bit (enum http_method) to its slot; anything else is "other". */
static int method_slot(int method)
{
    if (method <= 0 || method > HTTP_M_OTHER || (method & (method - 1)) != 0)
        return NMETHODS - 1;
    return __builtin_ctz((unsigned)method);
}

void metrics_http_request(struct metrics_shard *s, int route_id, int method, int status,
                          uint64_t usec)
{
    int slot = (route_slot(s->nroutes, route_id) * NMETHODS + method_slot(method)) * NSTATUS +
               status_slot(status);
    ADD(s->requests[slot], 1);
    double secs = (double)usec / 1e6;
    int b = 0;
    while (b < NBUCKETS && secs > buckets[b])
        b++;
    ADD(s->hist[b], 1);
    ADD(s->hist_sum_us, usec);
    ADD(s->hist_count, 1);
}

int64_t metrics_connections(const struct metrics *m, enum metrics_conn_kind kind)
{
    int64_t v = 0;
    for (int i = 0; m != NULL && i < m->nshards; i++)
        v += LOAD(m->shards[i].conns[kind]);
    return v;
}

void metrics_conn_add(struct metrics_shard *s, enum metrics_conn_kind kind, int delta)
{
    __atomic_store_n(&s->conns[kind], LOAD(s->conns[kind]) + delta, __ATOMIC_RELAXED);
}

void metrics_ws_frame(struct metrics_shard *s, enum metrics_dir dir, uint64_t frames,
                      uint64_t bytes)
{
    if (frames)
        ADD(s->ws_frames[dir], frames);
    if (bytes)
        ADD(s->ws_bytes[dir], bytes);
}

static const char *route_label(const struct metrics *m, int slot)
{
    if (slot < m->nroutes - EXTRA_ROUTES)
        return router_pattern(m->router, slot);
    if (slot == m->nroutes - 3)
        return "/ws";
    if (slot == m->nroutes - 2)
        return "static";
    return "unmatched";
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream itself */
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

/* A label value with the escapes of the text format: backslash, double quote, newline. */
static void put_label_value(struct buf *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_putc(o, '\\');
        if (*v == '\n')
            buf_puts(o, "\\n");
        else
            buf_putc(o, *v);
    }
}

/*
 * The request counters summed over the shards and over route slots that share a label (the
 * router has one id per registered pattern and method set, so a pattern may have several):
 * a calloc'd [route slot][method][status] array where only the first slot of each label is
 * filled. The caller frees it.
 */
static uint64_t *requests_by_label(const struct metrics *m)
{
    size_t per_route = (size_t)NMETHODS * NSTATUS;
    uint64_t *sum = xcalloc((size_t)m->nroutes * per_route, sizeof(uint64_t));
    for (int q = 0; q < m->nroutes; q++) {
        int r = 0;
        while (r < q && strcmp(route_label(m, r), route_label(m, q)) != 0)
            r++;
        for (int i = 0; i < m->nshards; i++)
            for (size_t k = 0; k < per_route; k++)
                sum[(size_t)r * per_route + k] +=
                    LOAD(m->shards[i].requests[(size_t)q * per_route + k]);
    }
    return sum;
}

void metrics_render(struct metrics *m, struct buf *o)
{
    buf_puts(o, "# HELP herald_http_requests_total HTTP requests by route, method and status.\n"
                "# TYPE herald_http_requests_total counter\n");
    uint64_t *sum = requests_by_label(m);
    for (int r = 0; r < m->nroutes; r++) {
        for (int me = 0; me < NMETHODS; me++) {
            for (int st = 0; st < NSTATUS; st++) {
                uint64_t v = sum[((size_t)r * NMETHODS + (size_t)me) * NSTATUS + (size_t)st];
                if (v == 0)
                    continue; /* nothing counted, or a later slot of a label counted above */
                buf_puts(o, "herald_http_requests_total{route=\"");
                put_label_value(o, route_label(m, r));
                buf_puts(o, "\",method=\"");
                buf_puts(o, method_names[me]);
                if (st == NSTATUS - 1)
                    buf_printf(o, "\",status=\"other\"} %llu\n", (unsigned long long)v);
                else
                    buf_printf(o, "\",status=\"%d\"} %llu\n", status_codes[st],
                               (unsigned long long)v);
            }
        }
    }
    free(sum);

    buf_puts(o, "# HELP herald_http_request_duration_seconds Time from the first byte of a "
                "request to its response.\n"
                "# TYPE herald_http_request_duration_seconds histogram\n");
    uint64_t cum = 0, sum_us = 0, count = 0;
    for (int b = 0; b <= NBUCKETS; b++) {
        for (int i = 0; i < m->nshards; i++)
            cum += LOAD(m->shards[i].hist[b]);
        if (b < NBUCKETS)
            buf_printf(o, "herald_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                       buckets[b], (unsigned long long)cum);
    }
    for (int i = 0; i < m->nshards; i++) {
        sum_us += LOAD(m->shards[i].hist_sum_us);
        count += LOAD(m->shards[i].hist_count);
    }
    buf_printf(o, "herald_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
               (unsigned long long)count);
    buf_printf(o, "herald_http_request_duration_seconds_sum %.6f\n", (double)sum_us / 1e6);
    buf_printf(o, "herald_http_request_duration_seconds_count %llu\n", (unsigned long long)count);

    static const char *kinds[] = {"http", "ws"};
    buf_puts(o, "# HELP herald_connections Open client connections by kind.\n"
                "# TYPE herald_connections gauge\n");
    for (int k = 0; k < METRICS_CONN_KINDS; k++) {
        int64_t v = 0;
        for (int i = 0; i < m->nshards; i++)
            v += LOAD(m->shards[i].conns[k]);
        buf_printf(o, "herald_connections{kind=\"%s\"} %lld\n", kinds[k], (long long)v);
    }

    static const char *dirs[] = {"in", "out"};
    buf_puts(o, "# HELP herald_ws_frames_total WebSocket messages and control frames.\n"
                "# TYPE herald_ws_frames_total counter\n");
    for (int d = 0; d < 2; d++) {
        uint64_t v = 0;
        for (int i = 0; i < m->nshards; i++)
            v += LOAD(m->shards[i].ws_frames[d]);
        buf_printf(o, "herald_ws_frames_total{direction=\"%s\"} %llu\n", dirs[d],
                   (unsigned long long)v);
    }
    buf_puts(o, "# HELP herald_ws_bytes_total WebSocket bytes on the wire.\n"
                "# TYPE herald_ws_bytes_total counter\n");
    for (int d = 0; d < 2; d++) {
        uint64_t v = 0;
        for (int i = 0; i < m->nshards; i++)
            v += LOAD(m->shards[i].ws_bytes[d]);
        buf_printf(o, "herald_ws_bytes_total{direction=\"%s\"} %llu\n", dirs[d],
                   (unsigned long long)v);
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    buf_printf(o,
               "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
               "# TYPE process_resident_memory_bytes gauge\n"
               "process_resident_memory_bytes %ld\n"
               "# HELP process_cpu_seconds_total User and system CPU time in seconds.\n"
               "# TYPE process_cpu_seconds_total counter\n"
               "process_cpu_seconds_total %.3f\n"
               "# HELP process_open_fds Open file descriptors.\n"
               "# TYPE process_open_fds gauge\n"
               "process_open_fds %ld\n"
               "# HELP process_start_time_seconds Start time since the Unix epoch.\n"
               "# TYPE process_start_time_seconds gauge\n"
               "process_start_time_seconds %lld\n",
               rss_bytes(), cpu, count_fds(), (long long)m->start);
    for (int i = 0; i < m->nsources; i++)
        m->sources[i].fn(o, m->sources[i].ud);
}
