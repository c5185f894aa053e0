/*
 * Connections: accept, read into the loop's shared buffer, buffered and
 * coalesced writes with a bound, and the close sequence (flush, shut down the
 * write side, discard input until EOF, then free). Connections are freed only
 * from libuv's close callback, after the callback that closed them returned.
 */
#include "net/internal.h"

#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "metrics/metrics.h"

#define LINGER_MS 2000

#define IOV_MAX_WRITE 32

struct wreq {
    uv_write_t req;
    struct conn *c;
    char *data;            /* owned; the buffer's storage (NULL when only frames) */
    size_t len;            /* bytes handed to libuv */
    struct frame **frames; /* owned references, nframes of them */
    size_t nframes;
};

/* ---- the frame ring: shared frames queued after conn->out */

static void fq_push(struct conn *c, struct frame *f)
{
    if (c->fq_cap == 0) {
        c->fq = c->fq_inline;
        c->fq_cap = 2;
    }
    if (c->fq_len == c->fq_cap) {
        uint16_t cap = (uint16_t)(c->fq_cap * 2);
        struct frame **ring = xmalloc(cap * sizeof(*ring));
        for (uint16_t i = 0; i < c->fq_len; i++)
            ring[i] = c->fq[(c->fq_head + i) % c->fq_cap];
        if (c->fq != c->fq_inline)
            free(c->fq);
        c->fq = ring;
        c->fq_cap = cap;
        c->fq_head = 0;
    }
    c->fq[(c->fq_head + c->fq_len) % c->fq_cap] = f;
    c->fq_len++;
    c->fq_bytes += f->len;
}

static struct frame *fq_at(const struct conn *c, uint16_t i)
{
    return c->fq[(c->fq_head + i) % c->fq_cap];
}

static void fq_pop(struct conn *c)
{
    struct frame *f = c->fq[c->fq_head];
    c->fq_bytes -= f->len - c->fq_off;
    c->fq_off = 0;
    c->fq_head = (uint16_t)((c->fq_head + 1) % c->fq_cap);
    c->fq_len--;
    frame_unref(f);
    if (c->fq_len == 0) {
        c->fq_head = 0;
        if (c->fq != c->fq_inline) { /* only a connection that fell behind keeps a big ring */
            free(c->fq);
            c->fq = c->fq_inline;
            c->fq_cap = 2;
        }
    }
}

static void fq_release(struct conn *c)
{
    while (c->fq_len > 0)
        fq_pop(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (c->kind == CONN_HTTP)
        net__http_release(c);
    else
        net__ws_release(c);
    buf_release(&c->out);
    fq_release(c);
    struct loop *l = c->loop;
    if (c->yielded) /* still waiting for its turn to read (net__conn_resume_yielded) */
        for (size_t i = 0; i < l->nyielded; i++)
            if (l->yielded[i] == c) {
                memmove(&l->yielded[i], &l->yielded[i + 1],
                        (l->nyielded - i - 1) * sizeof(*l->yielded));
                l->nyielded--;
                break;
            }
    free(c);
    net__loop_maybe_finish(l);
}

static void unlink_conn(struct conn *c)
{
    struct loop *l = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    l->nconns--;
    l->churn++;
    atomic_fetch_sub(&l->srv->nconns, 1);
    metrics_conn_add(l->metrics, c->kind == CONN_WS ? METRICS_CONN_WS : METRICS_CONN_HTTP, -1);
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
    unlink_conn(c);
    buf_release(&c->out);
    fq_release(c);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void net__conn_drop_pending(struct conn *c)
{
    buf_release(&c->out);
    fq_release(c);
}

void net__conn_accept(struct loop *l, uv_stream_t *listener)
{
    struct server *srv = l->srv;
    struct conn *c = xcalloc(1, sizeof(*c));
    uv_tcp_init(&l->uv, &c->tcp);
    c->tcp.data = c;
    c->loop = l;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        c->state = CONN_CLOSED;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    if (atomic_load(&srv->nconns) >= srv->opts.cfg->max_connections || l->stopping) {
        log_warn("net", "connection refused: limit of %d connections reached",
                 srv->opts.cfg->max_connections);
        c->state = CONN_CLOSED;
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    atomic_fetch_add(&srv->nconns, 1);
    uv_tcp_nodelay(&c->tcp, 1);

    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    strcpy(c->peer, "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
    }
    c->kind = CONN_HTTP;
    c->last_rx = c->since = net__now(l);
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    l->churn++;
    metrics_conn_add(l->metrics, METRICS_CONN_HTTP, 1);
    net__http_init(c);
    net__conn_resume_reading(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct conn *c = h->data;
    b->base = c->loop->readbuf;
    b->len = sizeof(c->loop->readbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        net__conn_abort(c);
        return;
    }
    c->last_rx = net__now(c->loop);
    c->loop->io_seen = true;
    if (c->state == CONN_LINGER || c->state == CONN_CLOSED)
        return; /* discarding */
    if (c->state == CONN_DRAINING)
        return;
    if (c->kind == CONN_HTTP)
        net__http_feed(c, b->base, (size_t)nread);
    else
        net__ws_feed(c, b->base, (size_t)nread);
    /* A streamed request body (an upload) reads once, then waits for another turn of the loop
     * (net__conn_resume_yielded): libuv would read up to 32 times in a row from one socket,
     * and 50 uploads at once held the loop for milliseconds while other requests waited. */
    if (c->kind == CONN_HTTP && c->reading && c->state == CONN_OPEN && net__http_streaming(c)) {
        struct loop *l = c->loop;
        if (l->nyielded == l->capyielded) {
            l->capyielded = l->capyielded ? l->capyielded * 2 : 16;
            l->yielded = xrealloc(l->yielded, l->capyielded * sizeof(*l->yielded));
        }
        net__conn_pause_reading(c);
        c->yielded = true;
        l->yielded[l->nyielded++] = c;
    }
}

void net__conn_resume_yielded(struct loop *l)
{
    /* At most STREAM_READS_PER_TURN of them read in the next turn, the longest waiting first;
     * the others wait their turn (the spin handle keeps the loop from sleeping meanwhile). A
     * connection closed while listed leaves the list when it is freed (on_close). */
    size_t n = 0, resumed = 0;
    for (size_t i = 0; i < l->nyielded; i++) {
        struct conn *c = l->yielded[i];
        if (resumed == STREAM_READS_PER_TURN) {
            l->yielded[n++] = c;
            continue;
        }
        c->yielded = false;
        if (!c->reading && c->state == CONN_OPEN && c->kind == CONN_HTTP &&
            net__http_wants_read(c)) {
            net__conn_resume_reading(c);
            resumed++;
        }
    }
    l->nyielded = n;
}

bool net__conn_yield_waiting(const struct loop *l)
{
    return l->nyielded > 0;
}

void net__conn_pause_reading(struct conn *c)
{
    if (c->reading && c->state != CONN_CLOSED) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

void net__conn_resume_reading(struct conn *c)
{
    if (!c->reading && c->state != CONN_CLOSED) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
    }
}

size_t net__conn_backlog(const struct conn *c)
{
    return c->out.len + c->queued + c->fq_bytes;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

static void begin_linger(struct conn *c)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
        return;
    c->state = CONN_LINGER;
    c->since = net__now(c->loop);
    uv_shutdown_t *sr = xmalloc(sizeof(*sr));
    if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(sr);
        net__conn_abort(c);
        return;
    }
    net__conn_resume_reading(c); /* read and discard until EOF (see on_read) */
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *c = w->c;
    c->queued -= w->len;
    free(w->data);
    for (size_t i = 0; i < w->nframes; i++)
        frame_unref(w->frames[i]);
    free(w->frames);
    free(w);
    if (c->state == CONN_CLOSED)
        return;
    if (status < 0) {
        net__conn_abort(c);
        return;
    }
    if (c->want_close && net__conn_backlog(c) == 0)
        begin_linger(c);
    else if (c->kind == CONN_HTTP && c->state == CONN_OPEN)
        net__http_written(c);
}

/* Drops the first n written bytes: from out, then from the frames. */
static void consume(struct conn *c, size_t n)
{
    if (c->out.len > 0) {
        size_t k = n < c->out.len ? n : c->out.len;
        if (k == c->out.len) {
            /* everything written: give the storage back unless it is small */
            if (c->out.cap > 4096 || c->kind == CONN_WS)
                buf_release(&c->out);
            else
                buf_clear(&c->out);
        } else {
            memmove(c->out.data, c->out.data + k, c->out.len - k);
            c->out.len -= k;
        }
        n -= k;
    }
    while (n > 0 && c->fq_len > 0) {
        size_t left = fq_at(c, 0)->len - c->fq_off;
        if (n < left) {
            c->fq_off += (uint32_t)n;
            c->fq_bytes -= (uint32_t)n;
            return;
        }
        n -= left;
        fq_pop(c);
    }
}

/* Fills bufs with what is waiting (out first, then frames); returns the count. */
static unsigned gather(const struct conn *c, uv_buf_t *bufs, unsigned max)
{
    unsigned n = 0;
    if (c->out.len > 0)
        bufs[n++] = uv_buf_init(c->out.data, (unsigned)c->out.len);
    for (uint16_t i = 0; i < c->fq_len && n < max; i++) {
        struct frame *f = fq_at(c, i);
        size_t off = i == 0 ? c->fq_off : 0;
        bufs[n++] = uv_buf_init(f->data + off, (unsigned)(f->len - off));
    }
    return n;
}

/* Writes what the socket takes now. Returns false when the connection failed. */
static bool try_write(struct conn *c)
{
    uv_buf_t bufs[IOV_MAX_WRITE];
    while (c->out.len > 0 || c->fq_len > 0) {
        unsigned n = gather(c, bufs, IOV_MAX_WRITE);
        size_t want = 0;
        for (unsigned i = 0; i < n; i++)
            want += bufs[i].len;
        int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
        if (r == UV_EAGAIN)
            return true;
        if (r < 0) {
            net__conn_abort(c);
            return false;
        }
        consume(c, (size_t)r);
        if ((size_t)r < want)
            return true; /* the socket is full */
    }
    return true;
}

/* Hands everything waiting to libuv in one write request. */
static bool queue_write(struct conn *c)
{
    struct wreq *w = xcalloc(1, sizeof(*w));
    uv_buf_t small[IOV_MAX_WRITE];
    unsigned nb = 1u + c->fq_len;
    uv_buf_t *bufs = nb <= IOV_MAX_WRITE ? small : xmalloc(nb * sizeof(*bufs));
    unsigned n = 0;
    w->c = c;
    if (c->out.len > 0) {
        size_t total;
        w->data = buf_detach(&c->out, &total);
        bufs[n++] = uv_buf_init(w->data, (unsigned)total);
        w->len += total;
    }
    if (c->fq_len > 0) {
        w->frames = xmalloc(c->fq_len * sizeof(*w->frames));
        for (uint16_t i = 0; i < c->fq_len; i++) {
            struct frame *f = fq_at(c, i);
            size_t off = i == 0 ? c->fq_off : 0;
            bufs[n++] = uv_buf_init(f->data + off, (unsigned)(f->len - off));
            w->len += f->len - off;
            w->frames[w->nframes++] = frame_ref(f);
        }
        fq_release(c);
    }
    c->queued += w->len;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, on_write);
    if (bufs != small)
        free(bufs);
    if (rc != 0) {
        c->queued -= w->len;
        free(w->data);
        for (size_t i = 0; i < w->nframes; i++)
            frame_unref(w->frames[i]);
        free(w->frames);
        free(w);
        net__conn_abort(c);
        return false;
    }
    return true;
}

void net__conn_flush(struct conn *c)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
        return;
    if (c->queued == 0 && !try_write(c))
        return;
    if ((c->out.len > 0 || c->fq_len > 0) && !queue_write(c))
        return;
    if (c->want_close && net__conn_backlog(c) == 0)
        begin_linger(c);
    else if (c->kind == CONN_HTTP && c->state == CONN_OPEN)
        net__http_written(c);
}

static void mark_dirty(struct conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = c->loop->dirty;
        c->loop->dirty = c;
    }
}

void net__conn_send(struct conn *c, const void *p, size_t n)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
        return;
    /* the bound applies to what was already waiting, so one message larger than the
     * queue still goes out to a reader that keeps up */
    if (c->kind == CONN_WS && net__conn_backlog(c) > c->loop->srv->opts.cfg->ws_max_queue) {
        net__ws_overflow(c);
        return;
    }
    if (c->fq_len > 0 && n > 0) /* after the frames already waiting */
        fq_push(c, frame_new_copy(p, n));
    else
        buf_append(&c->out, p, n);
    mark_dirty(c);
}

void net__conn_send_frame(struct conn *c, struct frame *f)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
        return;
    if (c->kind == CONN_WS && net__conn_backlog(c) > c->loop->srv->opts.cfg->ws_max_queue) {
        net__ws_overflow(c);
        return;
    }
    if (c->fq_len == UINT16_MAX) { /* cannot happen under the queue bound; be safe */
        net__ws_overflow(c);
        return;
    }
    fq_push(c, frame_ref(f));
    mark_dirty(c);
}

void net__conn_flush_dirty(struct loop *l)
{
    while (l->dirty) {
        struct conn *c = l->dirty;
        l->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        net__conn_flush(c);
    }
}

/* bytes the kernel holds that the loop has not read yet: a request sent just before a
 * shutdown began is still answered */
bool net__conn_has_unread(const struct conn *c)
{
    uv_os_fd_t fd;
    int n = 0;
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0)
        return false;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

void net__conn_close_after_flush(struct conn *c)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER)
        return;
    c->want_close = true;
    c->state = CONN_DRAINING;
    c->since = net__now(c->loop);
    net__conn_flush(c);
}
