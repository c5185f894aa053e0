/*
 * The in-app channel (docs/notifications.md, "In-app and the inbox"; docs/protocol.md): a
 * claimed in-app delivery is pushed as one `notification` frame
 * {delivery_id, notification:{type,title,content,data}, created_at, cursor} to the user's
 * topic on the bus, so every connection of the user gets it, and is then `sent`. A client
 * confirms each one with {"type":"ack","delivery_id"}: the (delivery, device) pair is recorded
 * (device: the connection's device_id, "" without one) and the delivery becomes `delivered`.
 * When a device connects, the deliveries sent to its user in the last NOTIFY_RESEND_DAYS that
 * this device has not ACKed (not read, not expired; newest 1000) are sent to that connection
 * again, oldest first: a frame may come twice, always with the same delivery_id.
 *
 * Each delivery sent is also an event of the chat's event log (kind 'notification', its one
 * audience the user), written by the queue in the write that records it sent
 * (SQL_EVENTS_INSERT_NOTIFY): the frame carries that event's cursor, re-sends too, and chat's
 * sync replays it (notify_inapp_frame). "cursor": null only when the write failed (the job
 * runs again and is then logged) or the event was pruned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "kit/decode.h"
#include "kit/job.h"
#include "net/server.h"
#include "notify/engine.h"
#include "notify/events.h"
#include "notify/notify.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

/* The frame of row i of r with these columns; cursor 0: null. */
static void frame_json(struct buf *b, const struct store_rows *r, int i, int id, int type,
                       int title, int content, int data, int created, int64_t cursor)
{
    buf_puts(b, "{\"type\":\"notification\",\"delivery_id\":");
    buf_json_str(b, store_rows_text(r, i, id));
    buf_puts(b, ",\"notification\":{\"type\":");
    buf_json_str(b, store_rows_text(r, i, type));
    const char *t = store_rows_text(r, i, title), *c = store_rows_text(r, i, content);
    const char *d = store_rows_text(r, i, data);
    buf_puts(b, ",\"title\":");
    if (t != NULL)
        buf_json_str(b, t);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"content\":");
    if (c != NULL)
        buf_json_str(b, c);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"data\":");
    buf_puts(b, d != NULL ? d : "null"); /* stored JSON text */
    buf_printf(b, "},\"created_at\":%lld,\"cursor\":", (long long)store_rows_int(r, i, created));
    if (cursor > 0)
        buf_printf(b, "\"%lld\"}", (long long)cursor);
    else
        buf_puts(b, "null}");
}

void notify_inapp_frame(struct buf *b, const struct store_rows *r, int i, int col, int64_t cursor)
{
    frame_json(b, r, i, col, col + 1, col + 2, col + 3, col + 4, col + 5, cursor);
}

/* SQL_JOBS_CLAIMED's columns (queue.c) */
enum {
    J_DELIVERY = 2,
    J_APP = 3,
    J_USER = 4,
    J_CREATED = 8,
    J_TYPE = 9,
    J_TITLE,
    J_CONTENT,
    J_DATA
};

void notify__inapp_push(struct notify_engine *n, const struct store_rows *r, int i, int64_t cursor)
{
    const char *app = store_rows_text(r, i, J_APP), *user = store_rows_text(r, i, J_USER);
    if (app == NULL || user == NULL)
        return;
    struct buf b = BUF_INIT;
    frame_json(&b, r, i, J_DELIVERY, J_TYPE, J_TITLE, J_CONTENT, J_DATA, J_CREATED, cursor);
    if (cursor > 0) /* hello's cursor is never below an event pushed */
        rt_cursor_seen(n->rt, cursor);
    char topic[BUS_TOPIC_MAX + 1];
    bus_topic_user(topic, app, user);
    rt_publish(n->rt, topic, b.data, b.len, 0, cursor);
    buf_release(&b);
}

/* ---- WebSocket jobs: a session held across a store step */

struct actx {
    struct notify_engine *n;
    struct rt_session *s; /* held */
    struct store_op *op;  /* the first step, started by start() */
    enum kit_store_kind kind;
    kit_fn next;
};

static void actx_free(void *p)
{
    struct actx *c = p;
    rt_session_release(c->s);
    free(c);
}

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

static const struct kit_origin origin = {.post = sess_post, .refused = sess_refused};

static void start(struct kit_job *j)
{
    struct actx *c = j->ctx;
    struct store_op *op = c->op;
    c->op = NULL;
    kit_store(j, op, c->kind, c->next);
}

/* Runs op for s as a job of the session; next runs on its loop. */
static void sess_run(struct notify_engine *n, struct rt_session *s, struct store_op *op,
                     enum kit_store_kind kind, kit_fn next)
{
    struct actx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->s = s;
    c->op = op;
    c->kind = kind;
    c->next = next;
    rt_session_hold(s);
    kit_run(kit_job_new_origin(&origin, s, n->store, c, actx_free), start);
}

/* ---- ack */

struct ack_in {
    const char *type, *delivery_id;
};
static const struct kit_field ack_fields[] = {
    {.name = "type", .kind = KIT_STRING, .at = KIT_AT(struct ack_in, type)},
    {.name = "delivery_id",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED | KIT_BYTES,
     .min = 1,
     .max = 79,
     .at = KIT_AT(struct ack_in, delivery_id),
     .message = "must be a delivery id"},
    {.name = NULL},
};
static const struct kit_table ack_table = {.fields = ack_fields};

static void acked(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (c->s->conn == NULL)
        return;
    if (j->status == ERR_NOTFOUND)
        rt_send_error(c->s->conn, "not_found", "no such delivery", "delivery_id");
    else if (j->status != 0)
        rt_send_error(c->s->conn, "unavailable", "the ACK could not be stored; send it again",
                      "delivery_id");
}

static void on_ack(struct rt_session *s, const cJSON *msg, void *ud)
{
    struct notify_engine *n = ud;
    struct ack_in in;
    struct kit_error err;
    if (kit_decode(msg, &ack_table, &in, NULL, &err) != 0) {
        rt_send_error(s->conn, "validation_failed", err.message, err.field);
        return;
    }
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_DELIVERIES_INAPP_OWN);
    store_bind_text(op, s->app_id);
    store_bind_text(op, s->user_id);
    store_bind_text(op, in.delivery_id);
    store_op_require_row(op);
    store_op_add(op, &SQL_DELIVERY_ACKS_ADD);
    store_bind_text(op, in.delivery_id);
    store_bind_text(op, s->device_id);
    store_bind_int(op, now);
    store_op_add(op, &SQL_DELIVERIES_DELIVERED);
    store_bind_text(op, in.delivery_id);
    store_bind_int(op, now);
    struct notify_ev_ids evs = {.b = BUF_INIT}; /* the app's event webhooks (events.c) */
    notify__ev_ids_add(n->ev, &evs, s->app_id, in.delivery_id);
    notify__ev_ids_flush(&evs, op, now);
    sess_run(n, s, op, KIT_WRITE, acked);
}

/* ---- re-sends when a device connects */

static void resend(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (j->status != 0 || c->s->conn == NULL)
        return;
    const struct store_rows *r = store_result_step(j->res, 0);
    for (int i = 0; r != NULL && i < r->nrows; i++) {
        struct buf b = BUF_INIT;
        notify_inapp_frame(&b, r, i, 0, store_rows_is_null(r, i, 6) ? 0 : store_rows_int(r, i, 6));
        ws_conn_send_text(c->s->conn, b.data, b.len);
        buf_release(&b);
    }
}

static void on_session(struct rt_session *s, bool open, void *ud)
{
    struct notify_engine *n = ud;
    if (!open || s->operator)
        return;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_DELIVERIES_UNACKED);
    store_bind_text(op, s->app_id);
    store_bind_text(op, s->user_id);
    store_bind_text(op, s->device_id);
    store_bind_int(op, now - NOTIFY_RESEND_DAYS * 86400000LL);
    store_bind_int(op, now);
    sess_run(n, s, op, KIT_READ, resend);
}

void notify__inapp_register(struct notify_engine *n)
{
    rt_register(n->rt, "ack", on_ack, n);
    rt_watch(n->rt, on_session, n);
}
