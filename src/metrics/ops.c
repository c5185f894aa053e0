/*
 * Health and metrics endpoints; see ops.h.
 */
#include "metrics/ops.h"

#include <string.h>

#include "core/buf.h"
#include "metrics/metrics.h"
#include "net/http.h"
#include "router/router.h"

static void health(struct http_req *req, void *ud)
{
    (void)ud;
    static const char body[] = "{\"status\":\"ok\"}";
    http_respond_json(req, 200, body, sizeof(body) - 1);
}

static void ready(struct http_req *req, void *ud)
{
    struct ops_ctx *ctx = ud;
    if (ctx->is_ready && !ctx->is_ready(ctx->ready_ud)) {
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "server is not ready", NULL);
        return;
    }
    static const char body[] = "{\"status\":\"ready\",\"checks\":{\"server\":\"ok\"}}";
    http_respond_json(req, 200, body, sizeof(body) - 1);
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
