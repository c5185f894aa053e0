/*
 * Streamed request bodies and streamed responses (docs/adr/0009). A streaming
 * route's handler gets the head at once (http.c pauses llhttp there) and its
 * body through a sink as it arrives, with back-pressure by not reading; a
 * streamed response goes out in pieces with a callback when the connection's
 * backlog has drained.
 */
#include "net/http_internal.h"

#include <stdlib.h>

#include "core/xalloc.h"

static void drained_fire(struct http_req *r);

/* ---- streamed request bodies */

void net__http_stream_body(struct http_req *r, const char *at, size_t len)
{
    /* to the sink (it copies what it keeps), or dropped after a refusal */
    if (r->sink != NULL && !r->sink_stopped && r->sink->on_data(r, at, len, r->sink_ud) != 0)
        r->sink_stopped = true;
}

/* The llhttp pause of a streaming request: its head is complete, or its whole body. */
void net__http_stream_paused(struct conn *c, struct http_req *r)
{
    if (!r->head_dispatched) {
        r->head_dispatched = true;
        net__http_dispatch(c, NULL, 0); /* the handler installs its sink now or later, or answers */
        return;
    }
    /* the body has ended: the request waits for its answer like any other */
    c->u.http.streaming = false;
    c->u.http.body_hold = false;
    if (r->sink != NULL && !r->sink_stopped)
        r->sink->on_end(r, r->sink_ud);
}

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
        net__http_send_continue(c);
    }
    if (!c->u.http.in_process)
        net__http_resume(c); /* later than the dispatch: parse what waited, read again */
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
        net__http_resume(c);
}

/*
 * Hands a dispatched request over to its handler for good: the connection forgets it (the
 * handler answers it into the void). A request whose body was still streaming hears of it
 * through its sink's on_abort (which may answer at once).
 */
void net__http_stream_detach(struct conn *c)
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

/* ---- streamed responses */

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

void http_res_begin(struct http_req *r, int status, const char *ctype, uint64_t len)
{
    struct conn *c = r->conn;
    r->res_status = status;
    r->res_len = len;
    r->res_begun = true;
    if (c == NULL || c->state != CONN_OPEN)
        return;
    r->res_keep = net__http_write_head(r, c, status, ctype, len);
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
    net__http_finish(r, r->res_status, (size_t)r->res_sent);
    if (c == NULL || c->state != CONN_OPEN) {
        net__http_req_free(r);
        return;
    }
    bool whole = r->method == HTTP_M_HEAD || r->res_sent == r->res_len;
    net__http_respond_done(c, r, r->res_status, r->res_keep && whole);
}
