/*
 * Server start-up and the event-loop threads. Each worker thread runs one
 * libuv loop with its own SO_REUSEPORT listener on the same address, so the
 * kernel spreads new connections over the cores (docs/adr/0002). A loop owns
 * its connections; the main thread talks to loops only through an atomic
 * command word and a wake-up (drain, force).
 *
 * The wake-up is an eventfd the loop polls, not a uv_async_t: libuv's async hand-off makes the
 * woken loop spin until the sending thread has finished its uv_async_send, and a sender that
 * the scheduler preempts right after its write (a worker at a lower priority than the loops,
 * which the loop it woke preempts at once) held the loop spinning for a whole time slice
 * (BENCHMARKS.md, "Issue 10: uploads"). Here a sender writes the eventfd at most once per
 * wake-up (wake_due) and never makes the loop wait for it.
 */
#include "net/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/cidr.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "metrics/metrics.h"

uint32_t net__now(const struct loop *l)
{
    return (uint32_t)(uv_now((uv_loop_t *)&l->uv) - l->start_ms);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct loop *l = listener->data;
    if (status < 0) {
        log_warn("net", "accept failed: %s", uv_strerror(status));
        return;
    }
    net__conn_accept(l, listener);
}

static void close_loop_handles(struct loop *l)
{
    uv_mutex_lock(&l->post_mu);
    l->closed = true; /* from now on nobody sends on wake */
    uv_mutex_unlock(&l->post_mu);
    uv_close((uv_handle_t *)&l->sweep, NULL);
    uv_close((uv_handle_t *)&l->prep, NULL);
    uv_close((uv_handle_t *)&l->check, NULL);
    uv_close((uv_handle_t *)&l->spin, NULL);
    uv_close((uv_handle_t *)&l->wake, NULL); /* wake_fd stays open until server_free */
}

/*
 * A stopping loop ends once it has no connection and no request in flight: a
 * request whose client left is still counted until its handler answers (the
 * answer is discarded), because the store or a worker will post its completion
 * here. After LOOP_CMD_FINAL it ends anyway and the server keeps the loop's
 * memory until exit, for the completions that may still come.
 */
static void maybe_finish(struct loop *l)
{
    if (!l->stopping || l->closed || l->nconns != 0)
        return;
    if (l->inflight != 0) {
        if (!l->finish_anyway)
            return;
        log_warn("net", "loop %d ends with %d requests in flight; their memory is kept", l->idx,
                 l->inflight);
        l->srv->kept = true; /* read by the main thread after joining this thread */
    }
    close_loop_handles(l);
}

void net__loop_maybe_finish(struct loop *l)
{
    maybe_finish(l);
}

void net__loop_req_begin(struct loop *l)
{
    l->inflight++;
    atomic_fetch_add(&l->srv->inflight, 1);
}

void net__loop_req_end(struct loop *l)
{
    l->inflight--;
    atomic_fetch_sub(&l->srv->inflight, 1);
    maybe_finish(l);
}

/* Writes the loop's eventfd. Called after post_mu is released: a sender holding the lock
 * while its write wakes the loop would be preempted by the loop it woke, which then waits
 * on the lock for it (for long when the sender runs at a low priority: upload/post.c's disk
 * workers). The eventfd stays open until server_free, so a write after the loop has ended is
 * harmless. */
static void wake_write(struct loop *l)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(l->wake_fd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
    /* EAGAIN only when the counter is at its maximum: the loop is already readable */
}

/* The loops whose wake-up this thread holds (server_post_hold). */
#define HELD_MAX 64
static _Thread_local bool holding;
static _Thread_local struct loop *held[HELD_MAX];
static _Thread_local int nheld;

void server_post_hold(void)
{
    holding = true;
}

void server_post_release(void)
{
    holding = false;
    for (int i = 0; i < nheld; i++)
        wake_write(held[i]);
    nheld = 0;
}

/* Writes l's eventfd now, or at server_post_release when this thread holds its wake-ups. */
static void wake_now_or_held(struct loop *l)
{
    if (holding && nheld < HELD_MAX) {
        held[nheld++] = l; /* once per claimed wake-up (wake_due) */
        return;
    }
    wake_write(l);
}

/* True when the caller must write the eventfd: no wake-up is due yet. post_mu held. */
static bool wake_claim(struct loop *l)
{
    return !l->closed && !atomic_exchange(&l->wake_due, true);
}

/* Wakes the loop unless it has ended; any thread. */
static void wake_send(struct loop *l)
{
    uv_mutex_lock(&l->post_mu);
    bool write = wake_claim(l);
    uv_mutex_unlock(&l->post_mu);
    if (write)
        wake_now_or_held(l);
}

/*
 * After a burst of connections has passed (TRIM_BURST or more accepted or closed since the last
 * trim, none during the last sweep period), the allocator gives the free pages inside its heaps
 * back to the system. A burst of handshakes leaves its transient allocations (requests, store
 * operations, events) freed between the connections that stay, so those pages stay resident
 * otherwise: 0.1-0.3 KiB per connection after 10,000 handshakes (BENCHMARKS.md, W1). One
 * call took under 1 ms there (a heap of about 60 MiB); it runs at most once per burst.
 */
#define TRIM_BURST 1000

/* Under AddressSanitizer the allocator is ASan's and glibc's heaps are never set up; a first
 * malloc_trim from a loop thread would set glibc's up as if that thread were the main one, and
 * the second thread to exit then fails glibc's arena count check (abort at shutdown). */
#if defined(__SANITIZE_ADDRESS__)
#define TRIM_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRIM_ENABLED 0
#endif
#endif
#ifndef TRIM_ENABLED
#define TRIM_ENABLED 1
#endif

static void maybe_trim(struct loop *l)
{
    bool quiet = l->churn == l->churn_seen;
    l->churn_seen = l->churn;
    if (!quiet || l->churn - l->churn_trim < TRIM_BURST)
        return;
    l->churn_trim = l->churn;
#if defined(__GLIBC__) && TRIM_ENABLED
    malloc_trim(0);
#endif
}

static void on_sweep(uv_timer_t *t)
{
    struct loop *l = t->data;
    uint32_t now = net__now(l);
    struct conn *c = l->conns;
    while (c) {
        struct conn *next = c->next;
        if (c->state == CONN_LINGER) {
            if ((int32_t)(now - c->since) >= 2000)
                net__conn_abort(c);
        } else if (c->state == CONN_DRAINING) {
            /* a peer that does not take our last bytes gets the idle timeout */
            if ((int32_t)(now - c->since) >= l->srv->opts.cfg->idle_timeout_ms)
                net__conn_abort(c);
        } else if (c->kind == CONN_HTTP) {
            net__http_sweep(c, now);
        } else {
            net__ws_sweep(c, now);
        }
        c = next;
    }
    maybe_trim(l);
    maybe_finish(l);
}

static void on_flush(uv_loop_t *uv)
{
    struct loop *l = uv->data;
    net__conn_flush_dirty(l);
    log_flush();
}

static void on_prepare(uv_prepare_t *p)
{
    on_flush(p->loop);
}

static void on_spin(uv_idle_t *h)
{
    (void)h; /* an active idle handle makes the next poll non-blocking: that is all */
}

/*
 * Adaptive busy polling: for HERALD_BUSY_POLL_US after the last read the loop
 * polls without sleeping. On a virtual machine an idle vCPU halts and waking it
 * costs tens of microseconds per request under closed-loop load; spinning
 * briefly avoids that, and an idle server still sleeps. A loop with requests waiting on
 * other threads does not spin (measured: chat sends on one core, p99 43 -> 24 ms at
 * 5,000 messages/s).
 */
static void busy_poll(struct loop *l)
{
    int window = l->srv->opts.cfg->busy_poll_us;
    if (l->stopping)
        return;
    uint64_t now = uv_hrtime();
    if (l->io_seen) {
        l->io_seen = false;
        l->last_io_ns = now;
    }
    /* not while requests of this loop wait on the store or the worker pool: their threads
     * may share this core (one CPU, or taskset) and the spin would take the time they need to
     * answer; their completion wakes the loop anyway */
    bool want = window > 0 && l->inflight == 0 && now - l->last_io_ns < (uint64_t)window * 1000u;
    if (net__conn_yield_waiting(l))
        want = true; /* streamed bodies wait for their turn to read: no sleeping */
    if (want && !l->spinning)
        uv_idle_start(&l->spin, on_spin);
    else if (!want && l->spinning)
        uv_idle_stop(&l->spin);
    l->spinning = want;
}

static void on_check(uv_check_t *c)
{
    net__conn_resume_yielded(c->loop->data);
    on_flush(c->loop);
    busy_poll(c->loop->data);
}

static void drain(struct loop *l)
{
    if (l->stopping)
        return;
    l->stopping = true;
    uv_idle_stop(&l->spin);
    l->spinning = false;
    if (l->listening) {
        uv_close((uv_handle_t *)&l->listener, NULL);
        l->listening = false;
    }
    struct conn *c = l->conns;
    while (c) {
        struct conn *next = c->next;
        if (c->state == CONN_OPEN) {
            if (c->kind == CONN_WS)
                net__ws_shutdown(c);
            else if (net__http_is_idle(c) && !net__conn_has_unread(c))
                net__conn_close_after_flush(c);
            /* busy HTTP connections, and those whose request is still unread in the
             * kernel, close after their response (keep-alive off) */
        }
        c = next;
    }
    maybe_finish(l);
}

void net__loop_post(struct loop *l, void (*fn)(void *arg), void *arg)
{
    struct loop_post *p = xmalloc(sizeof(*p));
    p->next = NULL;
    p->fn = fn;
    p->arg = arg;
    uv_mutex_lock(&l->post_mu);
    if (l->closed) {
        uv_mutex_unlock(&l->post_mu);
        free(p);
        log_warn("net", "loop %d has ended: a completion is dropped", l->idx);
        return;
    }
    if (l->posts_tail)
        l->posts_tail->next = p;
    else
        l->posts = p;
    l->posts_tail = p;
    bool write = wake_claim(l);
    uv_mutex_unlock(&l->post_mu);
    if (write)
        wake_now_or_held(l);
}

static void run_posts(struct loop *l)
{
    uv_mutex_lock(&l->post_mu);
    struct loop_post *p = l->posts;
    l->posts = l->posts_tail = NULL;
    uv_mutex_unlock(&l->post_mu);
    while (p) {
        struct loop_post *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
}

static void on_wake(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct loop *l = h->data;
    /* drained, then cleared: a sender after the clear writes again, and what a sender
       before it posted is run below; clearing first would let a write land before the read
       drains it, and every later sender would skip its write (wake_due still set) */
    uint64_t v;
    while (read(l->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    atomic_store(&l->wake_due, false);
    run_posts(l);
    const struct ws_app *app = &l->srv->opts.ws;
    if (atomic_exchange(&l->app_wake, false) && app->on_wake)
        app->on_wake(l->idx, app->ud);
    int cmd = atomic_exchange(&l->cmd, LOOP_CMD_NONE);
    if (cmd == LOOP_CMD_DRAIN) {
        drain(l);
    } else if (cmd == LOOP_CMD_FORCE || cmd == LOOP_CMD_FINAL) {
        drain(l);
        l->finish_anyway = cmd == LOOP_CMD_FINAL;
        while (l->conns)
            net__conn_abort(l->conns); /* requests in flight are detached, still counted */
        maybe_finish(l);
    }
}

static void loop_thread(void *arg)
{
    struct loop *l = arg;
    log_set_buffered(true);
    uv_run(&l->uv, UV_RUN_DEFAULT);
    log_set_buffered(false);
    atomic_fetch_sub(&l->srv->running, 1);
}

/* host (an IP literal) and port as a socket address; 0 or -EINVAL. */
static int make_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(host, ':')) {
        *len = sizeof(struct sockaddr_in6);
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -EINVAL;
    }
    *len = sizeof(struct sockaddr_in);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ? 0 : -EINVAL;
}

/*
 * The loops of one server share the port through SO_REUSEPORT, and so could
 * any other process of the same user: a second server started on a taken
 * address would bind too, and requests would land at random on two servers.
 * So before anything else, a probe socket binds the address WITHOUT
 * SO_REUSEPORT (with SO_REUSEADDR, so that connections in TIME_WAIT from an
 * earlier run do not count): that fails with EADDRINUSE while any other
 * socket listens there, whatever its options. The probe is closed at once and
 * the loops bind afterwards; only two servers started within the same
 * instant could both pass (the data-folder lock still stops two on one
 * folder). Port 0 needs no probe: the kernel picks a free port.
 */
int server_listen_probe(const char *host, int port, char *err, size_t errlen)
{
    char addr[80];
    snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    struct sockaddr_storage ss;
    socklen_t len;
    if (port == 0)
        return 0;
    if (make_addr(host, port, &ss, &len) != 0) {
        snprintf(err, errlen, "cannot listen on %s: not an IP address", addr);
        return ERR_INVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        return ERR_IO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
    close(fd);
    if (rc == EADDRINUSE) {
        snprintf(err, errlen,
                 "cannot listen on %s: address already in use (another herald serve or another "
                 "program listens there; stop it or choose another HERALD_LISTEN)",
                 addr);
        return ERR_EXISTS;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(rc));
        return ERR_IO;
    }
    return 0;
}

/* Opens a listening socket with SO_REUSEPORT; returns the fd or -errno. */
static int listen_socket(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (make_addr(host, port, &ss, &len) != 0)
        return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int loop_init(struct server *s, struct loop *l, int idx, int port)
{
    const struct config *cfg = s->opts.cfg;
    l->srv = s;
    l->idx = idx;
    uv_loop_init(&l->uv);
    l->uv.data = l;
    l->start_ms = uv_now(&l->uv);
    l->metrics = metrics_shard(s->opts.metrics, idx);
    atomic_init(&l->cmd, LOOP_CMD_NONE);
    atomic_init(&l->app_wake, false);
    uv_mutex_init(&l->post_mu);
    rand_bytes(&l->id_prefix, sizeof(l->id_prefix));
    atomic_init(&l->wake_due, false);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        int e = errno;
        uv_loop_close(&l->uv);
        return log_fail(ERR_IO, "net", "cannot create the loop's eventfd: %s", strerror(e));
    }

    int fd = listen_socket(cfg->listen_host, port);
    if (fd < 0) {
        close(l->wake_fd);
        uv_loop_close(&l->uv);
        return log_fail(fd, "net", "cannot bind %s:%d: %s", cfg->listen_host, port, strerror(-fd));
    }
    uv_tcp_init(&l->uv, &l->listener);
    l->listener.data = l;
    int r = uv_tcp_open(&l->listener, fd);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&l->listener, 4096, on_connection);
    if (r != 0) {
        uv_close((uv_handle_t *)&l->listener, NULL);
        uv_run(&l->uv, UV_RUN_NOWAIT);
        close(l->wake_fd);
        uv_loop_close(&l->uv);
        return log_fail(r, "net", "cannot listen on %s:%d: %s", cfg->listen_host, port,
                        uv_strerror(r));
    }
    l->listening = true;

    int min_t = cfg->header_timeout_ms;
    if (cfg->idle_timeout_ms < min_t)
        min_t = cfg->idle_timeout_ms;
    if (cfg->ws_heartbeat_ms < min_t)
        min_t = cfg->ws_heartbeat_ms;
    uint64_t every = (uint64_t)min_t / 4;
    if (every < 25)
        every = 25;
    if (every > 1000)
        every = 1000;
    uv_timer_init(&l->uv, &l->sweep);
    l->sweep.data = l;
    uv_timer_start(&l->sweep, on_sweep, every, every);
    uv_prepare_init(&l->uv, &l->prep);
    uv_prepare_start(&l->prep, on_prepare);
    uv_check_init(&l->uv, &l->check);
    uv_check_start(&l->check, on_check);
    uv_idle_init(&l->uv, &l->spin);
    uv_poll_init(&l->uv, &l->wake, l->wake_fd);
    l->wake.data = l;
    uv_poll_start(&l->wake, UV_READABLE, on_wake);
    return bound_port(fd);
}

static void loop_destroy(struct loop *l)
{
    if (l->inflight > 0) {
        /* ended by LOOP_CMD_FINAL: late completions may still post here (and are dropped
           under post_mu), so the loop, its mutex and its queued posts stay as they are */
        uv_run(&l->uv, UV_RUN_NOWAIT);
        return;
    }
    run_posts(l); /* posts of no request (none are expected) */
    uv_run(&l->uv, UV_RUN_NOWAIT);
    if (uv_loop_close(&l->uv) != 0)
        log_warn("net", "loop %d closed with handles still open", l->idx);
}

struct server *server_start(const struct server_opts *opts, int *port_out)
{
    struct server *s = xcalloc(1, sizeof(*s));
    s->opts = *opts;
    s->nloops = opts->cfg->workers;
    s->loops = xcalloc((size_t)s->nloops, sizeof(struct loop));
    atomic_init(&s->nconns, 0);
    atomic_init(&s->inflight, 0);
    atomic_init(&s->running, 0);
    atomic_init(&s->ready, false);
    if (opts->cfg->trusted_proxies != NULL) {
        /* validated when the configuration was loaded */
        char why[200];
        int n = cidr_list_parse(opts->cfg->trusted_proxies, &s->proxies, NULL, why, sizeof(why));
        if (n < 0) {
            log_error("net", "cannot use HERALD_TRUSTED_PROXIES: %s", why);
            free(s->loops);
            free(s);
            return NULL;
        }
        s->nproxies = (size_t)n;
    }

    int port = opts->cfg->listen_port;
    int i;
    for (i = 0; i < s->nloops; i++) {
        int p = loop_init(s, &s->loops[i], i, port);
        if (p < 0)
            goto fail;
        port = p; /* port 0: the others bind the port the first one got */
    }
    s->port = port;
    if (opts->on_ready != NULL)
        opts->on_ready(s, opts->on_ready_ud);
    atomic_store(&s->running, s->nloops);
    for (i = 0; i < s->nloops; i++) {
        if (uv_thread_create(&s->loops[i].thread, loop_thread, &s->loops[i]) != 0) {
            log_error("net", "cannot start loop thread %d", i);
            abort();
        }
    }
    atomic_store(&s->ready, true);
    *port_out = port;
    return s;
fail:
    for (int j = 0; j < i; j++) {
        struct loop *l = &s->loops[j];
        uv_close((uv_handle_t *)&l->listener, NULL);
        close_loop_handles(l);
        loop_destroy(l);
        uv_mutex_destroy(&l->post_mu);
        close(l->wake_fd);
    }
    free(s->loops);
    free(s->proxies);
    free(s);
    return NULL;
}

bool server_is_ready(const struct server *s)
{
    return s && atomic_load(&((struct server *)s)->ready);
}

static void post(struct server *s, int cmd)
{
    for (int i = 0; i < s->nloops; i++) {
        atomic_store(&s->loops[i].cmd, cmd);
        wake_send(&s->loops[i]);
    }
}

static bool busy(struct server *s)
{
    return atomic_load(&s->nconns) > 0 || atomic_load(&s->inflight) > 0;
}

void server_drain(struct server *s, int timeout_ms)
{
    if (s->drained)
        return;
    s->drained = true;
    atomic_store(&s->ready, false);
    post(s, LOOP_CMD_DRAIN);
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
    /* every connection closed and every request answered, or force */
    while (clock_mono_ms() < deadline && busy(s))
        usleep(5000);
    if (busy(s)) {
        log_warn("net", "shutdown timeout: closing %d connections, %d requests in flight",
                 atomic_load(&s->nconns), atomic_load(&s->inflight));
        post(s, LOOP_CMD_FORCE);
    }
}

void server_stop(struct server *s, int timeout_ms)
{
    server_drain(s, timeout_ms);
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
    while (clock_mono_ms() < deadline && atomic_load(&s->running) > 0)
        usleep(2000);
    if (atomic_load(&s->running) > 0) {
        log_warn("net", "loops still have %d requests in flight; ending them anyway",
                 atomic_load(&s->inflight));
        post(s, LOOP_CMD_FINAL);
    }
    for (int i = 0; i < s->nloops; i++) {
        uv_thread_join(&s->loops[i].thread);
        loop_destroy(&s->loops[i]);
    }
}

/* A server whose loops ended with requests in flight: reachable until exit (LOOP_CMD_FINAL). */
struct server *net__kept_server;

void server_free(struct server *s)
{
    if (s == NULL)
        return;
    if (s->kept) {
        net__kept_server = s;
        return;
    }
    /* the post mutexes live until here: a post or wake-up between server_stop and
       server_free finds its loop ended and is dropped */
    for (int i = 0; i < s->nloops; i++) {
        uv_mutex_destroy(&s->loops[i].post_mu);
        close(s->loops[i].wake_fd);
        free(s->loops[i].yielded);
    }
    free(s->loops);
    free(s->proxies);
    free(s);
}

int server_nloops(const struct server *s)
{
    return s->nloops;
}

void server_wake(struct server *s, int idx)
{
    struct loop *l = &s->loops[idx];
    if (!atomic_exchange(&l->app_wake, true))
        wake_send(l);
}

void server_work_begin(struct server *s, int idx)
{
    net__loop_req_begin(&s->loops[idx]);
}

void server_work_end(struct server *s, int idx)
{
    net__loop_req_end(&s->loops[idx]);
}

void server_post(struct server *s, int idx, void (*fn)(void *arg), void *arg)
{
    net__loop_post(&s->loops[idx], fn, arg);
}
