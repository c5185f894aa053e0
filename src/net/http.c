/*
 * HTTP/1.1 on llhttp: request assembly with limits (414, 431, 413), Expect:
 * 100-continue, one request in flight per connection (the parser pauses after
 * each message, which keeps pipelined responses in order and lets handlers
 * answer asynchronously), CORS, routing, static files and response writing.
 * Framing errors get 400 and the connection is closed. llhttp is built in its
 * strict mode; what it still lets through (bare LF and doubled spaces in the
 * request line, obs-fold, a missing or repeated Host, transfer codings other
 * than one final chunked, trailer fields) is refused here: docs/adr/0003
 * lists every case and its answer.
 */
#include "net/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/cidr.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "metrics/metrics.h"
#include "net/http.h"
#include "net/static_files.h"
#include "router/router.h"

#define ROUTE_WS (-3)

struct hdr {
    size_t name, name_len, val, val_len; /* offsets into req->store while parsing */
};

struct http_req {
    struct conn *conn; /* NULL once the client has gone */
    struct loop *loop;
    uint64_t start_us;
    int method;
    const char *method_name; /* static storage; "-" until the request line is parsed */
    uint8_t llmethod;
    uint8_t http_minor;
    bool keep_alive;
    bool complete;
    bool upgrade;
    bool in_header_value;
    bool in_trailers; /* after the head: trailer fields are counted, never stored */
    bool peer_done;   /* fwd_peer holds the answer of http_req_peer */
    bool counted;     /* dispatched: counted in loop->inflight until freed */
    int route_id;
    route_fn stream_fn; /* a streaming route (router_add_stream): run at the end of the head */
    void *stream_ud;
    bool head_dispatched; /* stream_fn has run */
    bool sink_stopped;    /* the sink's on_data refused more: the rest is discarded */
    bool want_continue;   /* Expect: 100-continue on a streaming route, not answered yet */
    const struct http_body_sink *sink;
    void *sink_ud;
    size_t header_bytes;
    struct buf store; /* url, header names and values, NUL-separated */
    size_t url_len;
    struct hdr *hdrs;
    int nhdrs, caphdrs;
    char *path, *query; /* separate copies, made at headers-complete */
    struct buf body;
    struct buf res_headers; /* extra response headers, "Name: value\r\n" each */
    char *params[ROUTER_MAX_PARAMS * 2];
    int nparams;
    /* a streamed response (http_res_begin) */
    bool res_begun, res_keep;
    int res_status;
    uint64_t res_len, res_sent;
    void (*drain_fn)(struct http_req *, void *);
    void *drain_ud;
    size_t drain_low;
    char id[40];
    char fwd_peer[64]; /* client address from X-Forwarded-For, when trusted */
};

/* ---------------------------------------------------------------- request objects */

static struct http_req *req_new(struct conn *c)
{
    struct http_req *r = xcalloc(1, sizeof(*r));
    r->conn = c;
    r->loop = c->loop;
    r->start_us = clock_mono_us();
    r->route_id = METRICS_ROUTE_UNMATCHED;
    r->method_name = "-";
    return r;
}

static void req_free(struct http_req *r)
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

static const char *hdr_name(const struct http_req *r, int i)
{
    return r->store.data + r->hdrs[i].name;
}

static const char *hdr_val(const struct http_req *r, int i)
{
    return r->store.data + r->hdrs[i].val;
}

/* ---------------------------------------------------------------- llhttp callbacks */

static void copy_params(struct http_req *r, const struct route_match *m);
static void drained_fire(struct http_req *r);

static struct conn *parser_conn(llhttp_t *p)
{
    return p->data;
}

/* Why a callback refused a request: the message of the error answer. */
enum why {
    WHY_LLHTTP = 0, /* llhttp's own reason */
    WHY_TARGET,
    WHY_HOST,
    WHY_TE_FINAL,
    WHY_TE_HTTP10,
    WHY_TE_CODING,
};

static const char *const why_text[] = {
    [WHY_LLHTTP] = NULL,
    [WHY_TARGET] = "invalid character in the request target",
    [WHY_HOST] = "an HTTP/1.1 request needs exactly one valid Host header",
    [WHY_TE_FINAL] = "Transfer-Encoding must end with a single chunked",
    [WHY_TE_HTTP10] = "Transfer-Encoding in an HTTP/1.0 request",
    [WHY_TE_CODING] = "only the chunked transfer coding is supported",
};

/*
 * The line syntax of a request head, checked before llhttp sees the bytes
 * because llhttp accepts some of it even in strict mode: every line ends with
 * CRLF (a bare LF after the request line, or before it, is refused), the
 * request line has single spaces, and no field line starts with whitespace
 * (obs-fold, RFC 9112 5.2) or a colon (an empty name). Empty lines before the
 * request line are skipped (RFC 9112 2.2). The state lives in the connection
 * because a head may arrive in pieces; it is reset when a message completes.
 */
enum head_scan {
    HS_START = 0, /* before the request line */
    HS_START_CR,
    HS_LINE, /* in the request line */
    HS_LINE_SP,
    HS_LINE_CR,
    HS_FIELD_START, /* at the start of a field line or of the empty line */
    HS_FIELD,
    HS_FIELD_CR,
    HS_END_CR,
    HS_DONE, /* head complete: nothing to check until the next message */
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
    req_free(c->u.http.req);
    c->u.http.req = req_new(c);
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

static void send_continue(struct conn *c)
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

/* A Host value: uri-host [":" port], possibly empty (RFC 9112 3.2, RFC 3986 3.2.2). */
static bool host_is_valid(const char *h)
{
    for (; *h; h++) {
        char ch = *h;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') ||
                  (ch != '\0' && strchr("-._~%!$&'()*+,;=:[]", ch) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

/* Exactly one valid Host in HTTP/1.1, at most one in HTTP/1.0. */
static bool host_is_sane(const struct http_req *r)
{
    int n = 0;
    for (int i = 0; i < r->nhdrs; i++) {
        if (strcasecmp(hdr_name(r, i), "Host") != 0)
            continue;
        if (++n > 1 || !host_is_valid(hdr_val(r, i)))
            return false;
    }
    return n == 1 || (n == 0 && r->http_minor == 0);
}

/*
 * The transfer codings of every Transfer-Encoding line, in order (RFC 9112
 * 6.1): absent is fine; otherwise they must end with the only chunked (else
 * the body length is unknown: 400), and chunked must be all there is (we
 * decode nothing else: 501). HTTP/1.0 has no transfer codings (400).
 */
static enum why transfer_codings_check(const struct http_req *r, int *status)
{
    bool any = false, last_chunked = false, other = false;
    int nchunked = 0;
    for (int i = 0; i < r->nhdrs; i++) {
        if (strcasecmp(hdr_name(r, i), "Transfer-Encoding") != 0)
            continue;
        any = true;
        for (const char *v = hdr_val(r, i);;) {
            while (*v == ' ' || *v == '\t')
                v++;
            const char *s = v;
            while (*v != '\0' && *v != ',')
                v++;
            const char *e = v;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > s) { /* empty list elements are allowed */
                last_chunked = e - s == 7 && strncasecmp(s, "chunked", 7) == 0;
                nchunked += last_chunked;
                other |= !last_chunked;
            }
            if (*v == '\0')
                break;
            v++;
        }
    }
    *status = 400;
    if (!any)
        return WHY_LLHTTP;
    if (r->http_minor == 0)
        return WHY_TE_HTTP10;
    if (!last_chunked || nchunked != 1)
        return WHY_TE_FINAL;
    if (other) {
        *status = 501;
        return WHY_TE_CODING;
    }
    return WHY_LLHTTP;
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
    if (!host_is_sane(r))
        return fail_why(c, 400, WHY_HOST);
    int te_status;
    enum why te = transfer_codings_check(r, &te_status);
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
                send_continue(c);
        }
    }
    return r->stream_fn != NULL ? HPE_PAUSED : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);
    struct http_req *r = c->u.http.req;
    if (r->stream_fn != NULL) {
        /* a streamed body: to the sink (it copies what it keeps), or dropped after a refusal */
        if (r->sink != NULL && !r->sink_stopped && r->sink->on_data(r, at, len, r->sink_ud) != 0)
            r->sink_stopped = true;
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
        req_free(c->u.http.req);
    c->u.http.req = NULL;
    buf_release(&c->u.http.pending);
}

/*
 * Hands a dispatched request over to its handler for good: the connection forgets it (the
 * handler answers it into the void). A request whose body was still streaming hears of it
 * through its sink's on_abort (which may answer at once).
 */
static void stream_detach(struct conn *c)
{
    struct http_req *r = c->u.http.req;
    bool tell = r->sink != NULL && !r->sink_stopped && !r->complete;
    if (r->drain_fn != NULL)
        drained_fire(r); /* a streamed response waiting for the socket: it has gone */
    r->conn = NULL;      /* the handler still owns it and frees it when it answers */
    c->u.http.req = NULL;
    c->u.http.paused = false;
    c->u.http.streaming = false;
    c->u.http.body_hold = false;
    if (tell) {
        r->sink_stopped = true;
        r->sink->on_abort(r, r->sink_ud);
    }
}

void net__http_detach(struct conn *c)
{
    struct http_req *r = c->u.http.req;
    if (r && c->u.http.paused)
        stream_detach(c);
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

/* ---------------------------------------------------------------- responses */

static const char *date_header(struct loop *l)
{
    static _Thread_local char date[64];
    static _Thread_local time_t last;
    (void)l;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return date;
}

const char *http_status_text(int s)
{
    switch (s) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

bool net__origin_listed(const char *list, const char *origin)
{
    if (list == NULL || list[0] == '\0' || origin == NULL)
        return false;
    if (strcmp(list, "*") == 0)
        return true;
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == olen && strncasecmp(p, origin, len) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* Allowed CORS origin for this request, or NULL. */
static const char *cors_origin(const struct http_req *r)
{
    const char *origin = http_req_header(r, "Origin");
    return net__origin_listed(r->loop->srv->opts.cfg->cors_origins, origin) ? origin : NULL;
}

/* Continues with the bytes that arrived while a request was being handled. */
static void resume(struct conn *c);

static void finish(struct http_req *r, int status, size_t body_len)
{
    struct loop *l = r->loop;
    uint64_t us = clock_mono_us() - r->start_us;
    metrics_http_request(l->metrics, r->route_id, r->method, status, us);
    log_access(http_req_method_name(r), r->path ? r->path : "-", status,
               (unsigned long long)body_len, (unsigned long long)us,
               r->conn ? http_req_peer(r) : "-", r->id);
}

void http_res_header(struct http_req *r, const char *name, const char *value)
{
    buf_printf(&r->res_headers, "%s: %s\r\n", name, value);
}

/* Writes the status line and headers to c->out; returns whether the connection stays open. */
static bool write_head(struct http_req *r, struct conn *c, int status, const char *ctype,
                       uint64_t len)
{
    /* an answer before the whole body arrived (a streamed one) leaves the framing behind */
    bool keep = r->keep_alive && r->complete && !c->loop->stopping && status != 400 &&
                status != 408 && status != 413 && status != 414 && status != 431 && status != 101;
    struct buf *o = &c->out;
    /* built with puts, not printf: this is the hottest path of a busy server */
    buf_puts(o, "HTTP/1.1 ");
    buf_put_uint(o, (unsigned)status);
    buf_putc(o, ' ');
    buf_puts(o, http_status_text(status));
    buf_puts(o, "\r\nDate: ");
    buf_puts(o, date_header(c->loop));
    buf_puts(o, "\r\n");
    if (ctype) {
        buf_puts(o, "Content-Type: ");
        buf_puts(o, ctype);
        buf_puts(o, "\r\n");
    }
    if (status != 204 && status != 304 && status >= 200) {
        buf_puts(o, "Content-Length: ");
        buf_put_uint(o, len);
        buf_puts(o, "\r\n");
    }
    if (status != 101)
        buf_puts(o, keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    buf_puts(o, "X-Request-Id: ");
    buf_puts(o, r->id);
    buf_puts(o, "\r\n");
    const char *origin = cors_origin(r);
    if (origin) {
        buf_puts(o, "Access-Control-Allow-Origin: ");
        buf_puts(o, strcmp(c->loop->srv->opts.cfg->cors_origins, "*") == 0 ? "*" : origin);
        buf_puts(o, "\r\nVary: Origin\r\nAccess-Control-Expose-Headers: X-Request-Id, "
                    "Retry-After, Idempotency-Replay\r\n");
    }
    if (r->res_headers.len)
        buf_append(o, r->res_headers.data, r->res_headers.len);
    buf_puts(o, "\r\n");
    return keep;
}

/* The request is answered: free it, then close or go on with the next one. */
static void respond_done(struct conn *c, struct http_req *r, int status, bool keep)
{
    bool was_paused = c->u.http.paused;
    c->u.http.req = NULL;
    c->u.http.paused = false;
    c->u.http.streaming = false;
    c->u.http.body_hold = false;
    req_free(r);
    if (status == 101)
        return;
    if (!keep) {
        net__conn_close_after_flush(c);
        return;
    }
    c->since = net__now(c->loop);
    if (was_paused)
        resume(c);
}

void http_respond(struct http_req *r, int status, const char *ctype, const void *body, size_t len)
{
    struct conn *c = r->conn;
    finish(r, status, len);
    if (c == NULL || c->state != CONN_OPEN) {
        req_free(r);
        return;
    }
    bool keep = write_head(r, c, status, ctype, len);
    if (r->method != HTTP_M_HEAD && status != 204 && status != 304 && len)
        buf_append(&c->out, body, len);
    /* net__conn_send does the dirty-list bookkeeping; append nothing more */
    net__conn_send(c, "", 0);
    respond_done(c, r, status, keep);
}

/* ---- streamed responses */

void http_res_begin(struct http_req *r, int status, const char *ctype, uint64_t len)
{
    struct conn *c = r->conn;
    r->res_status = status;
    r->res_len = len;
    r->res_begun = true;
    if (c == NULL || c->state != CONN_OPEN)
        return;
    r->res_keep = write_head(r, c, status, ctype, len);
    net__conn_send(c, "", 0);
}

size_t http_res_write(struct http_req *r, const void *p, size_t n)
{
    struct conn *c = r->conn;
    if (c == NULL || c->state != CONN_OPEN || r->method == HTTP_M_HEAD)
        return 0;
    net__conn_send(c, p, n);
    r->res_sent += n;
    return net__conn_backlog(c);
}

struct drained_post {
    struct http_req *req;
    void (*fn)(struct http_req *, void *);
    void *ud;
};

static void drained_run(void *arg)
{
    struct drained_post d = *(struct drained_post *)arg;
    free(arg);
    d.fn(d.req, d.ud);
}

/* Runs a waiting drain callback from a later turn of the loop. */
static void drained_fire(struct http_req *r)
{
    struct drained_post *d = xmalloc(sizeof(*d));
    d->req = r;
    d->fn = r->drain_fn;
    d->ud = r->drain_ud;
    r->drain_fn = NULL;
    net__loop_post(r->loop, drained_run, d);
}

void http_res_when_drained(struct http_req *r, size_t low, void (*fn)(struct http_req *, void *),
                           void *ud)
{
    r->drain_fn = fn;
    r->drain_ud = ud;
    r->drain_low = low;
    struct conn *c = r->conn;
    if (c == NULL || c->state != CONN_OPEN || net__conn_backlog(c) <= low)
        drained_fire(r);
}

void net__http_written(struct conn *c)
{
    struct http_req *r = c->u.http.req;
    if (r != NULL && r->drain_fn != NULL && net__conn_backlog(c) <= r->drain_low)
        drained_fire(r);
}

void http_res_end(struct http_req *r)
{
    struct conn *c = r->conn;
    finish(r, r->res_status, (size_t)r->res_sent);
    if (c == NULL || c->state != CONN_OPEN) {
        req_free(r);
        return;
    }
    bool whole = r->method == HTTP_M_HEAD || r->res_sent == r->res_len;
    respond_done(c, r, r->res_status, r->res_keep && whole);
}

void http_respond_json(struct http_req *r, int status, const char *json, size_t len)
{
    http_respond(r, status, "application/json", json, len);
}

static void error_body(struct buf *b, const char *code, const char *message, const char *field)
{
    buf_puts(b, "{\"error\":{\"code\":");
    buf_json_str(b, code);
    buf_puts(b, ",\"message\":");
    buf_json_str(b, message);
    if (field) {
        buf_puts(b, ",\"field\":");
        buf_json_str(b, field);
    }
    buf_puts(b, "}}");
}

void http_respond_error(struct http_req *r, int status, const char *code, const char *message,
                        const char *field)
{
    struct buf b = BUF_INIT;
    error_body(&b, code, message, field);
    http_respond_json(r, status, b.data, b.len);
    buf_release(&b);
}

void http_respond_err(struct http_req *r, int err, const char *message, const char *field)
{
    http_respond_error(r, err_http_status(err), err_code(err), message ? message : err_str(err),
                       field);
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
        stream_detach(c);
        r = c->u.http.req = req_new(c);
        memcpy(r->id, id, sizeof(id));
    }
    if (r == NULL)
        r = c->u.http.req = req_new(c);
    r->keep_alive = false;
    if (r->id[0] == '\0')
        snprintf(r->id, sizeof(r->id), "err-%08x", (unsigned)(clock_mono_us() & 0xffffffffu));
    if (r->method == HTTP_M_HEAD)
        r->method = HTTP_M_OTHER; /* send a body even if the request said HEAD */
    c->u.http.paused = false;
    http_respond_error(r, status, code, msg, NULL);
}

/* ---------------------------------------------------------------- dispatch */

static void preflight(struct http_req *r)
{
    const char *origin = cors_origin(r);
    if (origin == NULL) {
        http_respond_error(r, 403, "forbidden", "origin not allowed", NULL);
        return;
    }
    const char *req_hdrs = http_req_header(r, "Access-Control-Request-Headers");
    http_res_header(r, "Access-Control-Allow-Methods",
                    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    http_res_header(r, "Access-Control-Allow-Headers",
                    req_hdrs ? req_hdrs
                             : "Authorization, Content-Type, X-App-Key, X-App-Secret, "
                               "X-Request-Id, Idempotency-Key");
    http_res_header(r, "Access-Control-Max-Age", "600");
    http_respond(r, 204, NULL, NULL, 0);
}

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

static void dispatch(struct conn *c, const char *rest, size_t restlen)
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
        preflight(r);
        return;
    }
    struct route_match m;
    int rc = router_match(o->router, r->method, r->path, &m);
    if (rc == 0) {
        r->route_id = m.route_id;
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

/* Scans data; returns NULL, or why the head is refused. */
static const char *head_scan(struct conn *c, const char *data, size_t len)
{
    uint8_t st = c->u.http.head_scan;
    const char *p = data, *end = data + len;
    const char *why = NULL;
    for (; p < end && st != HS_DONE && why == NULL; p++) {
        char ch = *p;
        switch (st) {
        case HS_START:
            if (ch == '\r')
                st = HS_START_CR;
            else if (ch == '\n')
                why = "bare LF before the request line";
            else
                st = ch == ' ' ? HS_LINE_SP : HS_LINE;
            break;
        case HS_START_CR:
        case HS_LINE_CR:
        case HS_FIELD_CR:
            if (ch != '\n')
                why = "bare CR in the request head";
            else
                st = st == HS_START_CR ? HS_START : HS_FIELD_START;
            break;
        case HS_LINE:
        case HS_LINE_SP:
            if (ch == '\n')
                why = "bare LF in the request line";
            else if (ch == ' ' && st == HS_LINE_SP)
                why = "more than one space in the request line";
            else
                st = ch == '\r' ? HS_LINE_CR : ch == ' ' ? HS_LINE_SP : HS_LINE;
            break;
        case HS_FIELD_START:
            if (ch == ' ' || ch == '\t')
                why = "obsolete line folding (obs-fold) in a header";
            else if (ch == ':')
                why = "empty header name";
            else if (ch == '\n')
                why = "bare LF in the request head";
            else
                st = ch == '\r' ? HS_END_CR : HS_FIELD;
            break;
        case HS_FIELD: {
            /* llhttp refuses a bare LF inside a field line; find its end fast */
            const char *cr = memchr(p, '\r', (size_t)(end - p));
            if (cr == NULL) {
                p = end - 1;
                break;
            }
            p = cr;
            st = HS_FIELD_CR;
            break;
        }
        case HS_END_CR:
            if (ch != '\n')
                why = "bare CR in the request head";
            st = HS_DONE;
            break;
        default:
            break;
        }
    }
    c->u.http.head_scan = st;
    return why;
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

/* The llhttp pause of a streaming request: its head is complete, or its whole body. */
static void stream_paused(struct conn *c, struct http_req *r)
{
    if (!r->head_dispatched) {
        r->head_dispatched = true;
        dispatch(c, NULL, 0); /* the handler installs its sink now or later, or answers */
        return;
    }
    /* the body has ended: the request waits for its answer like any other */
    c->u.http.streaming = false;
    c->u.http.body_hold = false;
    if (r->sink != NULL && !r->sink_stopped)
        r->sink->on_end(r, r->sink_ud);
}

/* Runs the parser over data; dispatches each complete request. */
static void process(struct conn *c, const char *data, size_t len)
{
    bool outer = !c->u.http.in_process;
    c->u.http.in_process = true;
    while (len > 0 && can_parse(c)) {
        llhttp_t *p = &c->u.http.parser;
        if (c->u.http.head_scan != HS_DONE) {
            const char *why = head_scan(c, data, len);
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
                stream_paused(c, r);
            else
                dispatch(c, NULL, 0);
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
            dispatch(c, data + used, rest);
            /* on upgrade the rest went to the WebSocket; otherwise it is in pending */
            if (c->kind == CONN_HTTP && c->u.http.paused)
                net__conn_pause_reading(c);
            else if (c->kind == CONN_HTTP && c->state == CONN_OPEN)
                resume(c);
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

static void resume(struct conn *c)
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

/* ---------------------------------------------------------------- accessors */

int http_req_method(const struct http_req *r)
{
    return r->method;
}

const char *http_req_method_name(const struct http_req *r)
{
    return r->method_name;
}

const char *http_req_path(const struct http_req *r)
{
    return r->path ? r->path : "/";
}

const char *http_req_query(const struct http_req *r)
{
    return r->query ? r->query : "";
}

int http_req_query_param(const struct http_req *r, const char *name, char *out, size_t outlen)
{
    return (int)url_query_get(http_req_query(r), name, out, outlen);
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    for (int i = 0; i < r->nhdrs; i++)
        if (strcasecmp(hdr_name(r, i), name) == 0)
            return hdr_val(r, i);
    return NULL;
}

bool http_req_header_has_token(const struct http_req *r, const char *name, const char *token)
{
    size_t tlen = strlen(token);
    for (int i = 0; i < r->nhdrs; i++) {
        if (strcasecmp(hdr_name(r, i), name) != 0)
            continue;
        const char *p = hdr_val(r, i);
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            const char *s = p;
            while (*p && *p != ',')
                p++;
            const char *e = p;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if ((size_t)(e - s) == tlen && strncasecmp(s, token, tlen) == 0)
                return true;
        }
    }
    return false;
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *http_req_param(const struct http_req *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (strcmp(r->params[2 * i], name) == 0)
            return r->params[2 * i + 1];
    return NULL;
}

const char *http_req_id(const struct http_req *r)
{
    return r->id;
}

/*
 * One X-Forwarded-For entry of n bytes (blanks trimmed): an address, an IPv6
 * address in brackets, either with a ":port" after it (some proxies add one).
 */
static bool fwd_entry_parse(const char *e, size_t n, uint8_t addr[16])
{
    const char *colon = memchr(e, ':', n);
    if (n > 0 && e[0] == '[') {
        const char *rb = memchr(e, ']', n);
        if (rb == NULL)
            return false;
        colon = rb + 1 < e + n ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return false;
        if (!cidr_addr_parse(e + 1, (size_t)(rb - e - 1), addr))
            return false;
    } else if (colon && memchr(colon + 1, ':', (size_t)(e + n - colon - 1)) == NULL) {
        if (!cidr_addr_parse(e, (size_t)(colon - e), addr)) /* IPv4:port */
            return false;
    } else {
        return cidr_addr_parse(e, n, addr);
    }
    if (colon == NULL)
        return true;
    size_t plen = (size_t)(e + n - colon - 1);
    if (plen == 0 || plen > 5)
        return false;
    for (size_t i = 1; i <= plen; i++)
        if (colon[i] < '0' || colon[i] > '9')
            return false;
    return true;
}

/*
 * The client address behind trusted proxies: start from the connection's
 * peer and, while the address in hand is a trusted proxy, take the next
 * X-Forwarded-For entry from the right (the last header line first, as the
 * lines form one list). Entries left of the first untrusted address were
 * written by the client and are never read. An entry that is not an address
 * stops the walk at the hop that wrote it.
 */
static void fwd_peer_resolve(struct http_req *r)
{
    const struct server *s = r->loop->srv;
    const char *peer = r->conn ? r->conn->peer : "-";
    uint8_t addr[16];
    bool moved = false;
    snprintf(r->fwd_peer, sizeof(r->fwd_peer), "%s", peer);
    r->peer_done = true;
    if (!cidr_addr_parse(peer, strlen(peer), addr))
        return;
    bool trusted = cidr_list_contains(s->proxies, s->nproxies, addr);
    for (int i = r->nhdrs - 1; i >= 0 && trusted; i--) {
        if (strcasecmp(hdr_name(r, i), "X-Forwarded-For") != 0)
            continue;
        const char *v = hdr_val(r, i), *end = v + strlen(v);
        while (end > v && trusted) {
            const char *b = end;
            while (b > v && b[-1] != ',')
                b--;
            const char *next = b > v ? b - 1 : v;
            const char *e = end;
            while (b < e && (*b == ' ' || *b == '\t'))
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            end = next;
            if (b == e)
                continue; /* an empty list element */
            if (!fwd_entry_parse(b, (size_t)(e - b), addr)) {
                trusted = false;
                break;
            }
            moved = true;
            trusted = cidr_list_contains(s->proxies, s->nproxies, addr);
        }
    }
    if (moved) {
        char text[CIDR_ADDR_TEXT];
        cidr_addr_format(addr, text);
        snprintf(r->fwd_peer, sizeof(r->fwd_peer), "%s", text);
    }
}

const char *http_req_peer(const struct http_req *r)
{
    if (!r->loop->srv->opts.cfg->trust_proxy)
        return r->conn ? r->conn->peer : "-";
    if (!r->peer_done)
        fwd_peer_resolve((struct http_req *)r); /* computed once, kept in the request */
    return r->fwd_peer;
}

/* ---- streamed request bodies */

void http_req_body_stream(struct http_req *r, const struct http_body_sink *sink, void *ud)
{
    r->sink = sink;
    r->sink_ud = ud;
    struct conn *c = r->conn;
    if (r->complete || r->stream_fn == NULL) {
        /* no body to stream (or it has all arrived): it ends now */
        size_t n = r->body.len;
        if (n > 0 && sink->on_data(r, r->body.data, n, ud) != 0) {
            r->sink_stopped = true;
            return;
        }
        sink->on_end(r, ud);
        return;
    }
    if (c == NULL || c->state != CONN_OPEN) {
        r->sink_stopped = true;
        sink->on_abort(r, ud);
        return;
    }
    c->u.http.streaming = true;
    c->u.http.body_hold = false;
    c->last_rx = net__now(c->loop); /* the idle clock of the body starts now */
    if (r->want_continue) {
        r->want_continue = false;
        send_continue(c);
    }
    if (!c->u.http.in_process)
        resume(c); /* later than the dispatch: parse what waited, read again */
}

void http_req_body_pause(struct http_req *r)
{
    struct conn *c = r->conn;
    if (c == NULL || !c->u.http.streaming)
        return;
    c->u.http.body_hold = true;
    net__conn_pause_reading(c);
}

void http_req_body_resume(struct http_req *r)
{
    struct conn *c = r->conn;
    if (c == NULL || !c->u.http.streaming || !c->u.http.body_hold)
        return;
    c->u.http.body_hold = false;
    c->last_rx = net__now(c->loop);
    if (!c->u.http.in_process)
        resume(c);
}

int64_t http_req_content_length(const struct http_req *r)
{
    const char *v = http_req_header(r, "Content-Length");
    if (v == NULL || http_req_header(r, "Transfer-Encoding") != NULL)
        return -1;
    return (int64_t)strtoll(v, NULL, 10); /* llhttp has checked it is a number */
}

bool http_req_has_client(const struct http_req *r)
{
    return r->conn != NULL && r->conn->state == CONN_OPEN;
}

void *http_req_uv_loop(const struct http_req *r)
{
    return &r->loop->uv;
}

void http_req_post(struct http_req *r, void (*fn)(void *arg), void *arg)
{
    net__loop_post(r->loop, fn, arg);
}

/* ---------------------------------------------------------------- for ws.c */

struct conn *net__http_req_conn(struct http_req *r);
struct conn *net__http_req_conn(struct http_req *r)
{
    return r->conn;
}
