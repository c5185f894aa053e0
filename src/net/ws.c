/*
 * WebSocket connections: the RFC 6455 opening handshake on top of an HTTP
 * request, then frames through the parser in ws_frame.c. Text messages go to
 * the application (struct ws_app); pings are answered; the close handshake,
 * protocol errors, the server heartbeat and the output bound end connections
 * with the right close code.
 */
#include "net/internal.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "metrics/metrics.h"
#include "net/http.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct conn *net__http_req_conn(struct http_req *r);

static struct ws_conn *as_ws(struct conn *c)
{
    return (struct ws_conn *)c;
}

static struct conn *as_conn(struct ws_conn *w)
{
    return (struct conn *)w;
}

/* ---------------------------------------------------------------- sending */

static void send_frame(struct conn *c, int opcode, const void *data, size_t len)
{
    uint8_t hdr[10];
    size_t hl = ws_frame_header(hdr, opcode, true, len);
    net__conn_send(c, hdr, hl);
    if (len && c->state != CONN_CLOSED)
        net__conn_send(c, data, len);
    metrics_ws_frame(c->loop->metrics, METRICS_OUT, 1, hl + len);
}

static void send_close(struct conn *c, int code, const char *reason)
{
    if (c->u.ws.close_sent || c->state != CONN_OPEN)
        return;
    uint8_t payload[125];
    size_t n = 0;
    if (code != WS_CLOSE_NO_STATUS) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)(code & 0xff);
        n = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > sizeof(payload) - 2)
            rl = sizeof(payload) - 2;
        if (rl)
            memcpy(payload + 2, reason, rl);
        n += rl;
    }
    c->u.ws.close_sent = true;
    send_frame(c, WS_OP_CLOSE, payload, n);
    net__conn_close_after_flush(c);
}

void ws_conn_send_text(struct ws_conn *w, const char *data, size_t len)
{
    struct conn *c = as_conn(w);
    if (c->state != CONN_OPEN || c->u.ws.close_sent)
        return;
    send_frame(c, WS_OP_TEXT, data, len);
}

struct frame *ws_frame_text(const char *data, size_t len)
{
    uint8_t hdr[10];
    size_t hl = ws_frame_header(hdr, WS_OP_TEXT, true, len);
    struct frame *f = frame_new(hl + len);
    memcpy(f->data, hdr, hl);
    if (len)
        memcpy(f->data + hl, data, len);
    return f;
}

void ws_conn_send_frame(struct ws_conn *w, struct frame *f)
{
    struct conn *c = as_conn(w);
    if (c->state != CONN_OPEN || c->u.ws.close_sent)
        return;
    net__conn_send_frame(c, f);
    metrics_ws_frame(c->loop->metrics, METRICS_OUT, 1, f->len);
}

void ws_conn_close(struct ws_conn *w, int code, const char *reason)
{
    send_close(as_conn(w), code, reason);
}

const char *ws_conn_session_id(const struct ws_conn *w)
{
    return ((const struct conn *)w)->u.ws.session_id;
}

int ws_conn_heartbeat_ms(const struct ws_conn *w)
{
    return ((const struct conn *)w)->loop->srv->opts.cfg->ws_heartbeat_ms;
}

size_t ws_conn_room(const struct ws_conn *w)
{
    const struct conn *c = (const struct conn *)w;
    size_t bound = c->loop->srv->opts.cfg->ws_max_queue, waiting = net__conn_backlog(c);
    return waiting < bound ? bound - waiting : 0;
}

void *ws_conn_user(const struct ws_conn *w)
{
    return ((const struct conn *)w)->u.ws.user;
}

int ws_conn_loop(const struct ws_conn *w)
{
    return ((const struct conn *)w)->loop->idx;
}

void net__ws_overflow(struct conn *c)
{
    if (c->state != CONN_OPEN)
        return;
    log_warn("ws", "closing slow client: output over %zu bytes peer=%s",
             c->loop->srv->opts.cfg->ws_max_queue, c->peer);
    /* drop what waits; the close frame (1008) goes after what the socket already has */
    net__conn_drop_pending(c);
    uint8_t frame[4] = {0x88, 2, WS_CLOSE_POLICY >> 8, WS_CLOSE_POLICY & 0xff};
    c->u.ws.close_sent = true;
    if (c->queued == 0) { /* nothing under way: one try, then the socket goes */
        uv_buf_t b = uv_buf_init((char *)frame, sizeof(frame));
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        net__conn_abort(c);
        return;
    }
    /* a write is under way (the peer stopped reading): the close frame follows it, so a
     * reader that resumes gets whole frames, then 1008, then the end of the connection. The
     * socket holds no more than that write meanwhile, and a peer that never reads again is
     * dropped after HERALD_IDLE_TIMEOUT (the sweep of a draining connection). */
    buf_append(&c->out, frame, sizeof(frame));
    net__conn_close_after_flush(c);
}

/* ---------------------------------------------------------------- receiving */

static int on_message(void *ud, int opcode, const char *data, size_t len)
{
    struct conn *c = ud;
    const struct ws_app *app = &c->loop->srv->opts.ws;
    metrics_ws_frame(c->loop->metrics, METRICS_IN, 1, 0);
    if (opcode == WS_OP_BINARY) {
        send_close(c, WS_CLOSE_UNSUPPORTED, "binary messages are not supported");
        return 1;
    }
    if (app->on_text)
        app->on_text(as_ws(c), data, len, app->ud);
    return c->state == CONN_OPEN ? 0 : 1;
}

static int on_ping(void *ud, const char *data, size_t len)
{
    struct conn *c = ud;
    metrics_ws_frame(c->loop->metrics, METRICS_IN, 1, 0);
    send_frame(c, WS_OP_PONG, data, len);
    return c->state == CONN_OPEN ? 0 : 1;
}

static int on_pong(void *ud, const char *data, size_t len)
{
    struct conn *c = ud;
    (void)data;
    (void)len;
    metrics_ws_frame(c->loop->metrics, METRICS_IN, 1, 0);
    return 0;
}

static int on_close_frame(void *ud, int code, const char *reason, size_t len)
{
    struct conn *c = ud;
    (void)reason;
    (void)len;
    metrics_ws_frame(c->loop->metrics, METRICS_IN, 1, 0);
    /* echo the code (RFC 6455 §5.5.1); a close without a code is answered with 1000 */
    send_close(c, code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : code, NULL);
    return 1;
}

static const struct ws_parser_cb parser_cb = {
    .on_message = on_message,
    .on_ping = on_ping,
    .on_pong = on_pong,
    .on_close = on_close_frame,
};

void net__ws_feed(struct conn *c, const char *data, size_t len)
{
    c->u.ws.ping_out = false;
    metrics_ws_frame(c->loop->metrics, METRICS_IN, 0, len);
    int rc = ws_parser_feed(&c->u.ws.parser, (const uint8_t *)data, len, &parser_cb, c);
    if (rc > 0 && c->state == CONN_OPEN) {
        const char *why = rc == WS_CLOSE_INVALID_DATA ? "invalid utf-8"
                          : rc == WS_CLOSE_TOO_BIG    ? "message too big"
                                                      : "protocol error";
        send_close(c, rc, why);
    }
}

void net__ws_sweep(struct conn *c, uint32_t now)
{
    int hb = c->loop->srv->opts.cfg->ws_heartbeat_ms;
    if (c->state != CONN_OPEN)
        return;
    const struct ws_app *app = &c->loop->srv->opts.ws;
    if (app->on_tick)
        app->on_tick(as_ws(c), app->ud);
    if (c->state != CONN_OPEN)
        return;
    if (c->u.ws.ping_out) {
        if ((int32_t)(now - c->u.ws.ping_at) >= hb) {
            log_info("ws", "closing dead peer: no answer to heartbeat peer=%s", c->peer);
            send_close(c, WS_CLOSE_GOING_AWAY, "heartbeat timeout");
            net__conn_abort(c);
        }
    } else if ((int32_t)(now - c->last_rx) >= hb) {
        c->u.ws.ping_out = true;
        c->u.ws.ping_at = now;
        send_frame(c, WS_OP_PING, NULL, 0);
    }
}

void net__ws_shutdown(struct conn *c)
{
    send_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
}

void net__ws_detach(struct conn *c)
{
    const struct ws_app *app = &c->loop->srv->opts.ws;
    if (app->on_close)
        app->on_close(as_ws(c), app->ud);
}

void net__ws_release(struct conn *c)
{
    ws_parser_release(&c->u.ws.parser);
}

/* ---------------------------------------------------------------- handshake */

static bool key_is_valid(const char *key)
{
    /* base64 of 16 bytes: 22 characters and "==" */
    if (key == NULL || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return false;
    unsigned char out[32];
    int n = EVP_DecodeBlock(out, (const unsigned char *)key, 24);
    return n == 18; /* EVP_DecodeBlock counts the padding bytes */
}

/* Browser origins must be allowed: the server's own (the pages it serves), or one of the
 * CORS list. */
static bool origin_allowed(struct http_req *r, const struct config *cfg)
{
    const char *origin = http_req_header(r, "Origin");
    if (origin == NULL)
        return true; /* not a browser */
    const char *host = http_req_header(r, "Host");
    const char *sep = strstr(origin, "://");
    if (host && sep && strcasecmp(sep + 3, host) == 0)
        return true;
    const char *list = cfg->cors_origins;
    return list && list[0] && net__origin_listed(list, origin);
}

static void handshake_error(struct http_req *r, struct conn *c, int status, const char *code,
                            const char *msg)
{
    (void)c;
    http_respond_error(r, status, code, msg, NULL);
}

/* Answers 101 and turns c into a WebSocket; rest holds bytes that followed the request. */
static void complete_upgrade(struct http_req *r, struct conn *c, const char *rest, size_t restlen,
                             void *user)
{
    const struct config *cfg = c->loop->srv->opts.cfg;
    const char *key = http_req_header(r, "Sec-WebSocket-Key");
    unsigned char sha[SHA_DIGEST_LENGTH];
    char cat[64];
    snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)cat, strlen(cat), sha);
    char accept[32];
    EVP_EncodeBlock((unsigned char *)accept, sha, SHA_DIGEST_LENGTH);

    http_res_header(r, "Upgrade", "websocket");
    http_res_header(r, "Connection", "Upgrade");
    http_res_header(r, "Sec-WebSocket-Accept", accept);
    if (http_req_header_has_token(r, "Sec-WebSocket-Protocol", "herald.v1"))
        http_res_header(r, "Sec-WebSocket-Protocol", "herald.v1");
    http_respond(r, 101, NULL, NULL, 0); /* frees r */

    /* the connection becomes a WebSocket */
    net__http_release(c);
    memset(&c->u, 0, sizeof(c->u));
    c->kind = CONN_WS;
    metrics_conn_add(c->loop->metrics, METRICS_CONN_HTTP, -1);
    metrics_conn_add(c->loop->metrics, METRICS_CONN_WS, 1);
    ws_parser_init(&c->u.ws.parser, (uint32_t)cfg->ws_max_message, true);
    rand_hex(c->u.ws.session_id, 8);
    c->last_rx = net__now(c->loop);
    net__conn_resume_reading(c);

    c->u.ws.user = user;
    const struct ws_app *app = &c->loop->srv->opts.ws;
    if (app->on_open)
        app->on_open(as_ws(c), app->ud);
    if (restlen && c->state == CONN_OPEN)
        net__ws_feed(c, rest, restlen);
}

void net__ws_upgrade(struct http_req *r, struct conn *c, const char *rest, size_t restlen)
{
    const struct config *cfg = c->loop->srv->opts.cfg;
    const char *version = http_req_header(r, "Sec-WebSocket-Version");
    const char *key = http_req_header(r, "Sec-WebSocket-Key");

    if (http_req_method(r) != HTTP_M_GET) {
        http_res_header(r, "Allow", "GET");
        handshake_error(r, c, 405, "method_not_allowed", "WebSocket handshakes use GET");
        return;
    }
    if (!http_req_header_has_token(r, "Upgrade", "websocket") ||
        !http_req_header_has_token(r, "Connection", "upgrade")) {
        http_res_header(r, "Upgrade", "websocket");
        handshake_error(r, c, 426, "upgrade_required",
                        "this endpoint needs a WebSocket upgrade (Upgrade: websocket)");
        return;
    }
    if (version == NULL || strcmp(version, "13") != 0) {
        http_res_header(r, "Sec-WebSocket-Version", "13");
        handshake_error(r, c, 426, "upgrade_required", "unsupported Sec-WebSocket-Version; use 13");
        return;
    }
    if (!key_is_valid(key)) {
        handshake_error(r, c, 400, "bad_request",
                        "Sec-WebSocket-Key must be the base64 encoding of 16 bytes");
        return;
    }
    if (!origin_allowed(r, cfg)) {
        handshake_error(r, c, 403, "forbidden", "origin not allowed");
        return;
    }
    if (c->loop->stopping) {
        handshake_error(r, c, 503, "unavailable", "server is shutting down");
        return;
    }

    const struct ws_app *app = &c->loop->srv->opts.ws;
    if (app->on_handshake) {
        /* the application decides later; bytes after the request wait in pending */
        if (restlen)
            buf_append(&c->u.http.pending, rest, restlen);
        app->on_handshake(r, app->ud);
        return;
    }
    complete_upgrade(r, c, rest, restlen, NULL);
}

bool ws_accept(struct http_req *r, void *user)
{
    struct conn *c = net__http_req_conn(r);
    if (c == NULL || c->state != CONN_OPEN || c->kind != CONN_HTTP) {
        http_respond_error(r, 503, "unavailable", "connection gone", NULL); /* frees r */
        return false;
    }
    if (c->loop->stopping) {
        http_respond_error(r, 503, "unavailable", "server is shutting down", NULL);
        return false;
    }
    struct buf rest = c->u.http.pending;
    buf_init(&c->u.http.pending);
    complete_upgrade(r, c, rest.data, rest.len, user);
    buf_release(&rest);
    return true;
}
