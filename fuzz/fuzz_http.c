/*
 * libFuzzer target for the HTTP request path: llhttp glue, request assembly,
 * limits, routing, static files, CORS and the WebSocket handshake (and, after
 * a successful upgrade, the frame path). http.c with its http_*.c siblings
 * and ws.c are compiled into this file with an in-memory stand-in for the
 * connection layer (conn.c and loop.c), so each input runs without sockets
 * and is split at chunk boundaries chosen by its first byte: every split
 * point of llhttp's state machine is reachable.
 */
#include "../src/net/http.c"
#include "../src/net/http_head.c"
#include "../src/net/http_req.c"
#include "../src/net/http_respond.c"
#include "../src/net/http_stream.c"
#include "../src/net/ws.c"

#include <stdint.h>

#include "core/cidr.h"
#include "core/config.h"
#include "metrics/ops.h"

/* ---- stand-ins for conn.c and loop.c: output is checked and discarded */

static size_t g_out_bytes;

uint32_t net__now(const struct loop *l)
{
    (void)l;
    return 0;
}

void net__loop_post(struct loop *l, void (*fn)(void *arg), void *arg)
{
    (void)l;
    fn(arg); /* the stand-in loop runs posted work at once */
}

void net__loop_req_begin(struct loop *l)
{
    l->inflight++;
}

void net__loop_req_end(struct loop *l)
{
    l->inflight--;
}

void net__loop_maybe_finish(struct loop *l)
{
    (void)l;
}

void net__conn_send(struct conn *c, const void *p, size_t n)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
        return;
    /* every HTTP answer starts with a status line */
    if (c->kind == CONN_HTTP && n >= 5 && memcmp(p, "HTTP/", 5) != 0 && g_out_bytes == 0)
        __builtin_trap();
    g_out_bytes += n;
}

void net__conn_send_frame(struct conn *c, struct frame *f)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
        return;
    g_out_bytes += f->len;
}

void net__conn_flush(struct conn *c)
{
    (void)c;
}

void net__conn_flush_dirty(struct loop *l)
{
    (void)l;
}

void net__conn_close_after_flush(struct conn *c)
{
    if (c->state == CONN_OPEN)
        c->state = CONN_LINGER;
}

void net__conn_abort(struct conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    if (c->kind == CONN_HTTP)
        net__http_detach(c);
    else
        net__ws_detach(c);
    c->state = CONN_CLOSED;
}

void net__conn_drop_pending(struct conn *c)
{
    buf_release(&c->out);
}

void net__conn_pause_reading(struct conn *c)
{
    c->reading = false;
}

void net__conn_resume_reading(struct conn *c)
{
    c->reading = true;
}

size_t net__conn_backlog(const struct conn *c)
{
    (void)c;
    return 0;
}

void net__conn_accept(struct loop *l, uv_stream_t *listener)
{
    (void)l;
    (void)listener;
}

/* ---- a tiny application */

static void echo(struct http_req *req, void *ud)
{
    (void)ud;
    size_t len;
    const char *body = http_req_body(req, &len);
    http_respond(req, 200, "application/octet-stream", body, len);
}

static void user(struct http_req *req, void *ud)
{
    (void)ud;
    const char *id = http_req_param(req, "id");
    char q[32];
    http_req_query_param(req, "q", q, sizeof(q));
    http_respond_error(req, 404, "not_found", id ? id : "?", "id");
}

/* A streamed body (router_add_stream): counted, held every other piece (the input loop
 * resumes it), refused at a '!', answered at its end or abort; a refused one is answered
 * after the input (g_refused), as a handler answers once its cleanup is done. */
static size_t g_streamed;
static struct http_req *g_refused;

static int stream_data(struct http_req *req, const char *data, size_t len, void *ud)
{
    (void)ud;
    g_streamed += len;
    if (memchr(data, '!', len) != NULL) {
        g_refused = req;
        return 1;
    }
    if (g_streamed & 1)
        http_req_body_pause(req);
    return 0;
}

static void stream_end(struct http_req *req, void *ud)
{
    (void)ud;
    char n[32];
    int len = snprintf(n, sizeof(n), "%zu", g_streamed);
    http_respond(req, 200, "text/plain", n, (size_t)len);
}

static void stream_abort(struct http_req *req, void *ud)
{
    (void)ud;
    http_respond_error(req, 400, "bad_request", "interrupted", NULL);
}

static const struct http_body_sink stream_sink = {stream_data, stream_end, stream_abort};

static void stream(struct http_req *req, void *ud)
{
    (void)ud;
    g_streamed = 0;
    if (http_req_content_length(req) > 100000) {
        http_respond_error(req, 413, "payload_too_large", "too large", NULL);
        return;
    }
    http_req_body_stream(req, &stream_sink, NULL);
}

static void on_text(struct ws_conn *c, const char *data, size_t len, void *ud)
{
    (void)ud;
    ws_conn_send_text(c, data, len);
}

static struct config g_cfg;
static struct server g_srv;
static struct loop *g_loop;
static struct router *g_router;
static struct metrics *g_metrics;

static void setup(void)
{
    config_defaults(&g_cfg);
    g_cfg.max_body = 2048;
    g_cfg.max_url = 512;
    g_cfg.max_header_bytes = 2048;
    g_cfg.max_headers = 16;
    g_cfg.ws_max_message = 1024;
    free(g_cfg.cors_origins);
    g_cfg.cors_origins = xstrdup("https://a.example,https://b.example");
    g_cfg.trust_proxy = true; /* the X-Forwarded-For walk runs on every request */
    log_setup(LOG_OFF, false);
    g_router = router_new();
    router_add(g_router, HTTP_M_POST | HTTP_M_PUT, "/echo", echo, NULL);
    router_add(g_router, HTTP_M_GET | HTTP_M_DELETE, "/users/{id}", user, NULL);
    router_add_stream(g_router, HTTP_M_POST, "/stream", stream, NULL);
    g_metrics = metrics_new(1, g_router);
    g_srv.opts.cfg = &g_cfg;
    g_srv.opts.router = g_router;
    g_srv.opts.metrics = g_metrics;
    g_srv.opts.ws.on_text = on_text;
    g_srv.nloops = 1;
    char why[200];
    int n = cidr_list_parse("127.0.0.0/8,10.0.0.0/8,2001:db8::/32", &g_srv.proxies, NULL, why,
                            sizeof(why));
    g_srv.nproxies = n > 0 ? (size_t)n : 0;
    g_loop = calloc(1, sizeof(struct loop));
    g_loop->srv = &g_srv;
    g_loop->metrics = metrics_shard(g_metrics, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_loop == NULL)
        setup();
    if (size < 1)
        return 0;
    unsigned chunk = (data[0] % 32) + 1; /* 1..32 byte chunks; 32 means "as one piece" */
    data++;
    size--;

    struct conn *c = calloc(1, sizeof(*c));
    c->loop = g_loop;
    c->kind = CONN_HTTP;
    strcpy(c->peer, "127.0.0.1");
    net__http_init(c);
    g_out_bytes = 0;

    size_t off = 0;
    g_refused = NULL;
    while (off < size && c->state == CONN_OPEN) {
        if (c->kind == CONN_HTTP && c->u.http.body_hold && c->u.http.req != NULL)
            http_req_body_resume(c->u.http.req);
        size_t n = chunk == 32 ? size - off : chunk;
        if (n > size - off)
            n = size - off;
        if (c->kind == CONN_HTTP)
            net__http_feed(c, (const char *)data + off, n);
        else
            net__ws_feed(c, (const char *)data + off, n);
        off += n;
    }
    if (g_refused != NULL)
        http_respond_error(g_refused, 413, "payload_too_large", "refused", NULL);
    net__conn_abort(c);
    if (c->kind == CONN_HTTP)
        net__http_release(c);
    else
        net__ws_release(c);
    buf_release(&c->out);
    free(c);
    return 0;
}
