/*
 * Support conversations (issue 10, docs/service.md, "Support routing"): POST
 * /support/conversations (and a send `to: "support"`) gets or creates the customer's one
 * unresolved support conversation and routes it, in the same write, to the online agent with
 * the fewest unresolved conversations (the oldest turn on a tie: round robin); with nobody
 * online it waits queued, and an agent coming online (presence.c calls
 * chat__support_agent_online) takes the queue, oldest first, each conversation by the same
 * rule in a write of its own. GET /support/agents lists the agents and their loads.
 *
 * Routing is one statement (SQL_SUPPORT_ASSIGN) inside one write op that holds the app's
 * routing lock (SQLite: the one writer; PostgreSQL: an advisory transaction lock), so
 * concurrent opens are assigned one after the other, each seeing the loads the ones before it
 * committed. Every assignment writes its event and its audit row in the same op.
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
#include "kit/paging.h"
#include "notify/notify.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define SWEEP_BATCH 20 /* queued conversations one sweep step reads */

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
    /* presence is in memory: a node's agents are online while it is alive (SQL AGENT_LIVE); at
       start the flags of nodes gone, and every flag when the store is this process's */
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SUPPORT_AGENTS_RESET);
    store_bind_int(op, clock_wall_ms() - NOTIFY_ALIVE_MS);
    store_bind_int(op, strcmp(store_backend_name(st), "sqlite") == 0);
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
static void add_assign(struct store_op *op, const struct chat *chat, const struct chctx *c,
                       const char *conv_id, int64_t now)
{
    store_op_add(op, &SQL_SUPPORT_ASSIGN);
    store_bind_text(op, c->app_id);
    store_bind_text(op, conv_id);
    store_bind_int(op, now);
    store_bind_int(op, chat->support_capacity);
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
        cJSON *o = chat__conv_json(conv, 0, members, NULL, NULL);
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
    add_assign(op, w->chat, &w->c, id, clock_wall_ms());
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

/* A sweep of app's queue; user (not NULL) is an agent marked online first. */
static void sweep_start(struct chat *chat, const char *app, const char *user)
{
    struct sweep *w = xcalloc(1, sizeof(*w));
    w->chat = chat;
    snprintf(w->c.app_id, sizeof(w->c.app_id), "%s", app);
    snprintf(w->user, sizeof(w->user), "%s", user ? user : "");
    pthread_mutex_lock(&chat->support->mu);
    chat->support->inflight++;
    pthread_mutex_unlock(&chat->support->mu);
    struct store_op *op = store_op_new();
    if (user != NULL)
        chat__support_add_here(op, chat, app, user);
    store_op_add(op, &SQL_SUPPORT_QUEUED);
    store_bind_text(op, app);
    store_bind_int(op, SWEEP_BATCH);
    if (store_write(chat->id->store, op, queue_read, w) != 0) {
        log_warn("support", "an agent's arrival or a sweep was refused by the store");
        sweep_end(w);
    }
}

void chat__support_add_here(struct store_op *op, const struct chat *chat, const char *app,
                            const char *user)
{
    store_op_add(op, &SQL_SUPPORT_AGENT_ONLINE);
    store_bind_text(op, app);
    store_bind_text(op, user);
    store_op_add(op, &SQL_SUPPORT_AGENT_NODE_ADD);
    store_bind_text(op, app);
    store_bind_text(op, user);
    store_bind_text(op, chat->node_id);
}

void chat__support_agent_online(void *ud, const char *app, const char *user)
{
    sweep_start(ud, app, user);
}

void chat__support_room_freed(struct chat *chat, const char *app)
{
    if (chat->support_capacity > 0) /* without a capacity, nothing queued waits for room */
        sweep_start(chat, app, NULL);
}

/* ---- POST /support/conversations and a send `to: "support"` */

/* The conversation of a write or a read that ended with it and its members: answered. */
static void respond_conv(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *conv = store_result_step(j->res, -2);
    cJSON *o = chat__conv_json(conv, 0, store_result_step(j->res, -1), c->user_id, j->req);
    chat__presence_peer(c->chat, c->app_id, o);
    char *s = cJSON_PrintUnformatted(o);
    if (c->replayed)
        http_res_header(j->req, "Idempotency-Replay", "true");
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

void chat__conv_reread(struct kit_job *j)
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
    if (conv == NULL || conv->nrows == 0) { /* resolved meanwhile: the customer retries */
        chat__fail(j, 409, "conflict", "the support conversation changed meanwhile; retry",
                   j->req != NULL ? NULL : "to");
        return;
    }
    const struct store_rows *made = store_result_step(j->res, c->publish_step);
    bool created = made != NULL && made->changes > 0; /* announced at the commit */
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
    add_assign(op, c->chat, c, id, now);
    chat__add_event(op, c, id, NULL, "conversation.created", NULL, true);
    store_op_add(op, &SQL_SUPPORT_OPEN_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_op_add(op, &SQL_SUPPORT_OPEN_MEMBERS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    chat__write_then(j, op, opened);
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
        c->after_send = chat__conv_reread;
        c->support_then = chat__send_write;
    }
    kit_run(j, open_write);
}

void chat_support_open(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, open_authed, c);
}

/* ---- GET /support/agents: the app's agents, online here or not, and their loads */

static void agents_done(struct kit_job *j)
{
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *users = store_result_step(j->res, 0);
    if (!chat__is_agent(users, chat__ctx(j)->user_id)) {
        http_respond_error(j->req, 403, "forbidden", "only an agent sees the agents", NULL);
        return;
    }
    const struct store_rows *n = store_result_step(j->res, 1);
    const struct store_rows *r = store_result_step(j->res, 2);
    const struct chctx *c = chat__ctx(j);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, n != NULL && n->nrows > 0 ? store_rows_int(n, 0, 0) : 0,
                                   c->page, c->page_size);
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
    if (!chat__paging(req, c)) {
        kit_job_end(j);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SERVICE_KINDS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, NULL);
    store_op_add(op, &SQL_SUPPORT_AGENTS_COUNT);
    store_bind_text(op, c->app_id);
    store_op_add(op, &SQL_SUPPORT_AGENTS_LIST);
    store_bind_text(op, c->app_id);
    store_bind_int(op, c->page_size);
    store_bind_int(op, (c->page - 1) * c->page_size);
    store_bind_int(op, clock_wall_ms());
    kit_store(j, op, KIT_READ, agents_done);
}

void chat_support_agents(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, agents_authed, c);
}
