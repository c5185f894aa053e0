/*
 * Structures shared by the files of the net module (loop.c, conn.c, http.c
 * and its http_*.c siblings, ws.c). Nothing outside src/net includes this.
 *
 * Memory: an idle WebSocket connection is one struct conn (the libuv handle,
 * list links, timers as timestamps, the WebSocket parser state) and nothing
 * else: reads go into one per-loop buffer, output is buffered only while it
 * cannot be written, and parser buffers exist only mid-message.
 */
#ifndef HERALD_NET_INTERNAL_H
#define HERALD_NET_INTERNAL_H

#include <llhttp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/frame.h"
#include "net/server.h"
#include "net/ws_frame.h"

struct cidr;
struct http_req;
struct loop;

enum conn_kind { CONN_HTTP = 0, CONN_WS = 1 };

enum conn_state {
    CONN_OPEN = 0,
    CONN_DRAINING, /* answering then closing: no more reads dispatched */
    CONN_LINGER,   /* write side shut down, discarding input until EOF or timeout */
    CONN_CLOSED,   /* uv_close called */
};

struct http_state {
    llhttp_t parser;
    struct http_req *req; /* request being parsed or handled; NULL between requests */
    struct buf pending;   /* bytes read while a request was being handled */
    uint16_t err_status;  /* status chosen by a parser callback before failing (413, 414, 431) */
    uint8_t err_why;      /* why a callback failed (http.c), 0: llhttp's own reason */
    uint8_t head_scan;    /* line-syntax check of the request head (http_head.c) */
    bool paused;          /* a request is being handled; reads stopped */
    bool streaming;       /* paused, but its body flows to the handler's sink (http_stream.c) */
    bool body_hold;       /* the sink asked for no more body for now (reads stopped) */
    bool in_process;      /* inside process(): a sink's resume is picked up by its loop */
};

struct ws_state {
    struct ws_parser parser;
    uint32_t ping_at; /* loop ms when the unanswered heartbeat ping was sent */
    bool ping_out;    /* a heartbeat ping is unanswered */
    bool close_sent;
    char session_id[17];
    void *user; /* the application's, from ws_accept */
};

struct conn {
    uv_tcp_t tcp; /* first: handle->data is also the conn */
    struct loop *loop;
    struct conn *prev, *next;   /* loop->conns */
    struct conn *dirty_next;    /* loop->dirty list: output waiting for the flush */
    struct buf out;             /* output not yet handed to libuv; always before fq */
    size_t queued;              /* bytes inside libuv write requests */
    struct frame **fq;          /* shared frames not yet handed to libuv: a ring */
    struct frame *fq_inline[2]; /* the ring's storage until more are waiting */
    uint32_t fq_bytes;          /* bytes in the ring, less fq_off */
    uint32_t fq_off;            /* bytes of the ring's head frame already written */
    uint16_t fq_head, fq_len, fq_cap;
    uint32_t last_rx; /* loop ms of the last byte read */
    uint32_t since;   /* loop ms the current phase started (request, linger) */
    uint8_t kind;     /* enum conn_kind */
    uint8_t state;    /* enum conn_state */
    bool dirty;
    bool reading;
    bool in_callback; /* inside a read callback: defer freeing */
    bool want_close;  /* close once the output is flushed */
    bool yielded;     /* a streamed body's reading stopped for this loop turn (loop->yielded) */
    char peer[46];
    union {
        struct http_state http;
        struct ws_state ws;
    } u;
};

struct loop {
    struct server *srv;
    int idx;
    uv_thread_t thread;
    uv_loop_t uv;
    uv_tcp_t listener;
    bool listening;
    uv_poll_t wake;       /* readable when wake_fd was written: posts or commands wait */
    int wake_fd;          /* an eventfd (loop.c, wake_send) */
    atomic_bool wake_due; /* wake_fd was written and the loop has not woken since */
    uv_timer_t sweep;
    uv_prepare_t prep;
    uv_check_t check;
    uv_idle_t spin; /* active while busy-polling after recent I/O */
    bool spinning;
    bool io_seen; /* a read happened in this loop iteration */
    uint64_t last_io_ns;
    struct conn *conns; /* all open connections of this loop */
    struct conn *dirty; /* connections with output to flush */
    int nconns;
    uint32_t churn;      /* connections accepted or closed, ever (wraps) */
    uint32_t churn_seen; /* churn at the previous sweep */
    uint32_t churn_trim; /* churn when the heap was last trimmed (loop.c, maybe_trim) */
    int inflight;        /* requests dispatched and not yet freed, with or without a client */
    uint64_t start_ms;   /* monotonic ms when the loop started; loop ms are relative */
    struct metrics_shard *metrics;
    atomic_int cmd;       /* LOOP_CMD_* posted by the main thread */
    atomic_bool app_wake; /* server_wake() was called: run the application's on_wake */
    uv_mutex_t post_mu;   /* guards posts, closed and claiming a wake-up (wake_due) */
    struct loop_post *posts, *posts_tail;
    bool closed; /* under post_mu: wake is closed, posts and wake-ups are dropped */
    bool stopping;
    bool finish_anyway; /* LOOP_CMD_FINAL: end even with requests in flight (kept) */
    uint32_t id_prefix; /* random; generated request ids are prefix + req_seq */
    uint64_t req_seq;
    /* connections whose streamed request body read once this turn: reading resumes in the
     * check phase (net__conn_resume_yielded), a few per turn */
    struct conn **yielded;
    size_t nyielded, capyielded;
    char readbuf[65536];
};

/*
 * Commands, in the order server_drain / server_stop post them: DRAIN (stop
 * accepting, close idle connections, WebSockets 1001), FORCE (abort every
 * connection; requests in flight are detached and still counted), FINAL (end
 * even though requests are still in flight: their memory is kept until exit).
 */
enum { LOOP_CMD_NONE = 0, LOOP_CMD_DRAIN = 1, LOOP_CMD_FORCE = 2, LOOP_CMD_FINAL = 3 };

/* A function posted to a loop from another thread (net__loop_post). */
struct loop_post {
    struct loop_post *next;
    void (*fn)(void *arg);
    void *arg;
};

struct server {
    struct server_opts opts;
    struct loop *loops;
    int nloops;
    atomic_int nconns;   /* all loops */
    atomic_int inflight; /* all loops: requests dispatched and not yet freed */
    atomic_int running;  /* loops whose thread has not ended its uv_run */
    bool kept;           /* a loop ended with requests in flight: never freed */
    bool drained;        /* server_drain has run (main thread) */
    atomic_bool ready;
    int port;
    char cors_any;        /* HERALD_CORS_ORIGINS="*" */
    struct cidr *proxies; /* HERALD_TRUSTED_PROXIES, parsed; owned */
    size_t nproxies;
};

/* loop.c */
extern struct server *net__kept_server;
uint32_t net__now(const struct loop *l);
/*
 * Queues fn(arg) to run on l's thread; any thread. Once the loop has ended,
 * the post is dropped (logged) and arg is never freed: only a request still
 * in flight after a forced shutdown gets there, and its memory stays.
 */
void net__loop_post(struct loop *l, void (*fn)(void *arg), void *arg);
/* Ends a stopping loop that has no connection and no request left; loop thread. */
void net__loop_maybe_finish(struct loop *l);
/* A request was dispatched to a handler (http.c); loop thread. */
void net__loop_req_begin(struct loop *l);
/* A dispatched request was freed (answered, or released after its client left). */
void net__loop_req_end(struct loop *l);

/* conn.c */
void net__conn_accept(struct loop *l, uv_stream_t *listener);
void net__conn_send(struct conn *c, const void *p, size_t n);
/* Queues a reference to f (the caller keeps its own) after everything queued before. */
void net__conn_send_frame(struct conn *c, struct frame *f);
void net__conn_flush(struct conn *c);
void net__conn_flush_dirty(struct loop *l);
/* Flushes the output, then closes (lingering on the read side). */
void net__conn_close_after_flush(struct conn *c);
bool net__conn_has_unread(const struct conn *c);
/* Closes at once, dropping queued output. */
void net__conn_abort(struct conn *c);
/* Drops the output not yet handed to the socket (whole frames only: a frame partly written
 * is inside libuv's write). */
void net__conn_drop_pending(struct conn *c);
void net__conn_pause_reading(struct conn *c);
void net__conn_resume_reading(struct conn *c);
/* The check phase: connections that yielded after a read of a streamed body read again, at
 * most STREAM_READS_PER_TURN per turn (64 KiB each: a turn reads at most 256 KiB of upload
 * bodies), the longest waiting first. */
#define STREAM_READS_PER_TURN 4
void net__conn_resume_yielded(struct loop *l);
/* True while yielded connections wait for a later turn (the loop must not sleep). */
bool net__conn_yield_waiting(const struct loop *l);
/* Queued output bytes (buffered + inside libuv). */
size_t net__conn_backlog(const struct conn *c);

/* http.c, http_respond.c, http_stream.c */
void net__http_init(struct conn *c);
void net__http_release(struct conn *c);
/* Feeds bytes read from the socket to the HTTP parser and dispatches requests. */
void net__http_feed(struct conn *c, const char *data, size_t len);
/* Sweep: header-read and idle timeouts. */
void net__http_sweep(struct conn *c, uint32_t now);
/* The client went away while a request was in flight. */
void net__http_detach(struct conn *c);
/* True if origin is in the comma list of allowed origins ("*" allows all; empty: none). */
bool net__origin_listed(const char *list, const char *origin);
/* Output was written (conn.c on_write): wakes a streamed response waiting to send more. */
void net__http_written(struct conn *c);
/* True if the connection holds no request and no buffered input. */
bool net__http_is_idle(const struct conn *c);
/* True while a request's body flows to its streaming sink (http_req_body_stream). */
bool net__http_streaming(const struct conn *c);
/* True when the HTTP layer would read more now (it is not waiting on a handler or a sink). */
bool net__http_wants_read(const struct conn *c);

/* ws.c */
/* Handles GET /ws: validates the handshake, upgrades c or answers an error. */
void net__ws_upgrade(struct http_req *req, struct conn *c, const char *rest, size_t restlen);
void net__ws_feed(struct conn *c, const char *data, size_t len);
void net__ws_sweep(struct conn *c, uint32_t now);
void net__ws_shutdown(struct conn *c); /* server going away: close with 1001 */
void net__ws_detach(struct conn *c);   /* socket gone: tell the application */
void net__ws_release(struct conn *c);  /* free parser buffers (close callback) */
/* Called when the output backlog passes the bound: close 1008. */
void net__ws_overflow(struct conn *c);

#endif
