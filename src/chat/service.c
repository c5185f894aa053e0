/*
 * The service workflow (issue 10, docs/service.md): a conversation with an agent or a merchant
 * has a status (open, pending, resolved) and an assignee; a customer's message reopens it
 * (send.c writes that in the send's own op). Support conversations are a customer's requests
 * to the app's agents: POST /support/conversations (and a send `to: "support"`) gets or
 * creates the customer's one unresolved support conversation and routes it, in the same write,
 * to the online agent with the fewest unresolved conversations (the oldest turn on a tie);
 * with nobody online it waits queued, and an agent coming online (presence.c calls
 * chat__support_agent_online) takes the queue, oldest first, each conversation by the same
 * rule. POST /conversations/{id}/status and /transfer change them; GET /conversations with
 * status= or assignee= lists an agent's queue. Every change writes its event (sync replays it
 * as conversation.updated) and its audit-log row in the change's own write.
 *
 * Routing is one statement (SQL_SUPPORT_ASSIGN) inside one write op that holds the app's
 * routing lock (SQLite: the one writer; PostgreSQL: an advisory transaction lock), so
 * concurrent opens are assigned one after the other, each seeing the loads the ones before it
 * committed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define SWEEP_BATCH 20  /* queued conversations one sweep step reads */
#define AGENTS_MAX 500 /* agents GET /support/agents lists */

enum { CV_STATUS = 10, CV_ASSIGNEE, CV_CUSTOMER }; /* in SQL_CONVERSATIONS_COLS */

struct support {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight; /* sweeps under way */
};

struct support *chat__support_new(struct store *st)
{
    struct support *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    struct store_op *op = store_op_new(); /* presence is this process's: nobody is online yet */
    store_op_add(op, &SQL_SUPPORT_AGENTS_RESET);
    if (store_write_wait(st, op, NULL) != 0)
        log_warn("support", "the agents' online flags could not be reset");
    return s;
}

void chat__support_free(struct support *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    while (s->inflight > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* The routing of conversation conv_id (a queued support conversation; nothing otherwise): the
 * statements of SQL_SUPPORT_ASSIGN and what follows an assignment, then its event. */
static void add_assign(struct store_op *op, const struct chctx *c, const char *conv_id, int64_t now)
{
    store_op_add(op, &SQL_SUPPORT_ASSIGN);
    store_bind_text(op, c->app_id);
    store_bind_text(op, conv_id);
    store_bind_int(op, now);
    store_op_add(op, &SQL_SUPPORT_AGENT_TURN);
    store_bind_text(op, c->app_id);
    store_bind_text(op, conv_id);
    store_op_add(op, &SQL_AUDIT_LOG_INSERT_ASSIGN);
    store_bind_text(op, c->app_id);
    store_bind_text(op, conv_id);
    store_bind_int(op, now);
    store_op_add(op, &SQL_SUPPORT_MEMBER_ADD);
    store_bind_text(op, conv_id);
    store_bind_int(op, now);
}

static void add_lock(struct store_op *op, const char *app_id)
{
    store_op_add(op, &SQL_SUPPORT_LOCK);
    store_bind_text(op, app_id);
}

/* ---- an agent comes online: the queue, oldest first, one write per conversation */

struct sweep {
    struct chat *chat;
    struct chctx c; /* app_id only: what chat__add_event reads */
    char user[JWT_SUB_MAX + 1];
    char (*ids)[KIT_ID_MAX + 1];
    int n, next, assigned;
};

static void sweep_step(struct sweep *w);

static void sweep_end(struct sweep *w)
{
    struct support *s = w->chat->support;
    free(w->ids);
    free(w);
    pthread_mutex_lock(&s->mu);
    s->inflight--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void assigned(int status, struct store_result *res, void *ud)
{
    struct sweep *w = ud;
    const struct store_rows *conv = status == 0 ? store_result_step(res, -2) : NULL;
    int64_t cursor = status == 0 ? chat__event_cursor(&w->c, res) : 0;
    if (status != 0)
        log_warn("support", "a queued conversation was not assigned: status %d", status);
    if (conv != NULL && conv->nrows > 0 && cursor > 0) {
        const struct store_rows *members = store_result_step(res, -1);
        cJSON *o = chat__conv_json(conv, 0, members, NULL);
        chat__publish_updated(w->chat, w->c.app_id, o, members, NULL, cursor);
        cJSON_Delete(o);
        w->assigned++;
    }
    store_result_free(res);
    sweep_step(w);
}

static void queue_read(int status, struct store_result *res, void *ud);

/* The next queued conversation of the batch; after the last, the next batch when this one
 * was full and assigned something (an agent is still online), else the end. */
static void sweep_step(struct sweep *w)
{
    struct store_op *op = store_op_new();
    if (w->next >= w->n) {
        if (w->n < SWEEP_BATCH || w->assigned == 0) {
            store_op_free(op);
            sweep_end(w);
            return;
        }
        w->n = w->next = w->assigned = 0;
        store_op_add(op, &SQL_SUPPORT_QUEUED);
        store_bind_text(op, w->c.app_id);
        store_bind_int(op, SWEEP_BATCH);
        if (store_read(w->chat->id->store, op, queue_read, w) != 0)
            sweep_end(w);
        return;
    }
    const char *id = w->ids[w->next++];
    add_lock(op, w->c.app_id);
    add_assign(op, &w->c, id, clock_wall_ms());
    chat__add_event(op, &w->c, id, NULL, "conversation.assigned", NULL, true);
    store_op_add(op, &SQL_CONVERSATIONS_GET);
    store_bind_text(op, w->c.app_id);
    store_bind_text(op, id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_OF);
    store_bind_text(op, id);
    if (store_write(w->chat->id->store, op, assigned, w) != 0)
        sweep_end(w);
}

static void queue_read(int status, struct store_result *res, void *ud)
{
    struct sweep *w = ud;
    const struct store_rows *r = status == 0 ? store_result_step(res, -1) : NULL;
    if (status != 0)
        log_warn("support", "the support queue could not be read: status %d", status);
    w->n = r != NULL ? r->nrows : 0;
    free(w->ids);
    w->ids = xcalloc((size_t)w->n + 1, sizeof(*w->ids));
    for (int i = 0; i < w->n; i++)
        snprintf(w->ids[i], sizeof(w->ids[i]), "%s", store_rows_text(r, i, 0));
    store_result_free(res);
    sweep_step(w);
}

void chat__support_agent_online(void *ud, const char *app, const char *user)
{
    struct chat *chat = ud;
    struct sweep *w = xcalloc(1, sizeof(*w));
    w->chat = chat;
    snprintf(w->c.app_id, sizeof(w->c.app_id), "%s", app);
    snprintf(w->user, sizeof(w->user), "%s", user);
    pthread_mutex_lock(&chat->support->mu);
    chat->support->inflight++;
    pthread_mutex_unlock(&chat->support->mu);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SUPPORT_AGENT_ONLINE);
    store_bind_text(op, app);
    store_bind_text(op, user);
    store_op_add(op, &SQL_SUPPORT_QUEUED);
    store_bind_text(op, app);
    store_bind_int(op, SWEEP_BATCH);
    if (store_write(chat->id->store, op, queue_read, w) != 0) {
        log_warn("support", "an agent's arrival was not recorded: the store refused");
        sweep_end(w);
    }
}

/* ---- a customer's message reopened a conversation (send.c wrote it) */

struct reopened {
    struct chat *chat;
    int64_t cursor;
    char app[JWT_APP_MAX + 1];
};

static void reopened_read(int status, struct store_result *res, void *ud)
{
    struct reopened *r = ud;
    const struct store_rows *conv = status == 0 ? store_result_step(res, 0) : NULL;
    if (conv != NULL && conv->nrows > 0) {
        const struct store_rows *members = store_result_step(res, 1);
        cJSON *o = chat__conv_json(conv, 0, members, NULL);
        chat__publish_updated(r->chat, r->app, o, members, NULL, r->cursor);
        cJSON_Delete(o);
    }
    store_result_free(res);
    struct support *s = r->chat->support;
    free(r);
    pthread_mutex_lock(&s->mu);
    s->inflight--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void chat__service_reopened(struct chat *chat, const char *app, const char *conv, int64_t cursor)
{
    struct reopened *r = xcalloc(1, sizeof(*r));
    r->chat = chat;
    r->cursor = cursor;
    snprintf(r->app, sizeof(r->app), "%s", app);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_GET);
    store_bind_text(op, app);
    store_bind_text(op, conv);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_OF);
    store_bind_text(op, conv);
    pthread_mutex_lock(&chat->support->mu);
    chat->support->inflight++;
    pthread_mutex_unlock(&chat->support->mu);
    if (store_read(chat->id->store, op, reopened_read, r) != 0) {
        log_warn("support", "a reopened conversation was not announced: the store refused");
        reopened_read(ERR_UNAVAIL, NULL, r);
    }
}

/* ---- POST /support/conversations and a send `to: "support"` */

/* The conversation of a write or a read that ended with it and its members: answered. */
static void respond_conv(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *conv = store_result_step(j->res, -2);
    cJSON *o = chat__conv_json(conv, 0, store_result_step(j->res, -1), c->user_id);
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, c->ok_status, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

static void reread_done(struct kit_job *j)
{
    const struct store_rows *conv = j->status == 0 ? store_result_step(j->res, -2) : NULL;
    if (j->status != 0 || conv == NULL || conv->nrows == 0) {
        chat__fail_store(j);
        return;
    }
    respond_conv(j);
}

/* After the first message of POST /support/conversations: the conversation as it is now. */
static void after_first_message(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_OF);
    store_bind_text(op, c->conv_id);
    kit_store(j, op, KIT_READ, reread_done);
}

static void opened(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, -2);
    const struct store_rows *members = store_result_step(j->res, -1);
    if (conv == NULL || conv->nrows == 0) { /* resolved meanwhile: the customer retries */
        chat__fail(j, 409, "conflict", "the support conversation changed meanwhile; retry",
                   j->req != NULL ? NULL : "to");
        return;
    }
    const struct store_rows *made = store_result_step(j->res, c->publish_step);
    bool created = made != NULL && made->changes > 0;
    if (created) {
        cJSON *ev = chat__conv_json(conv, 0, members, NULL);
        chat__publish_updated(c->chat, c->app_id, ev, members, NULL, chat__event_cursor(c, j->res));
        cJSON_Delete(ev);
    }
    c->ok_status = created ? 201 : 200;
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", store_rows_text(conv, 0, 0));
    if (c->support_then != NULL) {
        c->support_then(j);
        return;
    }
    respond_conv(j);
}

/* The write of an open: the customer's unresolved support conversation, created and routed
 * when there is none; then it and its members. */
static void open_write(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    char id[CHAT_ID_LEN + 1];
    id[0] = 'c';
    rand_hex(id + 1, (CHAT_ID_LEN - 1) / 2);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    add_lock(op, c->app_id);
    store_op_add(op, &SQL_SUPPORT_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_int(op, now);
    c->publish_step = 1;
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_ADD);
    store_bind_text(op, id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, "member");
    store_bind_int(op, now);
    add_assign(op, c, id, now);
    chat__add_event(op, c, id, NULL, "conversation.created", NULL, true);
    store_op_add(op, &SQL_SUPPORT_OPEN_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_op_add(op, &SQL_SUPPORT_OPEN_MEMBERS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    kit_store(j, op, KIT_WRITE, opened);
}

void chat__support_open(struct kit_job *j, kit_fn then)
{
    chat__ctx(j)->support_then = then;
    open_write(j);
}

/* {"message"?: {"type","content","reply_to"?}, "client_msg_id"?} */
struct open_in {
    const char *client_msg_id;
    const cJSON *message;
    struct chat_msg_in msg;
};
static const struct kit_field open_msg_fields[] = {
    {.name = "type",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .max = 16,
     .at = KIT_AT(struct open_in, msg.type),
     .message = "must be \"text\", \"image\", \"file\", \"audio\", \"video\" or \"custom\""},
    {.name = "content",
     .kind = KIT_JSON,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct open_in, msg.content)},
    {.name = "reply_to",
     .kind = KIT_ID,
     .flags = KIT_NULLABLE,
     .at = KIT_AT(struct open_in, msg.reply_to),
     .message = "must be a message id"},
    {.name = NULL},
};
static const struct kit_table open_msg_table = {.fields = open_msg_fields};
static const struct kit_field open_fields[] = {
    {.name = "message",
     .kind = KIT_OBJECT,
     .flags = KIT_NULLABLE,
     .sub = &open_msg_table,
     .at = KIT_AT(struct open_in, message)},
    {.name = "client_msg_id",
     .kind = KIT_ID,
     .flags = KIT_NULLABLE,
     .at = KIT_AT(struct open_in, msg.client_msg_id),
     .message = "must be 1-64 characters of A-Z a-z 0-9 _ . @ : -"},
    {.name = NULL},
};
static const struct kit_table open_table = {.fields = open_fields};

static void open_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct chat *chat = ud;
    struct open_in in;
    cJSON *body = kit_body(req, &open_table, &in);
    if (body == NULL)
        return;
    char *content = NULL;
    if (in.message != NULL) {
        struct kit_error err;
        content = chat__msg_check(&in.msg, chat->max_chars, "message.", &err);
        if (content == NULL) {
            kit_fail_decode(req, &err);
            cJSON_Delete(body);
            return;
        }
    } else if (in.msg.client_msg_id != NULL) {
        http_respond_error(req, 422, "validation_failed", "is only for a first message",
                           "client_msg_id");
        cJSON_Delete(body);
        return;
    }
    struct kit_job *j = chat__job_new(req, chat, p);
    struct chctx *c = chat__ctx(j);
    c->body = body;
    if (content != NULL) {
        c->msg = in.msg;
        c->content_json = content;
        c->wrapped = true;
        c->after_send = after_first_message;
        c->support_then = chat__send_write;
    }
    kit_run(j, open_write);
}

void chat_support_open(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, open_authed, c);
}

/* ---- POST /conversations/{id}/status {"status"} and /transfer {"to"} */

struct change_in {
    const char *status, *to;
};
static const struct kit_field status_fields[] = {
    {.name = "status",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .max = 16,
     .at = KIT_AT(struct change_in, status),
     .message = "must be \"open\", \"pending\" or \"resolved\""},
    {.name = NULL},
};
static const struct kit_table status_table = {.fields = status_fields};
static const struct kit_field transfer_fields[] = {
    {.name = "to",
     .kind = KIT_ID,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct change_in, to),
     .message = "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -"},
    {.name = NULL},
};
static const struct kit_table transfer_table = {.fields = transfer_fields};

/* The row of user id in r (SQL_SERVICE_KINDS), -1 when none or disabled. */
static int user_row(const struct store_rows *r, const char *id)
{
    for (int k = 0; r != NULL && k < r->nrows; k++) {
        const char *u = store_rows_text(r, k, 0);
        if (u != NULL && strcmp(u, id) == 0)
            return store_rows_int(r, k, 2) != 0 ? -1 : k;
    }
    return -1;
}

static bool is_agent(const struct store_rows *r, const char *id)
{
    int k = user_row(r, id);
    const char *kind = k >= 0 ? store_rows_text(r, k, 1) : NULL;
    return kind != NULL && strcmp(kind, "agent") == 0;
}

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* {"from","to"} of a change, as JSON text (owned). */
static char *detail_json(const char *from, const char *to)
{
    cJSON *o = cJSON_CreateObject();
    if (from != NULL)
        cJSON_AddStringToObject(o, "from", from);
    else
        cJSON_AddNullToObject(o, "from");
    cJSON_AddStringToObject(o, "to", to);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *r = xstrdup(s);
    cJSON_free(s);
    return r;
}

static void add_audit(struct store_op *op, const struct chctx *c, const char *action,
                      const char *detail, int64_t now)
{
    store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_USER);
    store_bind_text(op, c->user_id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, action);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, detail);
    store_bind_int(op, now);
}

static void add_tail(struct store_op *op, struct chctx *c, const char *kind, const char *user)
{
    chat__add_event(op, c, c->conv_id, NULL, kind, user, false);
    if (c->sys_json != NULL)
        chat__add_system(op, c);
    store_op_add(op, &SQL_CONVERSATIONS_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_OF);
    store_bind_text(op, c->conv_id);
}

/* The status change, decided: the change as status (c->name), or nothing when it is so. */
static void write_status(struct kit_job *j, const char *old, const char *assignee)
{
    struct chctx *c = chat__ctx(j);
    const char *to = c->name;
    if (same(old, to)) { /* nothing to change: the conversation as it is */
        after_first_message(j);
        return;
    }
    int64_t now = clock_wall_ms();
    char *detail = detail_json(old, to);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SERVICE_SET_STATUS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, to);
    store_bind_int(op, now);
    store_bind_text(op, assignee);
    store_op_require_row(op);
    add_audit(op, c, "conversation.status", detail, now);
    free(detail);
    add_tail(op, c, "conversation.status", NULL);
    kit_store(j, op, KIT_WRITE, chat__finish_write);
}

/* The transfer to c->target, decided. */
static void write_transfer(struct kit_job *j, const char *assignee)
{
    struct chctx *c = chat__ctx(j);
    if (same(assignee, c->target)) {
        after_first_message(j);
        return;
    }
    int64_t now = clock_wall_ms();
    char *detail = detail_json(assignee, c->target);
    cJSON *sys = cJSON_CreateObject();
    cJSON_AddStringToObject(sys, "event", "conversation.transferred");
    if (assignee != NULL)
        cJSON_AddStringToObject(sys, "from", assignee);
    else
        cJSON_AddNullToObject(sys, "from");
    cJSON_AddStringToObject(sys, "user_id", c->target);
    cJSON_AddStringToObject(sys, "by", c->user_id);
    char *s = cJSON_PrintUnformatted(sys);
    cJSON_Delete(sys);
    c->sys_json = xstrdup(s);
    cJSON_free(s);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SERVICE_TRANSFER);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->target);
    store_bind_int(op, now);
    store_bind_text(op, assignee);
    store_op_require_row(op);
    store_op_add(op, &SQL_SUPPORT_MEMBER_ADD);
    store_bind_text(op, c->conv_id);
    store_bind_int(op, now);
    add_audit(op, c, "conversation.transfer", detail, now);
    free(detail);
    add_tail(op, c, "conversation.transferred", c->target);
    kit_store(j, op, KIT_WRITE, chat__finish_write);
}

/* Loaded: the conversation with the asker's role (step 0), the asker's and the target's kinds
 * (step 1). Decides who may change what (docs/service.md, "Who may change what"). */
static void change_loaded(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, 0);
    const struct store_rows *users = store_result_step(j->res, 1);
    const char *type = store_rows_text(conv, 0, 1);
    const char *role = store_rows_text(conv, 0, SQL_CONVERSATIONS_NCOLS);
    bool support = same(type, "support");
    bool agent = is_agent(users, c->user_id);
    if (type == NULL || (role == NULL && !(support && agent))) {
        http_respond_error(j->req, 404, "not_found", "no such conversation", NULL);
        return;
    }
    const char *status = store_rows_text(conv, 0, CV_STATUS);
    const char *assignee = store_rows_text(conv, 0, CV_ASSIGNEE);
    const char *customer = store_rows_text(conv, 0, CV_CUSTOMER);
    if (status == NULL) {
        http_respond_error(j->req, 409, "conflict",
                           "this conversation has no status: it is not with an agent or a "
                           "merchant",
                           NULL);
        return;
    }
    bool handler = same(assignee, c->user_id) || (support && agent);
    if (c->action == CHAT_PATCH) { /* status */
        if (!handler && !(same(customer, c->user_id) && same(c->name, "resolved"))) {
            http_respond_error(j->req, 403, "forbidden",
                               same(customer, c->user_id)
                                   ? "a customer may only resolve the conversation"
                                   : "only the assignee or an agent may change the status",
                               NULL);
            return;
        }
        write_status(j, status, assignee);
        return;
    }
    if (!support) {
        http_respond_error(j->req, 409, "conflict",
                           "only a support conversation is transferred: a direct one stays "
                           "with its merchant or agent",
                           NULL);
        return;
    }
    if (!handler) {
        http_respond_error(j->req, 403, "forbidden",
                           "only the assignee or an agent may transfer the conversation", NULL);
        return;
    }
    if (user_row(users, c->target) < 0) {
        http_respond_error(j->req, 404, "not_found", "no such user", "to");
        return;
    }
    if (!is_agent(users, c->target) || same(c->target, customer)) {
        http_respond_error(j->req, 422, "validation_failed",
                           "must be an agent of the app (a user of kind agent)", "to");
        return;
    }
    write_transfer(j, assignee);
}

static void change_load(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_LOAD);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_op_add(op, &SQL_SERVICE_KINDS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, c->target[0] != '\0' ? c->target : NULL);
    kit_store(j, op, KIT_READ, change_loaded);
}

static void change_authed(struct http_req *req, const struct user_principal *p, void *ud,
                          bool status)
{
    const char *id = chat__path_id(req, "id", "no such conversation");
    if (id == NULL)
        return;
    struct change_in in = {0};
    cJSON *body = kit_body(req, status ? &status_table : &transfer_table, &in);
    if (body == NULL)
        return;
    if (status && strcmp(in.status, "open") != 0 && strcmp(in.status, "pending") != 0 &&
        strcmp(in.status, "resolved") != 0) {
        http_respond_error(req, 422, "validation_failed",
                           "must be \"open\", \"pending\" or \"resolved\"", "status");
        cJSON_Delete(body);
        return;
    }
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    c->body = body;
    c->action = status ? CHAT_PATCH : CHAT_ROLE;
    c->name = in.status;
    if (in.to != NULL)
        snprintf(c->target, sizeof(c->target), "%s", in.to);
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", id);
    kit_run(j, change_load);
}

static void status_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    change_authed(req, p, ud, true);
}

static void transfer_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    change_authed(req, p, ud, false);
}

void chat_conv_status(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, status_authed, c);
}

void chat_conv_transfer(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, transfer_authed, c);
}

/* ---- GET /conversations?status=&assignee= */

static void svc_list_done(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *count = store_result_step(j->res, 0);
    const struct store_rows *conv = store_result_step(j->res, 1);
    const struct store_rows *members = store_result_step(j->res, 2);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)store_rows_int(count, 0, 0));
    cJSON *arr = cJSON_AddArrayToObject(o, "results");
    for (int i = 0; conv != NULL && i < conv->nrows; i++) {
        cJSON *e = chat__conv_json(conv, i, members, c->user_id);
        chat__conv_add_state(e, conv, i, SQL_CONVERSATIONS_NCOLS);
        chat__presence_peer(c->chat, c->app_id, e);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_AddNumberToObject(o, "page", (double)c->page);
    cJSON_AddNumberToObject(o, "page_size", (double)c->page_size);
    cJSON_AddNumberToObject(o, "unread_total", (double)store_rows_int(count, 0, 1));
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

static void bind_filters(struct store_op *op, const struct chctx *c, bool page)
{
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, c->name);
    store_bind_text(op, c->target[0] != '\0' ? c->target : NULL);
    store_bind_int(op, c->seq);
    if (page) {
        store_bind_int(op, c->page_size);
        store_bind_int(op, (c->page - 1) * c->page_size);
    }
}

bool chat__service_list(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct http_req *req = j->req;
    char status[16], assignee[JWT_SUB_MAX + 1];
    int ns = http_req_query_param(req, "status", status, sizeof(status));
    int na = http_req_query_param(req, "assignee", assignee, sizeof(assignee));
    const char *raw = http_req_query(req);
    bool has_s = ns >= 0 || strstr(raw, "status=") != NULL;
    bool has_a = na >= 0 || strstr(raw, "assignee=") != NULL;
    if (!has_s && !has_a)
        return false;
    if (has_s && (ns < 0 || (strcmp(status, "open") != 0 && strcmp(status, "pending") != 0 &&
                             strcmp(status, "resolved") != 0))) {
        http_respond_error(req, 422, "validation_failed",
                           "must be \"open\", \"pending\" or \"resolved\"", "status");
        kit_job_end(j);
        return true;
    }
    if (has_a && (na < 0 || (strcmp(assignee, "me") != 0 && strcmp(assignee, "none") != 0 &&
                             !kit_id_is_valid(assignee)))) {
        http_respond_error(req, 422, "validation_failed", "must be \"me\", \"none\" or a user id",
                           "assignee");
        kit_job_end(j);
        return true;
    }
    c->name = NULL;
    if (has_s) {
        c->content_json = xstrdup(status); /* owned by the context */
        c->name = c->content_json;
    }
    if (has_a && strcmp(assignee, "none") == 0)
        c->seq = 1;
    else if (has_a)
        snprintf(c->target, sizeof(c->target), "%s",
                 strcmp(assignee, "me") == 0 ? c->user_id : assignee);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SERVICE_LIST_COUNT);
    bind_filters(op, c, false);
    store_op_add(op, &SQL_SERVICE_LIST_PAGE);
    bind_filters(op, c, true);
    store_op_add(op, &SQL_SERVICE_LIST_MEMBERS);
    bind_filters(op, c, true);
    kit_store(j, op, KIT_READ, svc_list_done);
    return true;
}

/* ---- GET /support/agents: the app's agents, online here or not, and their loads */

static void agents_done(struct kit_job *j)
{
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *users = store_result_step(j->res, 0);
    if (!is_agent(users, chat__ctx(j)->user_id)) {
        http_respond_error(j->req, 403, "forbidden", "only an agent sees the agents", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", r != NULL ? r->nrows : 0);
    cJSON *arr = cJSON_AddArrayToObject(o, "results");
    for (int i = 0; r != NULL && i < r->nrows; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "user_id", store_rows_text(r, i, 0));
        cJSON_AddBoolToObject(e, "online", store_rows_int(r, i, 1) != 0);
        cJSON_AddNumberToObject(e, "open_count", (double)store_rows_int(r, i, 2));
        cJSON_AddItemToArray(arr, e);
    }
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

static void agents_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SERVICE_KINDS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, NULL);
    store_op_add(op, &SQL_SUPPORT_AGENTS_LIST);
    store_bind_text(op, c->app_id);
    store_bind_int(op, AGENTS_MAX);
    kit_store(j, op, KIT_READ, agents_done);
}

void chat_support_agents(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, agents_authed, c);
}
