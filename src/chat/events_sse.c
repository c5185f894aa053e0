/*
 * GET /api/v1/events?cursor= — the event stream over Server-Sent Events, for clients that cannot
 * hold a WebSocket (docs/protocol.md, "Server-Sent Events"). The same events as the socket: the
 * user's topic on the bus (messages, edits, reads, typing, presence, conversation changes,
 * notifications), each as one SSE event whose `data` is the frame's JSON and whose `id` is its
 * cursor, so a browser's EventSource resumes with Last-Event-ID by itself.
 *
 * Replay, then live, with no gap: the stream subscribes to the user's topic first and holds the
 * live frames while sync's read (sync.c) runs; it writes the page, a `sync.done` event, then the
 * held frames whose cursor is past the page, then each live frame as it comes (frames without a
 * cursor, typing and presence, always). A page cut short (has_more) ends the stream after its
 * sync.done: the client reconnects at once (`retry: 0`) from its last id and reads the next.
 * A comment line every SSE_PING_MS keeps proxies from closing an idle stream; a client that
 * does not read (its queued output past HERALD_WS_MAX_QUEUE) is cut off and resumes later; a
 * revocation of the user or session ends the stream; so does the server's shutdown.
 */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bus/bus.h"
#include "chat/internal.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/frame.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "kit/job.h"
#include "net/http.h"
#include "rt/rt.h"

#define SSE_PING_MS 15000
#define SSE_TICK_MS 1000         /* how often the client's absence and the shutdown are noticed */
#define SSE_QUEUE_MAX (1u << 20) /* queued output bytes before a slow reader is cut off */
#define SSE_HELD_MAX 10000       /* live frames held during the replay before the stream ends */

struct sse {
    struct bus_sub sub;     /* first: the user's topic leads to the stream */
    struct bus_sub app_sub; /* the app's topic: publishes to "*", the app's revocation */
    struct http_req *req;
    struct bus *bus;
    int loop;
    uv_timer_t timer;
    bool subscribed, begun, ended, timer_on;
    bool replaying; /* the read is under way: live frames wait in held */
    int64_t cursor; /* the last cursor written */
    uint64_t idle;  /* ms since the last write */
    struct frame **held;
    size_t nheld, capheld;
    char session[REVOKE_SESSION_MAX + 1];
};

/* The frame's JSON text (a server text frame: unmasked, header of 2, 4 or 10 bytes). */
static const char *frame_text(const struct frame *f, size_t *len)
{
    const unsigned char *d = (const unsigned char *)f->data;
    if (f->len < 2)
        return NULL;
    size_t n = d[1] & 0x7f, at = 2;
    if (n == 126 && f->len >= 4) {
        n = ((size_t)d[2] << 8) | d[3];
        at = 4;
    } else if (n == 127 && f->len >= 10) {
        n = 0;
        for (int i = 2; i < 10; i++)
            n = (n << 8) | d[i];
        at = 10;
    }
    if (at + n > f->len)
        return NULL;
    *len = n;
    return f->data + at;
}

static void end_stream(struct sse *s);

/* One event: "id:" when it has a cursor, then its JSON on one "data:" line (frames hold no raw
 * newline: JSON escapes them). */
static void write_event(struct sse *s, const char *json, size_t len, int64_t cursor)
{
    if (s->ended)
        return;
    struct buf b = BUF_INIT;
    if (cursor > 0)
        buf_printf(&b, "id: %lld\n", (long long)cursor);
    buf_puts(&b, "data: ");
    buf_append(&b, json, len);
    buf_puts(&b, "\n\n");
    size_t queued = http_res_write(s->req, b.data, b.len);
    buf_release(&b);
    if (cursor > s->cursor)
        s->cursor = cursor;
    s->idle = 0;
    if (queued > SSE_QUEUE_MAX) /* not reading: cut off; it resumes from its last id */
        end_stream(s);
}

/* A live frame: written unless the replay already covered its cursor. */
static void write_frame(struct sse *s, const struct frame *f)
{
    size_t len;
    const char *json = frame_text(f, &len);
    if (json == NULL)
        return;
    int64_t cursor = f->cursor;
    if (cursor > 0 && cursor <= s->cursor)
        return; /* replayed already */
    write_event(s, json, len, cursor);
}

/* Both subscriptions end. Loop thread. */
static void unsubscribe(struct sse *s)
{
    if (!s->subscribed)
        return;
    bus_unsubscribe(s->bus, s->loop, &s->sub);
    bus_unsubscribe(s->bus, s->loop, &s->app_sub);
    s->subscribed = false;
}

static void sse_free(struct sse *s)
{
    for (size_t i = 0; i < s->nheld; i++)
        frame_unref(s->held[i]);
    free(s->held);
    free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    sse_free(h->data);
}

/* Ends the response and lets go of everything; the struct goes with its timer. Loop thread. */
static void end_stream(struct sse *s)
{
    if (s->ended)
        return;
    s->ended = true;
    unsubscribe(s);
    if (s->begun)
        http_res_end(s->req);
    s->req = NULL;
    if (!s->replaying) { /* else the read's continuation frees it */
        if (s->timer_on)
            uv_close((uv_handle_t *)&s->timer, on_timer_closed);
        else
            sse_free(s);
    }
}

static void deliver(struct sse *s, const struct bus_event *ev)
{
    if (s->ended)
        return;
    if (ev->kind == BUS_KIND_REVOKE) {
        if (ev->arg[0] == '\0' || strcmp(ev->arg, s->session) == 0)
            end_stream(s);
        return;
    }
    if (ev->kind != BUS_KIND_FRAME || ev->frame == NULL)
        return;
    if (s->replaying) {
        if (s->nheld == SSE_HELD_MAX) { /* a flood while reading: start over from the cursor */
            end_stream(s);
            return;
        }
        if (s->nheld == s->capheld) {
            s->capheld = s->capheld ? s->capheld * 2 : 16;
            s->held = xrealloc(s->held, s->capheld * sizeof(*s->held));
        }
        s->held[s->nheld++] = frame_ref(ev->frame);
        return;
    }
    write_frame(s, ev->frame);
}

static void on_event(struct bus_sub *sub, const struct bus_event *ev)
{
    deliver((struct sse *)sub, ev);
}

static void on_app_event(struct bus_sub *sub, const struct bus_event *ev)
{
    deliver((struct sse *)(void *)((char *)sub - offsetof(struct sse, app_sub)), ev);
}

static void on_tick(uv_timer_t *t)
{
    struct sse *s = t->data;
    if (s->ended)
        return;
    if (!http_req_has_client(s->req) || http_req_is_stopping(s->req)) {
        end_stream(s);
        return;
    }
    s->idle += SSE_TICK_MS;
    if (s->idle >= SSE_PING_MS) {
        (void)http_res_write(s->req, ": ping\n\n", 8);
        s->idle = 0;
    }
}

static void emit_replayed(const char *json, size_t len, int64_t cursor, void *arg)
{
    write_event(arg, json, len, cursor);
}

/* The replay's page has been read: the stream begins with it, then the held live frames. s stays
 * replaying (not freed by end_stream) until this function is done with it. */
static void replayed(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct sse *s = c->sse;
    int64_t head = s->ended || j->status != 0 ? -1 : chat__sync_ahead(j);
    if (s->ended || j->status != 0 || head >= 0) { /* revoked or flooded while reading, no
                                                       read, or a cursor past the newest */
        unsubscribe(s);
        sse_free(s);
        char msg[160];
        if (j->status != 0) {
            chat__fail_store(j);
        } else if (head >= 0) { /* the cursor, or the Last-Event-ID that stands for it */
            const char *last = http_req_header(j->req, "Last-Event-ID");
            chat__sync_ahead_message(msg, sizeof(msg), head);
            http_respond_error(j->req, 422, "validation_failed", msg,
                               last != NULL && last[0] != '\0' ? "Last-Event-ID" : "cursor");
        } else {
            http_respond_error(j->req, 503, "unavailable", "the stream was interrupted; retry",
                               NULL);
        }
        return;
    }
    http_res_header(j->req, "Cache-Control", "no-cache");
    http_res_header(j->req, "X-Accel-Buffering", "no"); /* nginx: do not buffer the stream */
    http_res_begin(j->req, 200, "text/event-stream; charset=utf-8", HTTP_RES_OPEN_ENDED);
    s->begun = true;
    (void)http_res_write(j->req, "retry: 0\n\n", 10);
    struct buf done = BUF_INIT;
    bool more = chat__sync_render(j, emit_replayed, s, &done);
    if (!s->ended) {
        write_event(s, done.data, done.len, 0);
        if (more) /* the next page: the client comes back from its last id at once */
            end_stream(s);
    }
    buf_release(&done);
    for (size_t i = 0; i < s->nheld && !s->ended; i++)
        write_frame(s, s->held[i]);
    for (size_t i = 0; i < s->nheld; i++)
        frame_unref(s->held[i]);
    s->nheld = 0;
    s->replaying = false;
    if (s->ended) {
        sse_free(s);
        return;
    }
    uv_timer_init(http_req_uv_loop(s->req), &s->timer);
    s->timer.data = s;
    s->timer_on = true;
    uv_timer_start(&s->timer, on_tick, SSE_TICK_MS, SSE_TICK_MS);
}

static void authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct chat *chat = ud;
    char buf[32];
    int64_t cursor = 0;
    const char *last = http_req_header(req, "Last-Event-ID"); /* EventSource's resumption */
    int n = http_req_query_param(req, "cursor", buf, sizeof(buf));
    if (last != NULL && last[0] != '\0') {
        if (strlen(last) >= sizeof(buf) || (cursor = chat__sync_cursor(last)) < 0) {
            http_respond_error(req, 422, "validation_failed",
                               "must be a cursor: a string of digits", "Last-Event-ID");
            return;
        }
    } else if ((n < 0 && http_req_has_query_param(req, "cursor")) ||
               (n > 0 && (cursor = chat__sync_cursor(buf)) < 0)) {
        http_respond_error(req, 422, "validation_failed", "must be a cursor: a string of digits",
                           "cursor");
        return;
    } else if (n < 0 && http_req_query(req)[0] != '\0' &&
               strstr(http_req_query(req), "cursor=") != NULL) {
        http_respond_error(req, 422, "validation_failed", "must be a cursor: a string of digits",
                           "cursor");
        return;
    }
    struct sse *s = xcalloc(1, sizeof(*s));
    s->req = req;
    s->bus = rt_bus(chat->rt);
    s->loop = http_req_loop(req);
    s->cursor = cursor;
    s->replaying = true;
    snprintf(s->session, sizeof(s->session), "%s", p->session_id);
    s->sub.fn = on_event;
    s->sub.id = 0; /* never the sending connection of a message */
    char topic[BUS_TOPIC_MAX + 1];
    bus_topic_user(topic, p->app_id, p->user_id);
    bus_subscribe(s->bus, s->loop, topic, &s->sub); /* first: nothing between the read and live */
    s->app_sub.fn = on_app_event;
    s->app_sub.id = 0;
    bus_topic_app(topic, p->app_id);
    bus_subscribe(s->bus, s->loop, topic, &s->app_sub);
    s->subscribed = true;
    struct kit_job *j = chat__job_new(req, chat, p);
    struct chctx *c = chat__ctx(j);
    c->sse = s;
    c->after_seq = cursor;
    c->limit = 500;
    if (!chat__sync_read(j, replayed)) { /* refused at once: answered 503 */
        unsubscribe(s);
        sse_free(s);
    }
}

void chat_events_sse(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, authed, c);
}
