/*
 * Private to the HTTP files of src/net (http.c, http_head.c, http_respond.c,
 * http_stream.c, http_req.c): the request object and what these files share.
 * Handlers see net/http.h only; nothing outside src/net includes this.
 */
#ifndef HERALD_NET_HTTP_INTERNAL_H
#define HERALD_NET_HTTP_INTERNAL_H

#include "net/http.h"
#include "net/internal.h"
#include "router/router.h"

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

static inline const char *net__http_hdr_name(const struct http_req *r, int i)
{
    return r->store.data + r->hdrs[i].name;
}

static inline const char *net__http_hdr_val(const struct http_req *r, int i)
{
    return r->store.data + r->hdrs[i].val;
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

/* http.c */
struct http_req *net__http_req_new(struct conn *c);
void net__http_req_free(struct http_req *r); /* NULL is fine */
/* Runs the route (or the WebSocket upgrade, preflight, static file, 404/405) of c's request. */
void net__http_dispatch(struct conn *c, const char *rest, size_t restlen);
/* Continues with the bytes that arrived while a request was being handled. */
void net__http_resume(struct conn *c);
void net__http_send_continue(struct conn *c); /* 100 Continue, flushed */

/* http_head.c */
bool net__http_host_is_sane(const struct http_req *r);
enum why net__http_transfer_codings_check(const struct http_req *r, int *status);
/* Scans data; returns NULL, or why the head is refused. */
const char *net__http_head_scan(struct conn *c, const char *data, size_t len);

/* http_respond.c */
/* Metrics and access log of an answered request. */
void net__http_finish(struct http_req *r, int status, size_t body_len);
/* Writes the status line and headers to c->out; returns whether the connection stays open. */
bool net__http_write_head(struct http_req *r, struct conn *c, int status, const char *ctype,
                          uint64_t len);
/* The request is answered: free it, then close or go on with the next one. */
void net__http_respond_done(struct conn *c, struct http_req *r, int status, bool keep);
void net__http_preflight(struct http_req *r);

/* http_stream.c */
/* A piece of a streaming route's body (from llhttp's on_body). */
void net__http_stream_body(struct http_req *r, const char *at, size_t len);
/* The llhttp pause of a streaming request: its head is complete, or its whole body. */
void net__http_stream_paused(struct conn *c, struct http_req *r);
/* Hands a dispatched request over to its handler for good (see http_stream.c). */
void net__http_stream_detach(struct conn *c);

#endif
