/*
 * Sending a message (docs/chat.md): POST /conversations/{id}/messages, POST /messages (with
 * `to`, a user: the direct conversation is got or created first) and the WebSocket `send`
 * frame share one path. The input is decoded by the kit's tables and checked against its
 * type's content shape; then one write op takes the conversation's next seq (the sender must
 * be a member), stores the message and its event, and reads back the message and the members.
 * Only after the commit the sender is answered (201 or send.ok) and `message.new`, encoded
 * once, goes to every member's user topic except the sending connection.
 *
 * Idempotency (SPEC §4a): a repeated client_msg_id of the same sender breaks the UNIQUE
 * (app_id, sender_id, client_msg_id) constraint, which undoes the whole op (no seq is taken);
 * the original is then read back and answered as a replay (Idempotency-Replay: true), or 422
 * when the body differs, or 409 when it is not visible yet (a concurrent first send).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/frame.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "kit/media_url.h"
#include "net/http.h"
#include "router/request.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

/* ---- decoding and the content shapes */

#define TYPE_MESSAGE "must be \"text\", \"image\", \"file\", \"audio\", \"video\" or \"custom\""
#define CLIENT_ID_MESSAGE "must be 1-64 characters of A-Z a-z 0-9 _ . @ : -"

/* The members of a message; P is where they sit in the target T ("msg." in a frame). */
#define MSG_FIELDS(T, P)                                                                           \
    {.name = "type",                                                                               \
     .kind = KIT_STRING,                                                                           \
     .flags = KIT_REQUIRED,                                                                        \
     .max = 16,                                                                                    \
     .at = KIT_AT(T, P type),                                                                      \
     .message = TYPE_MESSAGE},                                                                     \
        {.name = "content", .kind = KIT_JSON, .flags = KIT_REQUIRED, .at = KIT_AT(T, P content)},  \
    {                                                                                              \
        .name = "reply_to", .kind = KIT_ID, .flags = KIT_NULLABLE, .at = KIT_AT(T, P reply_to),    \
        .message = "must be a message id"                                                          \
    }
#define CLIENT_ID_FIELD(T, P)                                                                      \
    {                                                                                              \
        .name = "client_msg_id", .kind = KIT_ID, .flags = KIT_NULLABLE,                            \
        .at = KIT_AT(T, P client_msg_id), .message = CLIENT_ID_MESSAGE                             \
    }

/* POST /conversations/{id}/messages */
static const struct kit_field body_fields[] = {
    MSG_FIELDS(struct chat_msg_in, ),
    CLIENT_ID_FIELD(struct chat_msg_in, ),
    {.name = NULL},
};
static const struct kit_table body_table = {.fields = body_fields};

/* {"type":"send","conversation_id"|"to","client_msg_id"?,"message":{…}} */
struct frame_in {
    const char *type, *conv, *to;
    const cJSON *message;
    struct chat_msg_in msg;
};
static const struct kit_field frame_msg_fields[] = {
    MSG_FIELDS(struct frame_in, msg.),
    {.name = NULL},
};
static const struct kit_table frame_msg_table = {.fields = frame_msg_fields};
static const struct kit_field frame_fields[] = {
    {.name = "type", .kind = KIT_STRING, .at = KIT_AT(struct frame_in, type)},
    {.name = "conversation_id",
     .kind = KIT_ID,
     .at = KIT_AT(struct frame_in, conv),
     .message = "must be a conversation id"},
    {.name = "to",
     .kind = KIT_ID,
     .at = KIT_AT(struct frame_in, to),
     .message = "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -"},
    CLIENT_ID_FIELD(struct frame_in, msg.),
    {.name = "message",
     .kind = KIT_OBJECT,
     .flags = KIT_REQUIRED,
     .sub = &frame_msg_table,
     .at = KIT_AT(struct frame_in, message)},
    {.name = NULL},
};
static const struct kit_table frame_table = {.fields = frame_fields};

/* The content of image, file, audio and video messages (SPEC §2). The url is checked as an
 * avatar is (KIT_MEDIA): an http(s) URL or an upload's /media/ path, never javascript: or data:
 * (every member's client renders it as a link). */
static const struct kit_field media_fields[] = {
    {.name = "url", .kind = KIT_MEDIA, .flags = KIT_REQUIRED, .min = 1, .max = CHAT_URL_MAX},
    {.name = "name", .kind = KIT_STRING, .flags = KIT_REQUIRED, .min = 1, .max = 255},
    {.name = "size", .kind = KIT_INT, .flags = KIT_REQUIRED, .min = 0},
    {.name = "mime", .kind = KIT_STRING, .flags = KIT_REQUIRED, .min = 1, .max = 255},
    {.name = "width", .kind = KIT_INT, .min = 0, .max = 1000000},
    {.name = "height", .kind = KIT_INT, .min = 0, .max = 1000000},
    {.name = "duration", .kind = KIT_INT, .min = 0},
    {.name = NULL},
};
static const struct kit_table media_table = {.fields = media_fields};
static const struct kit_field media_field = {
    .kind = KIT_OBJECT, .sub = &media_table, .max = CHAT_CUSTOM_MAX};

static char *fail_at(struct kit_error *err, const char *prefix, const char *name,
                     const char *message)
{
    snprintf(err->field, sizeof(err->field), "%s%s", prefix, name);
    err->message = message;
    return NULL;
}

char *chat__msg_check(const struct chat_msg_in *in, int max_chars, const char *prefix,
                      struct kit_error *err)
{
    char path[KIT_PATH_MAX];
    snprintf(path, sizeof(path), "%scontent", prefix);
    const char *t = in->type;
    if (strcmp(t, "system") == 0)
        return fail_at(err, prefix, "type", "system messages are sent by the server only");
    if (strcmp(t, "text") == 0) {
        const struct kit_field text = {.kind = KIT_STRING, .min = 1, .max = max_chars};
        if (kit_check(in->content, &text, path, err) != 0)
            return NULL;
    } else if (strcmp(t, "image") == 0 || strcmp(t, "file") == 0 || strcmp(t, "audio") == 0 ||
               strcmp(t, "video") == 0) {
        if (kit_check(in->content, &media_field, path, err) != 0)
            return NULL;
    } else if (strcmp(t, "custom") != 0) {
        return fail_at(err, prefix, "type", TYPE_MESSAGE);
    }
    /* a media URL under HERALD_BASE_URL is stored relative ("/media/..."): kit/media_url.h */
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(in->content, "url");
    const char *rel = strcmp(t, "custom") != 0 && strcmp(t, "text") != 0 && cJSON_IsString(url)
                          ? media_url_under_base(url->valuestring)
                          : NULL;
    char *s;
    if (rel != NULL) {
        cJSON *copy = cJSON_Duplicate(in->content, true);
        cJSON_ReplaceItemInObjectCaseSensitive(copy, "url", cJSON_CreateString(rel));
        s = cJSON_PrintUnformatted(copy);
        cJSON_Delete(copy);
    } else {
        s = cJSON_PrintUnformatted(in->content);
    }
    if (s == NULL)
        return fail_at(err, prefix, "content", "cannot be stored");
    if (strlen(s) > CHAT_CUSTOM_MAX && strcmp(t, "text") != 0) {
        cJSON_free(s);
        return fail_at(err, prefix, "content", "must be at most 8192 bytes of JSON");
    }
    char *r = xstrdup(s);
    cJSON_free(s);
    return r;
}

/* ---- answering the sender: HTTP or WebSocket */

static void answer_error(struct kit_job *j, int status, const char *code, const char *message,
                         const char *field)
{
    chat__fail(j, status, code, message, field);
}

/* A failed store step, as request_fail_store answers it over HTTP. */
static void answer_store_error(struct kit_job *j)
{
    if (j->req != NULL) {
        chat__fail_store(j);
        return;
    }
    if (j->status == ERR_AGAIN || j->status == ERR_UNAVAIL)
        answer_error(j, 503, "unavailable", "the server is busy; retry", NULL);
    else
        answer_error(j, 500, "internal", "the message could not be stored", NULL);
}

/* The message (row 0 of m, SQL_MESSAGES_COLS) committed with its cursor: 201 or send.ok. */
static void answer_ok(struct kit_job *j, const struct store_rows *m, int64_t cursor, bool replay)
{
    struct chctx *c = chat__ctx(j);
    char cur[24];
    snprintf(cur, sizeof(cur), "%lld", (long long)cursor);
    if (j->req != NULL) {
        cJSON *o = chat__msg_json(m, 0);
        cJSON_AddStringToObject(o, "cursor", cur);
        char *s = cJSON_PrintUnformatted(o);
        if (replay)
            http_res_header(j->req, "Idempotency-Replay", "true");
        http_respond_json(j->req, 201, s, strlen(s));
        cJSON_free(s);
        cJSON_Delete(o);
        return;
    }
    if (c->sess->conn == NULL)
        return;
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"send.ok\",\"client_msg_id\":");
    const char *cid = store_rows_text(m, 0, 7);
    if (cid != NULL)
        buf_json_str(&b, cid);
    else
        buf_puts(&b, "null");
    buf_puts(&b, ",\"id\":");
    buf_json_str(&b, store_rows_text(m, 0, 0));
    buf_puts(&b, ",\"conversation_id\":");
    buf_json_str(&b, store_rows_text(m, 0, 1));
    buf_printf(&b, ",\"seq\":%lld,\"created_at\":%lld,\"cursor\":\"%s\"",
               (long long)store_rows_int(m, 0, 2), (long long)store_rows_int(m, 0, 8), cur);
    if (replay)
        buf_puts(&b, ",\"replay\":true");
    buf_putc(&b, '}');
    ws_conn_send_text(c->sess->conn, b.data, b.len);
    buf_release(&b);
}

/* ---- the one send path */

/* the steps of send_write; the reopen ones follow W_SENT unless c->no_customer */
enum {
    W_SEQ,
    W_MSG,
    W_EVENT,
    W_GET,
    W_MEMBERS,
    W_SENT,
    W_REOPEN_EVENT,
    W_REOPEN_AUDIT,
    W_REOPEN,
    W_REOPENED_CONV,   /* the conversation, when this write reopened it */
    W_REOPENED_MEMBERS /* its members, then */
};

static void send_direct(struct kit_job *j);
static void send_write(struct kit_job *j);

/* After ERR_NOTFOUND: a non-member (404) or a reply_to outside what the sender may read of
 * the conversation (422: another conversation's, or from before their join). */
static void send_refused(struct kit_job *j)
{
    if (j->status != 0) {
        answer_store_error(j);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r == NULL || r->nrows == 0)
        answer_error(j, 404, "not_found", "no such conversation",
                     j->req != NULL ? NULL : "conversation_id");
    else
        answer_error(j, 422, "validation_failed", "no such message in this conversation",
                     chat__ctx(j)->wrapped ? "message.reply_to" : "reply_to");
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A repeated support open with its message: the original request created the conversation
 * (201) when its message was the customer's first there, else it found it (200). */
static void replay_after_send(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *r = j->status == 0 ? store_result_step(j->res, 0) : NULL;
    if (r == NULL || r->nrows == 0) {
        answer_store_error(j);
        return;
    }
    c->ok_status = store_rows_int(r, 0, 0) != 0 ? 200 : 201;
    c->replayed = true;
    c->after_send(j);
}

/* After ERR_EXISTS: the original of a repeated client_msg_id, replayed or refused. */
static void send_replayed(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        answer_store_error(j);
        return;
    }
    const struct store_rows *m = store_result_step(j->res, 0);
    if (m == NULL || m->nrows == 0) {
        answer_error(j, 409, "conflict",
                     "a message with this client_msg_id is being sent; retry to get its result",
                     "client_msg_id");
        return;
    }
    if (!same(store_rows_text(m, 0, 1), c->conv_id) ||
        !same(store_rows_text(m, 0, 4), c->msg.type) ||
        !same(store_rows_text(m, 0, 5), c->content_json) ||
        !same(store_rows_text(m, 0, 6), c->msg.reply_to)) {
        answer_error(j, 422, "validation_failed",
                     "this client_msg_id was used for a different message", "client_msg_id");
        return;
    }
    if (c->after_send != NULL) { /* a support open: its answer is the conversation, again */
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_MESSAGES_SENDER_BEFORE);
        store_bind_text(op, c->conv_id);
        store_bind_text(op, c->user_id);
        store_bind_int(op, store_rows_int(m, 0, 2));
        kit_store(j, op, KIT_READ, replay_after_send);
        return;
    }
    answer_ok(j, m, store_rows_int(m, 0, m->ncols - 1), true);
}

static void send_written(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op;
    switch (j->status) {
    case 0:
        break;
    case ERR_EXISTS: /* the same sender's client_msg_id: nothing was written */
        op = store_op_new();
        store_op_add(op, &SQL_MESSAGES_BY_CLIENT_ID);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->user_id);
        store_bind_text(op, c->msg.client_msg_id);
        kit_store(j, op, KIT_READ, send_replayed);
        return;
    case ERR_NOTFOUND:          /* not a member, or reply_to elsewhere: which one? */
        if (c->direct_cached) { /* a stale entry: get or create the conversation after all */
            chat__directs_drop(c->chat->directs, c->app_id, c->direct_key);
            c->direct_cached = false;
            send_direct(j);
            return;
        }
        op = store_op_new();
        store_op_add(op, &SQL_CONVERSATION_MEMBERS_JOINED_SEQ);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->conv_id);
        store_bind_text(op, c->user_id);
        kit_store(j, op, KIT_READ, send_refused);
        return;
    default:
        answer_store_error(j);
        return;
    }
    const struct store_rows *m = store_result_step(j->res, W_GET);
    const struct store_rows *ev = store_result_step(j->res, W_EVENT);
    int64_t cursor = store_rows_inserted_id(ev);
    if (m == NULL || m->nrows == 0 || cursor == 0) {
        answer_error(j, 500, "internal", "the message could not be read back", NULL);
        return;
    }
    chat__event(c->chat, c->app_id, "message.created", c->msg_id, m, 0, false); /* webhooks */
    if (c->after_send == NULL)
        answer_ok(j, m, cursor, false);
    if (c->msg.type != NULL && strcmp(c->msg.type, "text") == 0)
        chat__search_kick(c->chat->indexer); /* listed in the write: index it (search_index.c) */
    if (c->after_send != NULL)
        c->after_send(j);
}

/* Writer thread, right after the commit: message.new to every member, except the sending
 * connection, in commit order with every other event (kit_store_committed). */
static void send_committed(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *m = store_result_step(j->res, W_GET);
    int64_t cursor = store_rows_inserted_id(store_result_step(j->res, W_EVENT));
    if (m == NULL || m->nrows == 0 || cursor == 0)
        return;
    chat__publish_msg(c->chat, c->app_id, "message.new", m, cursor,
                      store_result_step(j->res, W_MEMBERS), 0, c->sess != NULL ? c->sess->id : 0);
    if (c->no_customer)
        return;
    const struct store_rows *reopen = store_result_step(j->res, W_REOPEN_EVENT);
    const struct store_rows *conv = store_result_step(j->res, W_REOPENED_CONV);
    if (reopen != NULL && reopen->nrows > 0 && conv != NULL && conv->nrows > 0) {
        /* the customer reopened it (service.c): its new state, right after the message */
        const struct store_rows *members = store_result_step(j->res, W_REOPENED_MEMBERS);
        cJSON *o = chat__conv_json(conv, 0, members, NULL, NULL);
        chat__publish_updated(c->chat, c->app_id, o, members, NULL, store_rows_int(reopen, 0, 0));
        cJSON_Delete(o);
    }
}

/* The write: the next seq, the message, its event; then the message and the members; the
 * sender's read_seq moves to the message; a customer's message reopens the conversation (not
 * written for a conversation known to have no customer: a direct one between two users who
 * are no merchant or agent, docs/service.md). A reply_to must be a message of the
 * conversation the sender may read, from after their join (a required row, last, so the steps
 * above keep their places). */
static void send_write(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    int64_t now = clock_wall_ms();
    chat__msg_id_new(c->msg_id, now);
    struct store_op *op = store_op_new();
    /* a cached direct conversation must still be the pair's (a stale entry: ERR_NOTFOUND) */
    store_op_add(op, c->direct_cached ? &SQL_CONVERSATIONS_NEXT_SEQ_DIRECT
                                      : &SQL_CONVERSATIONS_NEXT_SEQ);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_int(op, now);
    if (c->direct_cached)
        store_bind_text(op, c->direct_key);
    store_op_require_row(op);
    store_op_add(op, &SQL_MESSAGES_INSERT);
    store_bind_text(op, c->msg_id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, c->msg.type);
    store_bind_text(op, c->content_json);
    store_bind_text(op, c->msg.reply_to);
    store_bind_text(op, c->msg.client_msg_id);
    store_bind_int(op, now);
    store_op_require_row(op);
    store_op_add(op, &SQL_EVENTS_INSERT_SENT);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->msg_id);
    store_bind_int(op, now);
    store_op_add(op, &SQL_MESSAGES_GET);
    store_bind_text(op, c->msg_id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_USER_IDS);
    store_bind_text(op, c->conv_id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_SENT); /* the sender has read it */
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    if (!c->no_customer) { /* a customer's message reopens a pending or resolved one (service.c) */
        const struct store_sql *reopen[3] = {&SQL_EVENTS_INSERT_REOPEN,
                                             &SQL_AUDIT_LOG_INSERT_REOPEN, &SQL_SERVICE_REOPEN};
        for (int k = 0; k < 3; k++) {
            store_op_add(op, reopen[k]);
            store_bind_text(op, c->app_id);
            store_bind_text(op, c->conv_id);
            store_bind_text(op, c->user_id);
            store_bind_int(op, now);
        }
        store_op_add(op, &SQL_CONVERSATIONS_GET_REOPENED); /* read back only when reopened */
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->conv_id);
        store_op_add(op, &SQL_CONVERSATION_MEMBERS_REOPENED);
        store_bind_text(op, c->conv_id);
    }
    if (c->direct_cached) { /* a disabled peer undoes the send: it is refused as unknown */
        store_op_add(op, &SQL_USERS_ACTIVE);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->target);
        store_op_require_row(op);
    }
    /* a text message is listed for the search indexer (search_index.c) */
    chat__search_queue(op, c->chat->id->store, c->msg_id, c->msg.type, c->msg.content);
    if (c->msg.reply_to != NULL) {
        store_op_add(op, &SQL_MESSAGES_REPLY_IN);
        store_bind_text(op, c->conv_id);
        store_bind_text(op, c->msg.reply_to);
        store_bind_text(op, c->user_id);
        store_op_require_row(op);
    }
    kit_store_committed(j, op, send_committed, send_written);
}

void chat__send_write(struct kit_job *j)
{
    send_write(j);
}

/* `to`: the direct conversation is there (got or created, announced when created); the sends
 * that waited for this get-or-create are woken (chat__directs_done) whatever the outcome. */
static void direct_got(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *conv = j->status == 0 ? store_result_step(j->res, -2) : NULL;
    bool found = conv != NULL && conv->nrows > 0;
    if (found) {
        snprintf(c->conv_id, sizeof(c->conv_id), "%s", store_rows_text(conv, 0, 0));
        c->no_customer = store_rows_is_null(conv, 0, CV_CUSTOMER);
    }
    chat__directs_done(c->chat->directs, c->app_id, c->direct_key, found ? c->conv_id : NULL,
                       !c->no_customer);
    if (j->status != 0 && j->status != ERR_NOTFOUND) {
        answer_store_error(j);
        return;
    }
    if (!found) {
        answer_error(j, 404, "not_found", "no such user", "to");
        return;
    }
    const struct store_rows *made = store_result_step(j->res, c->publish_step);
    if (made != NULL && made->changes > 0) /* announced at the commit (chat__write_then) */
        chat__event(c->chat, c->app_id, "conversation.created", store_rows_text(conv, 0, 0), conv,
                    0, true);
    send_write(j);
}

/* `to`: the conversation from the cache of direct conversations, else got or created. */
static void send_to(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (strcmp(c->target, CHAT_SUPPORT_TO) == 0) { /* the app's support (service.c) */
        chat__support_open(j, send_write);
        return;
    }
    if (!chat__direct_key(c->user_id, c->target, c->direct_key, sizeof(c->direct_key))) {
        answer_error(j, 422, "validation_failed", "must be another user than yourself", "to");
        return;
    }
    bool service = true;
    if (chat__directs_get(c->chat->directs, c->app_id, c->direct_key, c->conv_id,
                          sizeof(c->conv_id), &service)) {
        c->direct_cached = true;
        c->no_customer = !service;
        send_write(j);
        return;
    }
    send_direct(j);
}

static void send_direct(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = chat__direct_op(c);
    if (op == NULL) {
        answer_error(j, 422, "validation_failed", "must be another user than yourself", "to");
        return;
    }
    if (!chat__directs_lead(c->chat->directs, c->app_id, c->direct_key, j)) {
        /* woken when the pair's get-or-create ended: the conversation is remembered then, or
         * (that one failed) this send gets or creates it itself */
        store_op_free(op);
        kit_wait(j, send_to);
        return;
    }
    if (!chat__write_then(j, op, direct_got)) /* answered: wake the waiters */
        chat__directs_done(c->chat->directs, c->app_id, c->direct_key, NULL, false);
}

/* ---- POST /conversations/{id}/messages */

static void http_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct chat *chat = ud;
    const char *id = chat__path_id(req, "id", "no such conversation");
    if (id == NULL)
        return;
    struct chat_msg_in in;
    cJSON *body = kit_body(req, &body_table, &in);
    if (body == NULL)
        return;
    struct kit_error err;
    char *content = chat__msg_check(&in, chat->max_chars, "", &err);
    if (content == NULL) {
        kit_fail_decode(req, &err);
        cJSON_Delete(body);
        return;
    }
    struct kit_job *j = chat__job_new(req, chat, p);
    struct chctx *c = chat__ctx(j);
    c->body = body;
    c->msg = in;
    c->content_json = content;
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", id);
    kit_run(j, send_write);
}

void chat_msg_send(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, http_authed, c);
}

/* ---- POST /messages {"to","client_msg_id"?,"message":{…}}: the direct conversation with `to`,
 * got or created, then the same send */

struct to_in {
    const char *to;
    const cJSON *message;
    struct chat_msg_in msg;
};
static const struct kit_field to_msg_fields[] = {
    MSG_FIELDS(struct to_in, msg.),
    {.name = NULL},
};
static const struct kit_table to_msg_table = {.fields = to_msg_fields};
static const struct kit_field to_fields[] = {
    {.name = "to",
     .kind = KIT_ID,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct to_in, to),
     .message = "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -"},
    CLIENT_ID_FIELD(struct to_in, msg.),
    {.name = "message",
     .kind = KIT_OBJECT,
     .flags = KIT_REQUIRED,
     .sub = &to_msg_table,
     .at = KIT_AT(struct to_in, message)},
    {.name = NULL},
};
static const struct kit_table to_table = {.fields = to_fields};

static void to_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct chat *chat = ud;
    struct to_in in;
    cJSON *body = kit_body(req, &to_table, &in);
    if (body == NULL)
        return;
    struct kit_error err;
    char *content = chat__msg_check(&in.msg, chat->max_chars, "message.", &err);
    if (content == NULL) {
        kit_fail_decode(req, &err);
        cJSON_Delete(body);
        return;
    }
    struct kit_job *j = chat__job_new(req, chat, p);
    struct chctx *c = chat__ctx(j);
    c->body = body;
    c->msg = in.msg;
    c->content_json = content;
    c->wrapped = true;
    snprintf(c->target, sizeof(c->target), "%s", in.to);
    kit_run(j, send_to);
}

void chat_msg_send_to(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, to_authed, c);
}

/* ---- the WebSocket `send` frame */

static void sess_post(void *target, void (*fn)(void *arg), void *arg)
{
    rt_session_post(target, fn, arg);
}

static void sess_refused(void *target, int status)
{
    struct rt_session *s = target;
    if (s->conn != NULL)
        rt_send_error(s->conn, "unavailable",
                      status == ERR_AGAIN ? "the server is busy; retry" : "the server is stopping",
                      NULL);
}

const struct kit_origin chat__sess_origin = {.post = sess_post, .refused = sess_refused};

struct kit_job *chat__ws_job(struct rt_session *s, struct chat *chat, const char *conv_id)
{
    struct chctx *c = xcalloc(1, sizeof(*c));
    c->chat = chat;
    snprintf(c->app_id, sizeof(c->app_id), "%s", s->app_id);
    snprintf(c->user_id, sizeof(c->user_id), "%s", s->user_id);
    if (conv_id != NULL)
        snprintf(c->conv_id, sizeof(c->conv_id), "%s", conv_id);
    c->demo = s->demo;
    c->publish_step = -1;
    c->sess = s;
    rt_session_hold(s);
    return kit_job_new_origin(&chat__sess_origin, s, chat->id->store, c, chat__ctx_free);
}

/* A send frame refused before its job starts: validation_failed, with the frame's
 * client_msg_id when it has a well-formed one, so the client knows which send failed. */
static void refuse_frame(struct rt_session *s, const cJSON *msg, const char *message,
                         const char *field)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "client_msg_id");
    if (!cJSON_IsString(id) || !kit_id_is_valid(id->valuestring)) {
        rt_send_error(s->conn, "validation_failed", message, field);
        return;
    }
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"error\",\"code\":\"validation_failed\",\"message\":");
    buf_json_str(&b, message);
    if (field != NULL) {
        buf_puts(&b, ",\"field\":");
        buf_json_str(&b, field);
    }
    buf_puts(&b, ",\"client_msg_id\":");
    buf_json_str(&b, id->valuestring);
    buf_putc(&b, '}');
    ws_conn_send_text(s->conn, b.data, b.len);
    buf_release(&b);
}

void chat__ws_send(struct rt_session *s, const cJSON *msg, void *ud)
{
    struct chat *chat = ud;
    struct frame_in in;
    struct kit_error err;
    if (kit_decode(msg, &frame_table, &in, NULL, &err) != 0) {
        refuse_frame(s, msg, err.message, err.field);
        return;
    }
    if ((in.conv == NULL) == (in.to == NULL)) {
        refuse_frame(s, msg, "give either conversation_id or to",
                     in.conv == NULL ? "conversation_id" : "to");
        return;
    }
    char *content = chat__msg_check(&in.msg, chat->max_chars, "message.", &err);
    if (content == NULL) {
        refuse_frame(s, msg, err.message, err.field);
        return;
    }
    struct kit_job *j = chat__ws_job(s, chat, NULL);
    struct chctx *c = chat__ctx(j);
    c->wrapped = true;
    c->body = cJSON_Duplicate(msg, true); /* the frame is the caller's: keep what msg borrows */
    c->content_json = content;
    /* bind the strings again, to the copy */
    struct frame_in copy;
    kit_decode(c->body, &frame_table, &copy, NULL, &err);
    c->msg = copy.msg;
    if (copy.to != NULL) {
        snprintf(c->target, sizeof(c->target), "%s", copy.to);
        kit_run(j, send_to);
        return;
    }
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", copy.conv);
    kit_run(j, send_write);
}
