/*
 * The WebSocket `typing` frame {"type":"typing","conversation_id"} (docs/chat.md): not stored.
 * Each connection forwards at most one per conversation per CHAT_TYPING_INTERVAL_MS; the
 * others are dropped without an answer (a client sends one per keystroke). One store read,
 * with the session held, checks that the typist is a member (else `error` not_found) and
 * finds the other members; `typing` {conversation_id, user_id}, encoded once, goes to their
 * user topics on the bus. The typist's own devices get nothing; in a room nobody does.
 *
 * The limit is a fixed table of the last forward per (connection, conversation) under one
 * lock, indexed by hash: two keys that meet in one slot share it, so the table never grows
 * and at worst lets an extra frame through.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bus/bus.h"
#include "chat/internal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/frame.h"
#include "identity/identity.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

#define TYPING_SLOTS 4096
#define TYPING_AUDIENCE_MAX 1000 /* more than a group holds (CHAT_GROUP_MAX) */

struct typing_slot {
    uint64_t sess;
    uint64_t at_ms;
    char conv[KIT_ID_MAX + 1];
};

static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static struct typing_slot slots[TYPING_SLOTS];

/* True when this connection may forward a typing of conv now (and records it). Any thread. */
static bool typing_allow(uint64_t sess, const char *conv, uint64_t now)
{
    uint64_t h = sess * 0x9E3779B97F4A7C15ull;
    for (const char *p = conv; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    struct typing_slot *s = &slots[h % TYPING_SLOTS];
    bool ok = true;
    pthread_mutex_lock(&slots_mu);
    if (s->sess == sess && strcmp(s->conv, conv) == 0 && now - s->at_ms < CHAT_TYPING_INTERVAL_MS)
        ok = false;
    else {
        s->sess = sess;
        s->at_ms = now;
        snprintf(s->conv, sizeof(s->conv), "%s", conv);
    }
    pthread_mutex_unlock(&slots_mu);
    return ok;
}

enum { T_IS, T_AUDIENCE };

static void typing_read(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct ws_conn *conn = c->sess->conn; /* NULL: the connection has gone */
    if (j->status != 0) {
        if (conn != NULL)
            rt_send_error(conn, "unavailable", "the server is busy; retry", NULL);
        return;
    }
    const struct store_rows *is = store_result_step(j->res, T_IS);
    if (is == NULL || is->nrows == 0) {
        if (conn != NULL)
            rt_send_error(conn, "not_found", "no such conversation", "conversation_id");
        return;
    }
    const struct store_rows *ids = store_result_step(j->res, T_AUDIENCE);
    if (ids == NULL || ids->nrows == 0)
        return;
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"type\":\"typing\",\"conversation_id\":");
    buf_json_str(&b, c->conv_id);
    buf_puts(&b, ",\"user_id\":");
    buf_json_str(&b, c->user_id);
    buf_putc(&b, '}');
    struct frame *f = ws_frame_text(b.data, b.len);
    buf_release(&b);
    chat__publish_rows(c->chat->rt, c->app_id, ids, 0, NULL, f, 0);
    frame_unref(f);
}

static void typing_start(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_IS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_TYPING);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_int(op, TYPING_AUDIENCE_MAX);
    kit_store(j, op, KIT_READ, typing_read);
}

struct frame_in {
    const char *type, *conv;
};
static const struct kit_field frame_fields[] = {
    {.name = "type", .kind = KIT_STRING, .at = KIT_AT(struct frame_in, type)},
    {.name = "conversation_id",
     .kind = KIT_ID,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct frame_in, conv),
     .message = "must be a conversation id"},
    {.name = NULL},
};
static const struct kit_table frame_table = {.fields = frame_fields};

void chat__ws_typing(struct rt_session *s, const cJSON *msg, void *ud)
{
    struct chat *chat = ud;
    struct frame_in in;
    struct kit_error err;
    if (kit_decode(msg, &frame_table, &in, NULL, &err) != 0) {
        rt_send_error(s->conn, "validation_failed", err.message, err.field);
        return;
    }
    if (!typing_allow(s->id, in.conv, clock_mono_ms()))
        return;
    kit_run(chat__ws_job(s, chat, in.conv), typing_start);
}
