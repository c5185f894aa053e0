/*
 * Health and metrics endpoints; see ops.h.
 */
#include "metrics/ops.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "metrics/metrics.h"
#include "net/http.h"
#include "router/router.h"
#include "store/store.h"

static void health(struct http_req *req, void *ud)
{
    (void)ud;
    static const char body[] = "{\"status\":\"ok\"}";
    http_respond_json(req, 200, body, sizeof(body) - 1);
}

/* A readiness probe waiting for the store's answer. */
struct ping {
    struct http_req *req;
    struct ops_ctx *ctx;
    int status;
};

static void ping_on_loop(void *arg)
{
    struct ping *p = arg;
    if (p->status != 0) {
        http_res_header(p->req, "Retry-After", "1");
        http_respond_error(p->req, 503, "unavailable", "the store does not answer", "store");
    } else {
        struct buf b = BUF_INIT;
        buf_puts(&b, "{\"status\":\"ready\",\"checks\":{\"server\":\"ok\",\"store\":\"ok\"");
        if (p->ctx->redis_ready != NULL)
            buf_puts(&b, ",\"redis\":\"ok\"");
        buf_puts(&b, "},\"store\":");
        buf_json_str(&b, store_backend_name(p->ctx->store));
        buf_putc(&b, '}');
        http_respond_json(p->req, 200, b.data, b.len);
        buf_release(&b);
    }
    free(p);
}

/* Store thread. */
static void ping_done(int status, struct store_result *res, void *ud)
{
    struct ping *p = ud;
    store_result_free(res);
    p->status = status;
    http_req_post(p->req, ping_on_loop, p);
}

static void ready(struct http_req *req, void *ud)
{
    struct ops_ctx *ctx = ud;
    if (ctx->is_ready && !ctx->is_ready(ctx->ready_ud)) {
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "server is not ready", NULL);
        return;
    }
    if (ctx->redis_ready != NULL && !ctx->redis_ready(ctx->redis_ud)) {
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "Redis (HERALD_REDIS_URL) does not answer",
                           "redis");
        return;
    }
    if (ctx->store == NULL) {
        static const char body[] = "{\"status\":\"ready\",\"checks\":{\"server\":\"ok\"}}";
        http_respond_json(req, 200, body, sizeof(body) - 1);
        return;
    }
    struct ping *p = xcalloc(1, sizeof(*p));
    p->req = req;
    p->ctx = ctx;
    int rc = store_ping(ctx->store, ping_done, p);
    if (rc != 0) {
        free(p);
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "the store is busy or closing", "store");
    }
}

static void metrics(struct http_req *req, void *ud)
{
    struct ops_ctx *ctx = ud;
    struct buf b = BUF_INIT;
    metrics_render(ctx->metrics, &b);
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    buf_release(&b);
}

/* The store's counters (docs/deployment.md, "Metrics"). */
static void store_source(struct buf *o, void *ud)
{
    struct store_stats st;
    store_stats_get(ud, &st);
    static const struct {
        const char *name, *type, *help;
        size_t at;
    } rows[] = {
        {"herald_store_writes_total", "counter", "Write operations committed.",
         offsetof(struct store_stats, writes)},
        {"herald_store_write_errors_total", "counter", "Write operations that failed.",
         offsetof(struct store_stats, write_errors)},
        {"herald_store_commits_total", "counter", "Group transactions committed.",
         offsetof(struct store_stats, commits)},
        {"herald_store_rollbacks_total", "counter", "Group transactions that could not commit.",
         offsetof(struct store_stats, rollbacks)},
        {"herald_store_largest_group", "gauge", "Most write operations one transaction committed.",
         offsetof(struct store_stats, largest_group)},
        {"herald_store_reads_total", "counter", "Read operations answered.",
         offsetof(struct store_stats, reads)},
        {"herald_store_read_errors_total", "counter", "Read operations that failed.",
         offsetof(struct store_stats, read_errors)},
        {"herald_store_checkpoints_total", "counter", "WAL checkpoints completed (SQLite).",
         offsetof(struct store_stats, checkpoints)},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t v;
        memcpy(&v, (const char *)&st + rows[i].at, sizeof(v));
        buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", rows[i].name, rows[i].help,
                   rows[i].name, rows[i].type, rows[i].name, (unsigned long long)v);
    }
    buf_printf(o,
               "# HELP herald_store_queue Operations waiting for the store now.\n"
               "# TYPE herald_store_queue gauge\n"
               "herald_store_queue{kind=\"write\"} %llu\n"
               "herald_store_queue{kind=\"read\"} %llu\n",
               (unsigned long long)st.write_queue, (unsigned long long)st.read_queue);
}

void ops_metrics_sources(struct ops_ctx *ctx)
{
    if (ctx->store != NULL)
        metrics_add_source(ctx->metrics, store_source, ctx->store);
}

void ops_register(struct router *r, struct ops_ctx *ctx)
{
    router_add(r, HTTP_M_GET, "/health", health, ctx);
    router_add(r, HTTP_M_GET, "/health/live", health, ctx);
    router_add(r, HTTP_M_GET, "/health/ready", ready, ctx);
    router_add(r, HTTP_M_GET, "/metrics", metrics, ctx);
}
