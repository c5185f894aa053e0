/*
 * Read state (docs/chat.md): POST /conversations/{id}/read and the WebSocket `read` frame share
 * one path. One write op moves the member's read_seq forward (cut to the conversation's
 * last_seq; never back) and logs the move in the event log (sync replays it), reads the state
 * back (no row: not a member, 404) and the members the event goes to. After the commit, when
 * read_seq moved, `read` {conversation_id, user_id, seq, cursor},
 * encoded once, goes to every device of the other members and to the reader's other devices
 * (a room's: the reader's only). Also the read state the conversation endpoints show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/frame.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

#define SEQ_MAX 9007199254740992LL /* 2^53: what a JSON number holds exactly */
#define SEQ_MESSAGE "must be a whole number, 0 or more"

/* SQL_CONVERSATION_STATE_COLS, from the first one */
enum { ST_READ, ST_UNREAD, ST_ID, ST_SEQ, ST_SENDER, ST_TYPE, ST_CONTENT, ST_CREATED, ST_RECALLED };

void chat__conv_add_state(cJSON *o, const struct store_rows *r, int i, int col)
{
    int64_t unread = store_rows_int(r, i, col + ST_UNREAD);
    cJSON_AddNumberToObject(o, "read_seq", (double)store_rows_int(r, i, col + ST_READ));
    cJSON_AddNumberToObject(o, "unread_count", (double)(unread > 0 ? unread : 0));
    chat__last_message_add(o, r, i, col + ST_ID);
}

void chat__last_message_add(cJSON *o, const struct store_rows *r, int i, int col)
{
    col -= ST_ID; /* the offsets below count from read_seq */
    const char *id = store_rows_text(r, i, col + ST_ID);
    if (id == NULL) { /* no message yet, or none since the member joined */
        cJSON_AddNullToObject(o, "last_message");
        return;
    }
    const char *sender = store_rows_text(r, i, col + ST_SENDER);
    const char *type = store_rows_text(r, i, col + ST_TYPE);
    bool recalled = store_rows_int(r, i, col + ST_RECALLED) != 0;
    cJSON *m = cJSON_AddObjectToObject(o, "last_message");
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddNumberToObject(m, "seq", (double)store_rows_int(r, i, col + ST_SEQ));
    cJSON_AddStringToObject(m, "sender_id", sender != NULL ? sender : "");
    cJSON_AddStringToObject(m, "type", type != NULL ? type : "");
    cJSON_AddItemToObject(
        m, "preview", chat__preview_text(type, store_rows_text(r, i, col + ST_CONTENT), recalled));
    cJSON_AddNumberToObject(m, "created_at", (double)store_rows_int(r, i, col + ST_CREATED));
    cJSON_AddBoolToObject(m, "recalled", recalled);
}

/* ---- answering: HTTP or WebSocket */

static void answer_error(struct kit_job *j, int status, const char *code, const char *message,
                         const char *field)
{
    struct chctx *c = chat__ctx(j);
    if (j->req != NULL)
        http_respond_error(j->req, status, code, message, field);
    else if (c->sess->conn != NULL) /* else the connection has gone */
        rt_send_error(c->sess->conn, code, message, field);
}

/* `read` to every member in ids, except the reading connection; encoded once. */
static void publish_read(struct chctx *c, int64_t seq, int64_t cursor, const struct store_rows *ids)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"read\",\"conversation_id\":");
    buf_json_str(&b, c->conv_id);
    buf_puts(&b, ",\"user_id\":");
    buf_json_str(&b, c->user_id);
    buf_printf(&b, ",\"seq\":%lld,\"cursor\":\"%lld\"}", (long long)seq, (long long)cursor);
    struct frame *f = ws_frame_text(b.data, b.len);
    f->cursor = cursor;
    buf_release(&b);
    rt_cursor_seen(c->chat->rt, cursor);
    chat__publish_rows(c->chat->rt, c->app_id, ids, 0, NULL, f, c->sess != NULL ? c->sess->id : 0);
    chat__publish_monitors(c->chat->rt, c->app_id, f);
    frame_unref(f);
}

enum { R_LOG, R_MOVE, R_STATE, R_AUDIENCE };

/* Writer thread, right after the commit: `read` to the members when read_seq moved. */
static void read_committed(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *st = store_result_step(j->res, R_STATE);
    const struct store_rows *moved = store_result_step(j->res, R_MOVE);
    const struct store_rows *log = store_result_step(j->res, R_LOG);
    if (st != NULL && st->nrows > 0 && moved != NULL && moved->changes > 0 && log != NULL &&
        log->nrows > 0)
        publish_read(c, store_rows_int(st, 0, 0), store_rows_int(log, 0, 0),
                     store_result_step(j->res, R_AUDIENCE));
}

static void read_written(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        if (j->req != NULL)
            chat__fail_store(j);
        else if (j->status == ERR_AGAIN || j->status == ERR_UNAVAIL)
            answer_error(j, 503, "unavailable", "the server is busy; retry", NULL);
        else
            answer_error(j, 500, "internal", "the read state could not be stored", NULL);
        return;
    }
    const struct store_rows *st = store_result_step(j->res, R_STATE);
    if (st == NULL || st->nrows == 0) {
        answer_error(j, 404, "not_found", "no such conversation",
                     j->req != NULL ? NULL : "conversation_id");
        return;
    }
    int64_t seq = store_rows_int(st, 0, 0);
    int64_t unread = store_rows_int(st, 0, 1);
    if (j->req == NULL) /* the frame has no answer but an error; the other devices have `read` */
        return;
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"conversation_id\":");
    buf_json_str(&b, c->conv_id);
    buf_printf(&b, ",\"seq\":%lld,\"unread_count\":%lld}", (long long)seq,
               (long long)(unread > 0 ? unread : 0));
    http_respond_json(j->req, 200, b.data, b.len);
    buf_release(&b);
}

/* The write: the read event (when read_seq will move), read_seq forward; then the state and
 * whom the event goes to. */
static void read_write(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_EVENTS_INSERT_READ);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_int(op, c->seq);
    store_bind_int(op, clock_wall_ms());
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_READ);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_int(op, c->seq);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_READ_STATE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_READ_AUDIENCE);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    kit_store_committed(j, op, read_committed, read_written);
}

/* ---- POST /conversations/{id}/read {"seq"} */

struct body_in {
    int64_t seq;
};
static const struct kit_field body_fields[] = {
    {.name = "seq",
     .kind = KIT_INT,
     .flags = KIT_REQUIRED,
     .min = 0,
     .max = SEQ_MAX,
     .at = KIT_AT(struct body_in, seq),
     .message = SEQ_MESSAGE},
    {.name = NULL},
};
static const struct kit_table body_table = {.fields = body_fields};

static void http_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    const char *id = chat__path_id(req, "id", "no such conversation");
    if (id == NULL)
        return;
    struct body_in in;
    cJSON *body = kit_body(req, &body_table, &in);
    if (body == NULL)
        return;
    cJSON_Delete(body);
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", id);
    c->seq = in.seq;
    kit_run(j, read_write);
}

void chat_read(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, http_authed, c);
}

/* ---- the WebSocket `read` frame {"type":"read","conversation_id","seq"} */

struct frame_in {
    const char *type, *conv;
    int64_t seq;
};
static const struct kit_field frame_fields[] = {
    {.name = "type", .kind = KIT_STRING, .at = KIT_AT(struct frame_in, type)},
    {.name = "conversation_id",
     .kind = KIT_ID,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct frame_in, conv),
     .message = "must be a conversation id"},
    {.name = "seq",
     .kind = KIT_INT,
     .flags = KIT_REQUIRED,
     .min = 0,
     .max = SEQ_MAX,
     .at = KIT_AT(struct frame_in, seq),
     .message = SEQ_MESSAGE},
    {.name = NULL},
};
static const struct kit_table frame_table = {.fields = frame_fields};

void chat__ws_read(struct rt_session *s, const cJSON *msg, void *ud)
{
    struct chat *chat = ud;
    struct frame_in in;
    struct kit_error err;
    if (kit_decode(msg, &frame_table, &in, NULL, &err) != 0) {
        rt_send_error(s->conn, "validation_failed", err.message, err.field);
        return;
    }
    struct kit_job *j = chat__ws_job(s, chat, in.conv);
    chat__ctx(j)->seq = in.seq;
    kit_run(j, read_write);
}
