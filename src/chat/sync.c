/*
 * Sync (docs/chat.md, "Sync"): GET /api/v1/sync?cursor=&limit= and the WebSocket frame
 * {"type":"sync","cursor","limit"?} replay the events of the event log after a cursor that
 * the user may see — the conversations they belong to from the event that made them a member
 * on, and the event that told them they left or were removed — one bounded page at a time,
 * each rendered as the live frame is (message.new and message.updated with the message as it
 * is now, conversation.updated with the conversation as it is now, read as it was), and the
 * user's own notifications (an in-app delivery's `notification` event, whose one audience is
 * its user: rendered as the live frame by notify_inapp_frame; one read since or whose
 * notification's ttl has passed is skipped, as the re-sends skip it). One read op gives the
 * page and the conversations its changes are about, so both come from one store read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "net/server.h"
#include "notify/notify.h"
#include "router/request.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

#define SYNC_LIMIT_DEFAULT 100
#define SYNC_LIMIT_MAX 500
/* A WebSocket page ends before this many bytes of frames (has_more), and before the room
 * left under the socket's queue bound (HERALD_WS_MAX_QUEUE, 1 MiB by default) less
 * SYNC_DONE_RESERVE for sync.done: all of it is queued before the socket writes, so a sync of
 * long messages never gets its own client closed. One event larger than that still goes,
 * alone. */
#define SYNC_WS_PAGE_BYTES (256 * 1024)
#define SYNC_DONE_RESERVE 256
#define FRAME_HEADER_MAX 10 /* bytes of a server frame's header */
#define DAY_MS (24LL * 3600 * 1000)
#define LIMIT_MESSAGE "must be a whole number from 1 to 500"
#define CURSOR_MESSAGE "must be a cursor: a string of digits"

/* SQL_EVENTS_SYNC's columns: SQL_MESSAGES_COLS (15) from EV_MSG, the delivery's from EV_NOTE */
enum { EV_CURSOR, EV_CONV, EV_KIND, EV_USER, EV_SEQ, EV_MSG, EV_NOTE = EV_MSG + 15 };
#define EV_NOTE_EXPIRES (EV_NOTE + 6)
#define EV_NOTE_STATUS (EV_NOTE + 7)

/* A cursor: 1 to 18 digits; -1 when malformed. */
static int64_t parse_cursor(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
        return -1;
    return strtoll(s, NULL, 10);
}

/* The first created_at still held (HERALD_HISTORY_DAYS), 0 when everything is. */
static int64_t horizon(const struct chat *chat)
{
    return chat->history_days > 0 ? clock_wall_ms() - chat->history_days * DAY_MS : 0;
}

/* The conversation.updated frame of event row i: the conversation as it is now when the user
 * still belongs to it, else only its id (the user left or was removed). */
static void conv_frame(struct buf *b, const struct store_rows *ev, int i,
                       const struct store_rows *convs, const struct store_rows *members)
{
    const char *id = store_rows_text(ev, i, EV_CONV);
    const char *kind = store_rows_text(ev, i, EV_KIND);
    const char *user = store_rows_text(ev, i, EV_USER);
    bool gone = strcmp(kind, "member.removed") == 0 || strcmp(kind, "member.left") == 0;
    cJSON *o = NULL;
    for (int k = 0; convs != NULL && k < convs->nrows; k++) {
        const char *cid = store_rows_text(convs, k, 0);
        if (cid != NULL && strcmp(cid, id) == 0) {
            o = chat__conv_json(convs, k, members, NULL, NULL);
            break;
        }
    }
    if (o == NULL) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
    }
    chat__updated_frame(b, o, gone ? user : NULL, store_rows_int(ev, i, EV_CURSOR));
    cJSON_Delete(o);
}

/* The message.new or message.updated frame of event row i (false when its message is gone). */
static bool msg_frame(struct buf *b, const struct store_rows *ev, int i, const char *kind)
{
    if (store_rows_text(ev, i, EV_MSG) == NULL)
        return false;
    chat__msg_frame(b, kind, ev, i, EV_MSG, store_rows_int(ev, i, EV_CURSOR));
    return true;
}

/* The notification frame of event row i, as the live one (false when its delivery is gone,
 * was read since, or its notification's ttl has passed by now: what the re-sends skip). */
static bool note_frame(struct buf *b, const struct store_rows *ev, int i, int64_t now)
{
    const char *status = store_rows_text(ev, i, EV_NOTE_STATUS);
    if (store_rows_text(ev, i, EV_NOTE) == NULL || (status != NULL && strcmp(status, "read") == 0))
        return false;
    if (!store_rows_is_null(ev, i, EV_NOTE_EXPIRES) &&
        store_rows_int(ev, i, EV_NOTE_EXPIRES) <= now)
        return false;
    notify_inapp_frame(b, ev, i, EV_NOTE, store_rows_int(ev, i, EV_CURSOR));
    return true;
}

/* The read frame of event row i, as the live one. */
static void read_frame(struct buf *b, const struct store_rows *ev, int i)
{
    buf_puts(b, "{\"type\":\"read\",\"conversation_id\":");
    buf_json_str(b, store_rows_text(ev, i, EV_CONV));
    buf_puts(b, ",\"user_id\":");
    buf_json_str(b, store_rows_text(ev, i, EV_USER));
    buf_printf(b, ",\"seq\":%lld,\"cursor\":\"%lld\"}", (long long)store_rows_int(ev, i, EV_SEQ),
               (long long)store_rows_int(ev, i, EV_CURSOR));
}

/* The page's state after the read: where the next page starts, and what is held. */
struct page {
    int64_t cursor, earliest;
    bool has_more, complete;
};

/* Renders the page's frames: each one to emit(frame, len, cursor, arg), the page ending early
 * (with has_more) before the frame that would take it over budget bytes (counting each frame's
 * header as FRAME_HEADER_MAX). */
static struct page render(struct kit_job *j, chat_sync_emit_fn emit, void *arg, size_t budget)
{
    struct chctx *c = chat__ctx(j);
    int step = c->chat->history_days > 0 ? 1 : 0;
    struct page p = {.cursor = c->after_seq, .complete = true};
    if (step == 1) {
        const struct store_rows *held = store_result_step(j->res, 0);
        p.earliest = store_rows_int(held, 0, 0);
        p.complete = store_rows_int(held, 0, 1) == 0;
    }
    const struct store_rows *ev = store_result_step(j->res, step);
    const struct store_rows *convs = store_result_step(j->res, step + 1);
    const struct store_rows *members = store_result_step(j->res, step + 2);
    int n = ev->nrows;
    if (n > c->limit) {
        n = (int)c->limit;
        p.has_more = true;
    }
    struct buf b = BUF_INIT;
    size_t sent = 0;
    int64_t now = clock_wall_ms();
    for (int i = 0; i < n; i++) {
        int64_t cursor = store_rows_int(ev, i, EV_CURSOR);
        buf_clear(&b);
        const char *kind = store_rows_text(ev, i, EV_KIND);
        if (kind != NULL &&
            (strcmp(kind, "message.new") == 0 || strcmp(kind, "message.updated") == 0)) {
            if (!msg_frame(&b, ev, i, kind)) {
                p.cursor = cursor;
                continue;
            }
        } else if (kind != NULL && strcmp(kind, "read") == 0) {
            read_frame(&b, ev, i);
        } else if (kind != NULL && strcmp(kind, "notification") == 0) {
            if (!note_frame(&b, ev, i, now)) {
                p.cursor = cursor;
                continue;
            }
        } else {
            conv_frame(&b, ev, i, convs, members);
        }
        /* the first frame always goes, so that every page moves on */
        if (sent > 0 && sent + b.len + FRAME_HEADER_MAX > budget) {
            p.has_more = true;
            break;
        }
        p.cursor = cursor;
        emit(b.data, b.len, cursor, arg);
        sent += b.len + FRAME_HEADER_MAX;
    }
    buf_release(&b);
    return p;
}

static void page_fields(struct buf *b, const struct page *p)
{
    buf_printf(b, "\"cursor\":\"%lld\",\"has_more\":%s,\"complete\":%s", (long long)p->cursor,
               p->has_more ? "true" : "false", p->complete ? "true" : "false");
    if (!p->complete)
        buf_printf(b, ",\"earliest_cursor\":\"%lld\"", (long long)p->earliest);
}

/* ---- the read (HTTP and WebSocket) */

static bool add_read(struct kit_job *j, kit_fn next)
{
    struct chctx *c = chat__ctx(j);
    int64_t from = horizon(c->chat);
    struct store_op *op = store_op_new();
    if (c->chat->history_days > 0) {
        store_op_add(op, &SQL_EVENTS_HELD);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->user_id);
        store_bind_int(op, c->after_seq);
        store_bind_int(op, from);
    }
    const struct store_sql *steps[] = {&SQL_EVENTS_SYNC, &SQL_CONVERSATIONS_SYNCED,
                                       &SQL_CONVERSATION_MEMBERS_SYNCED};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        store_op_add(op, steps[k]);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->user_id);
        store_bind_int(op, c->after_seq);
        store_bind_int(op, from);
        store_bind_int(op, c->limit + 1); /* one more: has_more */
    }
    store_op_add(op, &SQL_EVENTS_LATEST); /* the last step: a cursor past it is not ours */
    return kit_store(j, op, KIT_READ, next);
}

int64_t chat__sync_ahead(const struct kit_job *j)
{
    const struct chctx *c = chat__ctx(j);
    const struct store_rows *latest = store_result_step(j->res, -1);
    int64_t head = latest != NULL && latest->nrows > 0 ? store_rows_int(latest, 0, 0) : 0;
    return c->after_seq > head ? head : -1;
}

void chat__sync_ahead_message(char *out, size_t n, int64_t head)
{
    snprintf(out, n,
             "is ahead of the newest event (%lld): it was not given by this server; sync from"
             " an empty cursor",
             (long long)head);
}

bool chat__sync_read(struct kit_job *j, kit_fn next)
{
    return add_read(j, next);
}

int64_t chat__sync_cursor(const char *s)
{
    return parse_cursor(s);
}

bool chat__sync_render(struct kit_job *j, chat_sync_emit_fn emit, void *arg, struct buf *done)
{
    struct page p = render(j, emit, arg, SIZE_MAX);
    buf_puts(done, "{\"type\":\"sync.done\",");
    page_fields(done, &p);
    buf_putc(done, '}');
    return p.has_more;
}

/* ---- GET /api/v1/sync */

static void http_emit(const char *frame, size_t len, int64_t cursor, void *arg)
{
    (void)cursor;
    struct buf *b = arg;
    if (b->data[b->len - 1] != '[')
        buf_putc(b, ',');
    buf_append(b, frame, len);
}

static void http_done(struct kit_job *j)
{
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    int64_t head = chat__sync_ahead(j);
    if (head >= 0) {
        char msg[160];
        chat__sync_ahead_message(msg, sizeof(msg), head);
        http_respond_error(j->req, 422, "validation_failed", msg, "cursor");
        return;
    }
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"events\":[");
    struct page p = render(j, http_emit, &b, SIZE_MAX);
    buf_puts(&b, "],");
    page_fields(&b, &p);
    buf_putc(&b, '}');
    http_respond_json(j->req, 200, b.data, b.len);
    buf_release(&b);
}

static void http_start(struct kit_job *j)
{
    add_read(j, http_done);
}

static void http_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    char buf[32];
    int64_t cursor = 0, limit = SYNC_LIMIT_DEFAULT;
    int n = http_req_query_param(req, "cursor", buf, sizeof(buf));
    if (n < 0 && http_req_has_query_param(req, "cursor")) { /* longer than any cursor */
        http_respond_error(req, 422, "validation_failed", CURSOR_MESSAGE, "cursor");
        return;
    }
    if (n > 0) { /* absent or empty: from the start */
        cursor = parse_cursor(buf);
        if (cursor < 0) {
            http_respond_error(req, 422, "validation_failed", CURSOR_MESSAGE, "cursor");
            return;
        }
    }
    n = http_req_query_param(req, "limit", buf, sizeof(buf));
    if (n > 0 || (n < 0 && http_req_has_query_param(req, "limit"))) {
        limit = n > 0 ? parse_cursor(buf) : -1;
        if (limit < 1 || limit > SYNC_LIMIT_MAX) {
            http_respond_error(req, 422, "validation_failed", LIMIT_MESSAGE, "limit");
            return;
        }
    }
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    c->after_seq = cursor;
    c->limit = limit;
    kit_run(j, http_start);
}

void chat_sync(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, http_authed, c);
}

/* ---- the WebSocket `sync` frame: the replayed frames, then sync.done */

struct frame_in {
    const char *type, *cursor;
    int64_t limit;
};
static const struct kit_field frame_fields[] = {
    {.name = "type", .kind = KIT_STRING, .at = KIT_AT(struct frame_in, type)},
    {.name = "cursor",
     .kind = KIT_STRING,
     .max = 18,
     .at = KIT_AT(struct frame_in, cursor),
     .message = CURSOR_MESSAGE},
    {.name = "limit",
     .kind = KIT_INT,
     .min = 1,
     .max = SYNC_LIMIT_MAX,
     .at = KIT_AT(struct frame_in, limit),
     .message = LIMIT_MESSAGE},
    {.name = NULL},
};
static const struct kit_table frame_table = {.fields = frame_fields};

/* A replayed event, unless the socket had it already (rt_sync_replayed). */
static void ws_emit(const char *frame, size_t len, int64_t cursor, void *arg)
{
    struct rt_session *s = arg;
    if (s->conn != NULL && rt_sync_replayed(s, cursor))
        ws_conn_send_text(s->conn, frame, len);
}

static void ws_done(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct rt_session *s = c->sess;
    if (s->conn == NULL) { /* the connection has gone */
        rt_sync_end(s, false);
        return;
    }
    if (j->status != 0) {
        rt_send_error(s->conn, "unavailable", "the events could not be read; retry", NULL);
        rt_sync_end(s, false);
        return;
    }
    int64_t head = chat__sync_ahead(j);
    if (head >= 0) {
        char msg[160];
        chat__sync_ahead_message(msg, sizeof(msg), head);
        rt_send_error(s->conn, "validation_failed", msg, "cursor");
        rt_sync_end(s, false);
        return;
    }
    size_t room = ws_conn_room(s->conn);
    size_t budget = room > SYNC_DONE_RESERVE ? room - SYNC_DONE_RESERVE : 0;
    struct page p =
        render(j, ws_emit, s, budget < SYNC_WS_PAGE_BYTES ? budget : SYNC_WS_PAGE_BYTES);
    if (s->conn == NULL) {
        rt_sync_end(s, false);
        return;
    }
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"sync.done\",");
    page_fields(&b, &p);
    buf_putc(&b, '}');
    ws_conn_send_text(s->conn, b.data, b.len);
    buf_release(&b);
    rt_sync_end(s, p.has_more); /* the last page: the live frames that waited follow it */
}

/* Live frames wait from here until the last page is out (rt_sync_begin). */
static void ws_start(struct kit_job *j)
{
    struct rt_session *s = chat__ctx(j)->sess;
    rt_sync_begin(s);
    if (!add_read(j, ws_done)) /* refused, answered: nothing to wait for */
        rt_sync_end(s, false);
}

void chat__ws_sync(struct rt_session *s, const cJSON *msg, void *ud)
{
    struct chat *chat = ud;
    struct frame_in in;
    struct kit_error err;
    if (kit_decode(msg, &frame_table, &in, NULL, &err) != 0) {
        rt_send_error(s->conn, "validation_failed", err.message, err.field);
        return;
    }
    /* absent or empty: from the start, as GET /sync */
    int64_t cursor = in.cursor == NULL || in.cursor[0] == '\0' ? 0 : parse_cursor(in.cursor);
    if (cursor < 0) {
        rt_send_error(s->conn, "validation_failed", CURSOR_MESSAGE, "cursor");
        return;
    }
    struct kit_job *j = chat__ws_job(s, chat, NULL);
    struct chctx *c = chat__ctx(j);
    c->after_seq = cursor;
    c->limit = in.limit == KIT_INT_ABSENT ? SYNC_LIMIT_DEFAULT : in.limit;
    kit_run(j, ws_start);
}
