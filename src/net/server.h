/*
 * The network server: N event loops (one thread each, SO_REUSEPORT listeners
 * on the same address), HTTP/1.1 and WebSocket connections, timeouts,
 * heartbeats and graceful shutdown. See docs/ARCHITECTURE.md.
 */
#ifndef HERALD_NET_SERVER_H
#define HERALD_NET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct router;
struct static_files;
struct metrics;
struct ws_conn;
struct http_req;
struct frame;

/* Callbacks of the WebSocket application protocol (src/rt/rt.h); loop thread. */
struct ws_app {
    /*
     * Optional: a handshake that passed the protocol checks (method, upgrade,
     * version, key, Origin) waits for the application, which answers later
     * (on the loop thread of r) with ws_accept(r, user) or with an HTTP error
     * (http_respond_error: 401 for a bad token). NULL: accepted at once.
     */
    void (*on_handshake)(struct http_req *r, void *ud);
    /* After the handshake; the place to send `hello`. */
    void (*on_open)(struct ws_conn *c, void *ud);
    /* A complete, valid UTF-8 text message (NUL-terminated after len). */
    void (*on_text)(struct ws_conn *c, const char *data, size_t len, void *ud);
    /* The connection is going away; c is freed after this returns. */
    void (*on_close)(struct ws_conn *c, void *ud);
    /* Optional: loop idx was woken by server_wake() (the bus delivers its batch here). */
    void (*on_wake)(int idx, void *ud);
    /* Optional: called for each open connection at the loop's sweep (at most a second apart),
     * for the application's own deadlines. */
    void (*on_tick)(struct ws_conn *c, void *ud);
    void *ud;
};

struct server;

struct server_opts {
    const struct config *cfg;     /* borrowed for the server's lifetime */
    struct router *router;        /* borrowed; read-only once running */
    struct static_files *statics; /* borrowed; may be NULL */
    struct metrics *metrics;      /* borrowed */
    struct ws_app ws;
    /* called by server_start with the new server once its listeners are bound and before its
     * loops run (so before the first connection is accepted): whatever a connection's handlers
     * reach through the server (rt_attach) is in place from the first one. May be NULL. */
    void (*on_ready)(struct server *s, void *ud);
    void *on_ready_ud;
};

/*
 * Checks that no other process listens on host:port (host an IP literal; port
 * 0 always passes) by binding it once without SO_REUSEPORT, so that a second
 * server fails instead of sharing the port with the first (see loop.c). Call
 * it before creating anything. Returns 0, or ERR_EXISTS ("address already in
 * use", naming the address) or another negative enum err with one line in err.
 * Main thread, start-up.
 */
int server_listen_probe(const char *host, int port, char *err, size_t errlen);

/*
 * Binds the listeners (one per worker) and starts the loop threads. Returns
 * NULL after logging why (e.g. address in use). On success, *bound_port holds
 * the port actually bound (for HERALD_LISTEN=...:0).
 */
struct server *server_start(const struct server_opts *opts, int *bound_port);

/*
 * First half of the shutdown: stops accepting, closes idle connections and
 * WebSockets (1001), and waits until every connection has closed and every
 * dispatched request has been answered (or released after its client left);
 * after timeout_ms it aborts every connection (requests still in flight stay
 * counted: their completions are still expected). The loops keep running, so
 * the worker pool and the store can be stopped next and their completions
 * still land on a live loop. Idempotent. Main thread only.
 */
void server_drain(struct server *s, int timeout_ms);

/*
 * server_drain if not done yet, then waits for the loops to end: a loop ends
 * once it has no connection and no request in flight. After timeout_ms more
 * the loops end anyway; the memory that late completions would touch is then
 * kept until the process exits (server_free leaves it) and their posts are
 * dropped. Blocks until the loop threads have exited. Main thread only.
 */
void server_stop(struct server *s, int timeout_ms);
/*
 * After server_stop. Until this call, server_post and server_wake on the
 * stopped server are harmless no-ops (the post is dropped, never run). NULL-safe.
 */
void server_free(struct server *s);

/* True between a successful start and the beginning of shutdown. */
bool server_is_ready(const struct server *s);

/* Sends a text message (copied) on a WebSocket connection; loop thread only. */
void ws_conn_send_text(struct ws_conn *c, const char *data, size_t len);
/*
 * Encodes one unfragmented WebSocket text frame (header and payload) into a
 * new shared frame with one reference, owned by the caller: build it once,
 * send it to any number of connections with ws_conn_send_frame. Any thread.
 */
struct frame *ws_frame_text(const char *data, size_t len);
/*
 * Queues a reference to f (built by ws_frame_text) on c: no copy. The
 * caller keeps its own reference. Over the output bound the connection is
 * closed with 1008, as with ws_conn_send_text. Loop thread of c only.
 */
void ws_conn_send_frame(struct ws_conn *c, struct frame *f);
/* Starts the close handshake with code and reason; loop thread only. */
void ws_conn_close(struct ws_conn *c, int code, const char *reason);
/* Identifier of this connection's session (hex, NUL-terminated). */
const char *ws_conn_session_id(const struct ws_conn *c);
/* Heartbeat interval announced in hello. */
int ws_conn_heartbeat_ms(const struct ws_conn *c);
/*
 * Bytes that may still be queued on c before its output bound (HERALD_WS_MAX_QUEUE) closes it
 * with 1008: the bound minus what is waiting, 0 when nothing more fits. Loop thread of c only.
 */
size_t ws_conn_room(const struct ws_conn *c);
/* The application's pointer given to ws_accept (NULL without on_handshake). */
void *ws_conn_user(const struct ws_conn *c);
/* Index (0..server_nloops()-1) of the loop that owns c. */
int ws_conn_loop(const struct ws_conn *c);

/*
 * Completes a handshake held by on_handshake: answers 101 and turns the
 * connection into a WebSocket whose user pointer is user (on_open follows).
 * Returns false when the client went away meanwhile (r is freed, user stays
 * the caller's). Loop thread of r.
 */
bool ws_accept(struct http_req *r, void *user);

/* Number of event loops. Any thread. */
int server_nloops(const struct server *s);
/*
 * Makes loop idx call the application's on_wake soon; calls made before it
 * runs coalesce into one (no allocation, one wake-up write at most). Any
 * thread.
 */
void server_wake(struct server *s, int idx);
/*
 * Counts asynchronous work of a WebSocket command (a store step) on loop idx as a request
 * in flight, so that shutdown waits for its completion as for an HTTP request's, and the
 * loop does not end before the completion has been posted to it. Begin when the work
 * starts, end once its completion has run; both on loop idx's thread.
 */
void server_work_begin(struct server *s, int idx);
void server_work_end(struct server *s, int idx);

/* Queues fn(arg) to run on loop idx (0..server_nloops()-1). Any thread. */
void server_post(struct server *s, int idx, void (*fn)(void *arg), void *arg);

/*
 * Between server_post_hold() and server_post_release() on one thread, the loop wake-ups that
 * this thread's posts and wake-ups need are written at the release, once for each loop: a
 * thread that completes a batch of work (the store writer after a group commit) then hands a
 * loop the whole batch at once, instead of waking it for the first completion and being
 * preempted by it, on a shared core, before it has posted the second. Per thread; the
 * pair must be short and must not nest. Any thread.
 */
void server_post_hold(void);
void server_post_release(void);

#endif
