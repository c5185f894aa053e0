/*
 * HTTP/1.1 on llhttp: request assembly with limits (414, 431, 413), Expect:
 * 100-continue, one request in flight per connection (the parser pauses after
 * each message, which keeps pipelined responses in order and lets handlers
 * answer asynchronously), routing and static files. Framing errors get 400
 * and the connection is closed. llhttp is built in its strict mode; what it
 * still lets through (bare LF and doubled spaces in the request line,
 * obs-fold, a missing or repeated Host, transfer codings other than one final
 * chunked, trailer fields) is refused here, with the checks of http_head.c:
 * docs/adr/0003 lists every case and its answer.
 *
 * The rest of the HTTP layer lives beside this file: http_respond.c (response
 * writing, error bodies, CORS), http_stream.c (streamed request bodies and
 * responses, docs/adr/0009), http_req.c (what a handler reads of a request);
 * what they share is in http_internal.h.
 */
#include "net/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "metrics/metrics.h"
#include "net/static_files.h"

#define ROUTE_WS (-3)

/* ---------------------------------------------------------------- request objects */

struct http_req *net__http_req_new(struct conn *c)
{
    struct http_req *r = xcalloc(1, sizeof(*r));
    r->conn = c;
    r->loop = c->loop;
    r->start_us = clock_mono_us();
    r->route_id = METRICS_ROUTE_UNMATCHED;
    r->method_name = "-";
    return r;
}

void net__http_req_free(struct http_req *r)
{
    if (r == NULL)
        return;
    buf_release(&r->store);
    buf_release(&r->body);
    buf_release(&r->res_headers);
    free(r->hdrs);
    free(r->path);
    free(r->query);
    for (int i = 0; i < r->nparams * 2; i++)
        free(r->params[i]);
    struct loop *l = r->counted ? r->loop : NULL;
    free(r);
    if (l)
        net__loop_req_end(l); /* last: the loop may end here */
}

/* ---------------------------------------------------------------- llhttp callbacks */

static void copy_params(struct http_req *r, const struct route_match *m);

static struct conn *parser_conn(llhttp_t *p)
{
    return p->data;
}

static const char *const why_text[] = {
    [WHY_LLHTTP] = NULL,
    [WHY_TARGET] = "invalid character in the request target",
    [WHY_HOST] = "an HTTP/1.1 request needs exactly one valid Host header",
    [WHY_TE_FINAL] = "Transfer-Encoding must end with a single chunked",
    [WHY_TE_HTTP10] = "Transfer-Encoding in an HTTP/1.0 request",
    [WHY_TE_CODING] = "only the chunked transfer coding is supported",
};

static int fail_why(struct conn *c, int status, enum why why)
{
    c->u.http.err_status = (uint16_t)status;
    c->u.http.err_why = (uint8_t)why;
    return -1;
}

static int fail(struct conn *c, int status)
{
    return fail_why(c, status, WHY_LLHTTP);
}

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    net__http_req_free(c->u.http.req);
    c->u.http.req = net__http_req_new(c);
    c->since = net__now(c->loop);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    struct http_req *r = c->u.http.req;
    r->url_len += len;
    if (r->url_len > c->loop->srv->opts.cfg->max_url)
        return fail(c, 414);
    for (size_t i = 0; i < len; i++) {
        /* visible ASCII only; a fragment is never part of a request target */
        unsigned char ch = (unsigned char)at[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '#')
            return fail_why(c, 400, WHY_TARGET);
    }
    buf_append(&r->store, at, len);
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    buf_putc(&c->u.http.req->store, '\0');
    return 0;
}

static int count_header_bytes(struct conn *c, size_t len)
{
    struct http_req *r = c->u.http.req;
    r->header_bytes += len;
    if (r->header_bytes > c->loop->srv->opts.cfg->max_header_bytes)
        return fail(c, 431);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    struct http_req *r = c->u.http.req;
    if (count_header_bytes(c, len))
        return -1;
    if (r->in_trailers)
        return 0;
    if (r->nhdrs == 0 || r->in_header_value) {
        if (r->nhdrs >= c->loop->srv->opts.cfg->max_headers)
            return fail(c, 431);
        if (r->nhdrs == r->caphdrs) {
            r->caphdrs = r->caphdrs ? r->caphdrs * 2 : 16;
            r->hdrs = xrealloc(r->hdrs, (size_t)r->caphdrs * sizeof(struct hdr));
        }
        struct hdr *h = &r->hdrs[r->nhdrs++];
        memset(h, 0, sizeof(*h));
        h->name = r->store.len;
        r->in_header_value = false;
    }
    buf_append(&r->store, at, len);
    r->hdrs[r->nhdrs - 1].name_len += len;
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    struct http_req *r = c->u.http.req;
    if (r->in_trailers)
        return 0;
    if (r->nhdrs == 0 || r->in_header_value || r->hdrs[r->nhdrs - 1].name_len == 0)
        return fail(c, 400); /* an empty field name */
    buf_putc(&r->store, '\0');
    r->hdrs[r->nhdrs - 1].val = r->store.len;
    r->in_header_value = true;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    struct http_req *r = c->u.http.req;
    if (count_header_bytes(c, len))
        return -1;
    if (r->in_trailers)
        return 0;
    buf_append(&r->store, at, len);
    r->hdrs[r->nhdrs - 1].val_len += len;
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct http_req *r = parser_conn(p)->u.http.req;
    if (r->in_trailers)
        return 0;
    /* a header with an empty value gets no on_header_value call */
    buf_putc(&r->store, '\0');
    return 0;
}

static int method_bit(uint8_t m)
{
    switch (m) {
    case HTTP_GET:
        return HTTP_M_GET;
    case HTTP_HEAD:
        return HTTP_M_HEAD;
    case HTTP_POST:
        return HTTP_M_POST;
    case HTTP_PUT:
        return HTTP_M_PUT;
    case HTTP_PATCH:
        return HTTP_M_PATCH;
    case HTTP_DELETE:
        return HTTP_M_DELETE;
    case HTTP_OPTIONS:
        return HTTP_M_OPTIONS;
    default:
        return HTTP_M_OTHER;
    }
}

void net__http_send_continue(struct conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    net__conn_send(c, cont, sizeof(cont) - 1);
    net__conn_flush(c);
}

/* 8 hex digits of the loop prefix, 8 of the sequence number. */
static void id_format(char *out, uint32_t prefix, uint64_t seq)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--, prefix >>= 4)
        out[i] = hex[prefix & 15];
    for (int i = 15; i >= 8; i--, seq >>= 4)
        out[i] = hex[seq & 15];
    out[16] = '\0';
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    struct http_req *r = c->u.http.req;
    const struct config *cfg = c->loop->srv->opts.cfg;

    r->llmethod = (uint8_t)llhttp_get_method(p);
    r->method = method_bit(r->llmethod);
    r->method_name = llhttp_method_name((llhttp_method_t)r->llmethod);
    r->http_minor = llhttp_get_http_minor(p);
    r->keep_alive = llhttp_should_keep_alive(p) != 0;
    if (llhttp_get_http_major(p) != 1)
        return fail(c, 505);
    if (r->llmethod == HTTP_CONNECT)
        return fail(c, 405);
    r->in_trailers = true; /* later field lines are trailers */
    if (!net__http_host_is_sane(r))
        return fail_why(c, 400, WHY_HOST);
    int te_status;
    enum why te = net__http_transfer_codings_check(r, &te_status);
    if (te != WHY_LLHTTP)
        return fail_why(c, te_status, te);

    /* split the target into path and query */
    const char *url = r->store.data ? r->store.data : "/";
    const char *q = strchr(url, '?');
    const char *hash = strchr(url, '#');
    size_t plen = q ? (size_t)(q - url) : (hash ? (size_t)(hash - url) : strlen(url));
    if (plen == 0 || url[0] != '/') {
        if (!(plen == 1 && url[0] == '*' && r->method == HTTP_M_OPTIONS))
            return fail(c, 400);
    }
    r->path = xstrndup(url, plen);
    if (q) {
        size_t qlen = hash && hash > q ? (size_t)(hash - q - 1) : strlen(q + 1);
        r->query = xstrndup(q + 1, qlen);
    } else {
        r->query = xstrdup("");
    }

    /* request id: echo a sane client one, else generate */
    const char *rid = http_req_header(r, "X-Request-Id");
    size_t ridlen = rid ? strlen(rid) : 0;
    bool sane = ridlen > 0 && ridlen < sizeof(r->id);
    for (size_t i = 0; sane && i < ridlen; i++) {
        char ch = rid[i];
        sane = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '_' || ch == '.' || ch == ':';
    }
    if (sane)
        memcpy(r->id, rid, ridlen + 1);
    else
        id_format(r->id, c->loop->id_prefix, ++c->loop->req_seq);

    /* a streaming route gets the head now and its body as it arrives, without max_body;
     * a request without a body (or an upgrade) is dispatched as usual */
    bool has_body =
        (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
    if (has_body && !(p->flags & F_UPGRADE) && r->method != HTTP_M_GET &&
        r->method != HTTP_M_HEAD) {
        struct route_match m;
        if (router_match(c->loop->srv->opts.router, r->method, r->path, &m) == 0 && m.stream) {
            r->stream_fn = m.fn;
            r->stream_ud = m.ud;
            r->route_id = m.route_id;
            copy_params(r, &m);
        }
    }
    if (r->stream_fn == NULL && (p->flags & F_CONTENT_LENGTH) && p->content_length > cfg->max_body)
        return fail(c, 413);

    const char *expect = http_req_header(r, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return fail(c, 417);
        /* a streaming route's handler may refuse from the head: it sends 100 when it
         * takes the body (http_req_body_stream) */
        if (r->http_minor >= 1 && !(p->flags & F_UPGRADE)) {
            if (r->stream_fn != NULL)
                r->want_continue = true;
            else
                net__http_send_continue(c);
        }
    }
    return r->stream_fn != NULL ? HPE_PAUSED : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    struct http_req *r = c->u.http.req;
    if (r->stream_fn != NULL) {
        net__http_stream_body(r, at, len); /* a streaming route: to its sink */
        return 0;
    }
    if (r->body.len + len > c->loop->srv->opts.cfg->max_body)
        return fail(c, 413);
    buf_append(&r->body, at, len);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct conn *c = parser_conn(p);
    struct http_req *r = c->u.http.req;
    r->complete = true;
    c->u.http.head_scan = HS_START; /* the next bytes start a new request */
    if (p->upgrade) {
        r->upgrade = true;
        return 0; /* llhttp returns HPE_PAUSED_UPGRADE */
    }
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---------------------------------------------------------------- connection state */

void net__http_init(struct conn *c)
{
    llhttp_init(&c->u.http.parser, HTTP_REQUEST, &settings);
    c->u.http.parser.data = c;
    buf_init(&c->u.http.pending);
    c->u.http.req = NULL;
    c->u.http.err_status = 0;
    c->u.http.err_why = WHY_LLHTTP;
    c->u.http.head_scan = HS_START;
    c->u.http.paused = false;
    c->u.http.streaming = false;
    c->u.http.body_hold = false;
    c->u.http.in_process = false;
}

void net__http_release(struct conn *c)
{
    /* an in-flight request was detached before; only an unfinished one is ours */
    if (c->u.http.req && !c->u.http.paused)
        net__http_req_free(c->u.http.req);
    c->u.http.req = NULL;
    buf_release(&c->u.http.pending);
}

void net__http_detach(struct conn *c)
{
    struct http_req *r = c->u.http.req;
    if (r && c->u.http.paused)
        net__http_stream_detach(c);
}

bool net__http_is_idle(const struct conn *c)
{
    return c->u.http.req == NULL && c->u.http.pending.len == 0;
}

void net__http_sweep(struct conn *c, uint32_t now)
{
    const struct config *cfg = c->loop->srv->opts.cfg;
    if (c->u.http.streaming && !c->u.http.body_hold &&
        (int32_t)(now - c->last_rx) >= cfg->idle_timeout_ms) {
        /* a streamed body that stopped arriving: the handler hears on_abort */
        net__conn_abort(c);
        return;
    }
    if (c->u.http.paused)
        return; /* a handler is working; it answers or the client goes */
    if (c->u.http.req) {
        if ((int32_t)(now - c->since) >= cfg->header_timeout_ms) {
            /* the request has not arrived in time: 408 and close */
            c->u.http.err_status = 408;
            static const char msg[] =
                "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                "Content-Length: 73\r\nConnection: close\r\n\r\n"
                "{\"error\":{\"code\":\"timeout\",\"message\":\"request not received in time\"}}";
            net__conn_send(c, msg, sizeof(msg) - 1);
            net__conn_close_after_flush(c);
        }
    } else if ((int32_t)(now - c->last_rx) >= cfg->idle_timeout_ms) {
        net__conn_close_after_flush(c);
    }
}

/* An error found by the parser: answer it and close (the framing is unknown). */
static void parse_error(struct conn *c, int status, const char *why)
{
    const char *code = "bad_request";
    const char *msg = why;
    switch (status) {
    case 413:
        code = "payload_too_large";
        msg = "request body too large";
        break;
    case 414:
        code = "uri_too_long";
        msg = "request target too long";
        break;
    case 431:
        code = "headers_too_large";
        msg = "request headers too large";
        break;
    case 417:
        code = "expectation_failed";
        msg = "only Expect: 100-continue is supported";
        break;
    case 405:
        code = "method_not_allowed";
        msg = "method not allowed";
        break;
    case 501:
        code = "not_implemented";
        break;
    case 505:
        code = "http_version_not_supported";
        msg = "only HTTP/1.x is supported";
        break;
    default:
        break;
    }
    struct http_req *r = c->u.http.req;
    if (r != NULL && r->head_dispatched) {
        /* a streamed body went wrong: the handler keeps its request (told through on_abort,
         * it answers into the void) and the error goes out on a request of its own */
        char id[sizeof(r->id)];
        memcpy(id, r->id, sizeof(id));
        net__http_stream_detach(c);
        r = c->u.http.req = net__http_req_new(c);
        memcpy(r->id, id, sizeof(id));
    }
    if (r == NULL)
        r = c->u.http.req = net__http_req_new(c);
    r->keep_alive = false;
    if (r->id[0] == '\0')
        snprintf(r->id, sizeof(r->id), "err-%08x", (unsigned)(clock_mono_us() & 0xffffffffu));
    if (r->method == HTTP_M_HEAD)
        r->method = HTTP_M_OTHER; /* send a body even if the request said HEAD */
    c->u.http.paused = false;
    if (status == 405) /* CONNECT: its target names no resource, so every method served */
        http_res_header(r, "Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    http_respond_error(r, status, code, msg, NULL);
}

/* ---------------------------------------------------------------- dispatch */

static void copy_params(struct http_req *r, const struct route_match *m)
{
    for (int i = 0; i < m->nparams; i++) {
        char *val = xmalloc(m->params[i].len + 1);
        if (url_decode(m->params[i].val, m->params[i].len, val, false) < 0) {
            memcpy(val, m->params[i].val, m->params[i].len);
            val[m->params[i].len] = '\0';
        }
        r->params[2 * i] = xstrdup(m->params[i].name);
        r->params[2 * i + 1] = val;
        r->nparams++;
    }
}

/* Whether a parameter of query has a malformed escape (a % without two hex digits, or %00);
 * its name (the raw text, at most 64 bytes; "" when the name itself is malformed) into name. */
static bool query_malformed(const char *q, char name[65])
{
    while (*q != '\0') {
        size_t len = strcspn(q, "&");
        size_t nlen = strcspn(q, "=&");
        for (size_t i = 0; i < len; i++) {
            if (q[i] != '%')
                continue;
            int hi = i + 2 < len ? url_hexval(q[i + 1]) : -1;
            int lo = i + 2 < len ? url_hexval(q[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                bool in_name = i < nlen;
                size_t n = in_name ? 0 : (nlen < 64 ? nlen : 64);
                memcpy(name, q, n);
                name[n] = '\0';
                return true;
            }
            i += 2;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return false;
}

void net__http_dispatch(struct conn *c, const char *rest, size_t restlen)
{
    struct http_req *r = c->u.http.req;
    const struct server_opts *o = &c->loop->srv->opts;
    c->u.http.paused = true;
    r->counted = true;
    net__loop_req_begin(c->loop);
    if (o->cfg->trust_proxy)
        http_req_peer(r); /* the client address stays known if the client goes */

    if (strcmp(r->path, "/ws") == 0) {
        r->route_id = ROUTE_WS;
        if (r->upgrade)
            r->keep_alive = false; /* a refused upgrade leaves the framing unknown: close */
        net__ws_upgrade(r, c, rest, restlen);
        return;
    }
    if (r->upgrade) {
        /* an Upgrade we do not take: answer as plain HTTP and go on */
        llhttp_resume_after_upgrade(&c->u.http.parser);
        r->upgrade = false;
        if (restlen) {
            buf_append(&c->u.http.pending, rest, restlen);
        }
    }
    if (r->method == HTTP_M_OPTIONS && http_req_header(r, "Origin") &&
        http_req_header(r, "Access-Control-Request-Method")) {
        net__http_preflight(r);
        return;
    }
    struct route_match m;
    int rc = router_match(o->router, r->method, r->path, &m);
    if (rc == 0) {
        r->route_id = m.route_id;
        char bad[65];
        if (strncmp(r->path, "/api/", 5) == 0 && query_malformed(http_req_query(r), bad)) {
            http_respond_error(r, 422, "validation_failed",
                               "is not validly percent-encoded (a % takes two hex digits; no %00)",
                               bad[0] ? bad : NULL);
            return;
        }
        copy_params(r, &m);
        m.fn(r, m.ud);
        return;
    }
    char allow[128];
    if (rc == ERR_NOMETHOD) {
        r->route_id = METRICS_ROUTE_UNMATCHED;
        router_allow_string(m.allow | HTTP_M_OPTIONS, allow, sizeof(allow));
        http_res_header(r, "Allow", allow);
        if (r->method == HTTP_M_OPTIONS) {
            http_respond(r, 204, NULL, NULL, 0);
            return;
        }
        char msg[160];
        snprintf(msg, sizeof(msg), "method %s not allowed; allowed: %s", http_req_method_name(r),
                 allow);
        http_respond_error(r, 405, "method_not_allowed", msg, NULL);
        return;
    }
    if ((r->method == HTTP_M_GET || r->method == HTTP_M_HEAD) && o->statics) {
        r->route_id = METRICS_ROUTE_STATIC;
        if (static_files_serve(o->statics, r))
            return;
        r->route_id = METRICS_ROUTE_UNMATCHED;
    }
    char msg[200];
    snprintf(msg, sizeof(msg), "no route for %s %.120s", http_req_method_name(r), r->path);
    http_respond_error(r, 404, "not_found", msg, NULL);
}

/*
 * True while the parser may run: no request in flight, or one whose body flows to its sink
 * and the sink has not asked to wait.
 */
static bool can_parse(const struct conn *c)
{
    if (c->state != CONN_OPEN || c->kind != CONN_HTTP)
        return false;
    return !c->u.http.paused || (c->u.http.streaming && !c->u.http.body_hold);
}

bool net__http_streaming(const struct conn *c)
{
    return c->u.http.streaming;
}

bool net__http_wants_read(const struct conn *c)
{
    return can_parse(c);
}

/* Runs the parser over data; dispatches each complete request. */
static void process(struct conn *c, const char *data, size_t len)
{
    bool outer = !c->u.http.in_process;
    c->u.http.in_process = true;
    while (len > 0 && can_parse(c)) {
        llhttp_t *p = &c->u.http.parser;
        if (c->u.http.head_scan != HS_DONE) {
            const char *why = net__http_head_scan(c, data, len);
            if (why != NULL) {
                parse_error(c, 400, why);
                len = 0;
                break;
            }
        }
        llhttp_errno_t err = llhttp_execute(p, data, len);
        if (err == HPE_OK) {
            len = 0;
            break;
        }
        if (err == HPE_PAUSED) {
            const char *pos = llhttp_get_error_pos(p);
            size_t used = pos ? (size_t)(pos - data) : len;
            llhttp_resume(p);
            data += used;
            len -= used;
            struct http_req *r = c->u.http.req;
            if (r != NULL && r->stream_fn != NULL)
                net__http_stream_paused(c, r);
            else
                net__http_dispatch(c, NULL, 0);
            continue; /* while the handler answers later, the rest waits in pending */
        }
        if (err == HPE_PAUSED_UPGRADE) {
            const char *pos = llhttp_get_error_pos(p);
            size_t used = pos ? (size_t)(pos - data) : len;
            struct http_req *r = c->u.http.req;
            size_t rest = len - used;
            len = 0;
            if (r == NULL || !r->complete) {
                parse_error(c, 400, "malformed upgrade request");
                break;
            }
            net__http_dispatch(c, data + used, rest);
            /* on upgrade the rest went to the WebSocket; otherwise it is in pending */
            if (c->kind == CONN_HTTP && c->u.http.paused)
                net__conn_pause_reading(c);
            else if (c->kind == CONN_HTTP && c->state == CONN_OPEN)
                net__http_resume(c);
            break;
        }
        int status = c->u.http.err_status ? c->u.http.err_status : 400;
        const char *why = why_text[c->u.http.err_why];
        if (why == NULL)
            why = llhttp_get_error_reason(p) ? llhttp_get_error_reason(p) : "malformed request";
        parse_error(c, status, why);
        len = 0;
        break;
    }
    if (outer)
        c->u.http.in_process = false;
    if (len > 0 && c->state == CONN_OPEN && c->kind == CONN_HTTP) {
        /* a handler answers later, or a sink waits: keep the rest for then */
        buf_append(&c->u.http.pending, data, len);
        net__conn_pause_reading(c);
    }
}

void net__http_resume(struct conn *c)
{
    if (c->state != CONN_OPEN || c->kind != CONN_HTTP)
        return;
    while (c->u.http.pending.len && can_parse(c)) {
        struct buf tmp = c->u.http.pending;
        buf_init(&c->u.http.pending);
        process(c, tmp.data, tmp.len);
        /* process() may have stashed an unprocessed tail into pending again */
        buf_release(&tmp);
    }
    if (can_parse(c))
        net__conn_resume_reading(c);
}

void net__http_feed(struct conn *c, const char *data, size_t len)
{
    if (!can_parse(c)) {
        /* a request is in flight: hold the bytes (bounded: reading stops) */
        buf_append(&c->u.http.pending, data, len);
        net__conn_pause_reading(c);
        return;
    }
    process(c, data, len);
}
