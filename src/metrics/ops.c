/*
 * Health and metrics endpoints; see ops.h.
 */
#include "metrics/ops.h"

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

void ops_register(struct router *r, struct ops_ctx *ctx)
{
    router_add(r, HTTP_M_GET, "/health", health, ctx);
    router_add(r, HTTP_M_GET, "/health/live", health, ctx);
    router_add(r, HTTP_M_GET, "/health/ready", ready, ctx);
    router_add(r, HTTP_M_GET, "/metrics", metrics, ctx);
}
