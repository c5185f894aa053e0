/*
 * Editing and recalling a message (docs/chat.md, "Edit and recall"): PATCH /messages/{id}
 * {"content"} by its sender, and POST /messages/{id}/recall by its sender within
 * HERALD_RECALL_WINDOW, or by an operator holding `conversations:moderate` on the message's
 * app at any time. Each loads the message with the asker's membership (a read step), decides
 * in C (404 for what the asker may not see, 403 for a member without the right, 409 for a
 * recalled message), then one write op changes the row (its statement checks the same
 * conditions again: a required row), logs a `message.updated` event and reads back the
 * message and the members. After the commit the message, as it is now, goes to every device
 * of every member as `message.updated` {message, cursor}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "console/console.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define MODERATE_PERM "conversations:moderate"

/* SQL_MESSAGES_LOAD's columns: SQL_MESSAGES_COLS, then these two */
enum { LD_ID, LD_CONV, LD_SEQ, LD_SENDER, LD_TYPE, LD_CREATED = 8, LD_RECALLED = 10 };
#define LD_JOINED 15 /* the asker's joined_seq, NULL when not a member */
#define LD_APP 16    /* the message's app */

enum { U_CHANGE, U_EVENT, U_GET, U_MEMBERS };

/* The message as JSON with "cursor" (0: none), answered 200. */
static void answer_msg(struct kit_job *j, const struct store_rows *m, int64_t cursor)
{
    cJSON *o = chat__msg_json(m, 0);
    if (cursor > 0) {
        char cur[24];
        snprintf(cur, sizeof(cur), "%lld", (long long)cursor);
        cJSON_AddStringToObject(o, "cursor", cur);
    }
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

/* After the write: 200 with the message (its event has gone out: committed, below). */
static void updated(struct kit_job *j)
{
    if (j->status == ERR_NOTFOUND) {
        http_respond_error(j->req, 409, "conflict",
                           "the message changed meanwhile; read it again and retry", NULL);
        return;
    }
    if (j->status != 0) {
        request_fail_store(j->req, j->status, "message", NULL);
        return;
    }
    const struct store_rows *m = store_result_step(j->res, U_GET);
    const struct store_rows *ev = store_result_step(j->res, U_EVENT);
    if (m == NULL || m->nrows == 0 || ev == NULL || ev->nrows == 0) {
        http_respond_error(j->req, 500, "internal", "the message could not be read back", NULL);
        return;
    }
    answer_msg(j, m, store_rows_int(ev, 0, 0));
}

/* Writer thread, right after the commit: message.updated to every member, in commit order. */
static void committed(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *m = store_result_step(j->res, U_GET);
    const struct store_rows *ev = store_result_step(j->res, U_EVENT);
    if (m == NULL || m->nrows == 0 || ev == NULL || ev->nrows == 0)
        return;
    chat__publish_msg(c->chat, c->app_id, "message.updated", m, store_rows_int(ev, 0, 0),
                      store_result_step(j->res, U_MEMBERS), 0, 0);
}

/* Appends the event, the message and the members who may read it after the change (step
 * U_CHANGE): a member who joined after the message learns nothing of it. */
static void add_tail(struct store_op *op, const struct chctx *c)
{
    store_op_add(op, &SQL_EVENTS_INSERT_UPDATED);
    store_bind_text(op, c->msg_id);
    store_bind_int(op, clock_wall_ms());
    store_op_add(op, &SQL_MESSAGES_GET);
    store_bind_text(op, c->msg_id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_READERS);
    store_bind_text(op, c->msg_id);
}

/*
 * The loaded message, checked for what every end-user action needs: found and visible to the
 * asker (a member who joined before it), else 404; then the sender (403 otherwise) and not a
 * system message (403). Returns the rows, or NULL after answering.
 */
static const struct store_rows *loaded_own(struct kit_job *j, const char *verb)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        request_fail_store(j->req, j->status, "message", NULL);
        return NULL;
    }
    const struct store_rows *m = store_result_step(j->res, 0);
    if (m == NULL || m->nrows == 0 || store_rows_is_null(m, 0, LD_JOINED) ||
        store_rows_int(m, 0, LD_SEQ) <= store_rows_int(m, 0, LD_JOINED)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such message", NULL);
        return NULL;
    }
    char message[96];
    if (strcmp(store_rows_text(m, 0, LD_TYPE), "system") == 0) {
        snprintf(message, sizeof(message), "system messages cannot be %s", verb);
        http_respond_error(j->req, 403, "forbidden", message, NULL);
        return NULL;
    }
    if (strcmp(store_rows_text(m, 0, LD_SENDER), c->user_id) != 0) {
        snprintf(message, sizeof(message), "only the sender may %s this message",
                 strcmp(verb, "edited") == 0 ? "edit" : "recall");
        http_respond_error(j->req, 403, "forbidden", message, NULL);
        return NULL;
    }
    return m;
}

/* The path's message id, or NULL after answering 404 (an id of another length names nothing). */
static const char *path_msg_id(struct http_req *req)
{
    const char *id = chat__path_id(req, "id", "no such message");
    if (id != NULL && strlen(id) != CHAT_MSG_ID_LEN) {
        http_respond_err(req, ERR_NOTFOUND, "no such message", NULL);
        return NULL;
    }
    return id;
}

static void load(struct kit_job *j, kit_fn next)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_MESSAGES_LOAD);
    store_bind_text(op, c->operator? NULL : c->app_id);
    store_bind_text(op, c->msg_id);
    store_bind_text(op, c->operator? NULL : c->user_id);
    kit_store(j, op, KIT_READ, next);
}

/* ---- PATCH /messages/{id} {"content"} */

struct edit_in {
    const cJSON *content;
};
static const struct kit_field edit_fields[] = {
    {.name = "content",
     .kind = KIT_JSON,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct edit_in, content)},
    {.name = NULL},
};
static const struct kit_table edit_table = {.fields = edit_fields};

static void edit_loaded(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *m = loaded_own(j, "edited");
    if (m == NULL)
        return;
    if (store_rows_int(m, 0, LD_RECALLED) != 0) {
        http_respond_error(j->req, 409, "conflict", "a recalled message cannot be edited", NULL);
        return;
    }
    /* the new content has the shape of the message's type */
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(c->body, "content");
    struct chat_msg_in in = {.type = store_rows_text(m, 0, LD_TYPE), .content = content};
    struct kit_error err;
    c->content_json = chat__msg_check(&in, c->chat->max_chars, "", &err);
    if (c->content_json == NULL) {
        kit_fail_decode(j->req, &err);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_MESSAGES_EDIT);
    store_bind_text(op, c->msg_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, c->content_json);
    store_bind_int(op, clock_wall_ms());
    store_op_require_row(op);
    add_tail(op, c);
    /* re-indexed in the same write: the old words no longer match, the new ones do */
    chat__search_put(op, c->chat->id->store, c->msg_id, in.type, content);
    kit_store_committed(j, op, committed, updated);
}

static void edit_start(struct kit_job *j)
{
    load(j, edit_loaded);
}

static void edit_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    const char *id = path_msg_id(req);
    if (id == NULL)
        return;
    struct edit_in in;
    cJSON *body = kit_body(req, &edit_table, &in);
    if (body == NULL)
        return;
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    c->body = body;
    snprintf(c->msg_id, sizeof(c->msg_id), "%s", id);
    kit_run(j, edit_start);
}

void chat_msg_edit(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, edit_authed, c);
}

/* ---- POST /messages/{id}/recall */

static void recall_write(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_MESSAGES_RECALL);
    store_bind_text(op, c->msg_id);
    store_bind_text(op, c->operator? NULL : c->user_id);
    store_bind_int(op, c->operator? 0 : clock_wall_ms() - c->chat->recall_window_ms);
    store_op_require_row(op);
    add_tail(op, c);
    if (c->operator) { /* an operator's recall is a console write: audited in the same op */
        const char *ip = http_req_peer(j->req);
        store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_OPERATOR);
        store_bind_text(op, c->operator_id);
        store_bind_text(op, c->app_id);
        store_bind_text(op, "message.recall");
        store_bind_text(op, c->msg_id);
        store_bind_text(op, "{}");
        store_bind_text(op, ip != NULL ? ip : "");
        store_bind_int(op, clock_wall_ms());
    }
    store_op_add(op, &SQL_MESSAGE_SEARCH_DELETE); /* a recalled message is found no more */
    store_bind_text(op, c->msg_id);
    kit_store_committed(j, op, committed, updated);
}

static void recall_loaded(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *m;
    if (c->operator) {
        if (j->status != 0) {
            request_fail_store(j->req, j->status, "message", NULL);
            return;
        }
        m = store_result_step(j->res, 0);
        /* an app the operator has not the right on is walled off like another tenant */
        if (m == NULL || m->nrows == 0 ||
            !chat__app_granted(c->apps_json, store_rows_text(m, 0, LD_APP))) {
            http_respond_err(j->req, ERR_NOTFOUND, "no such message", NULL);
            return;
        }
        if (strcmp(store_rows_text(m, 0, LD_TYPE), "system") == 0) {
            http_respond_error(j->req, 403, "forbidden", "system messages cannot be recalled",
                               NULL);
            return;
        }
        snprintf(c->app_id, sizeof(c->app_id), "%s", store_rows_text(m, 0, LD_APP));
    } else {
        m = loaded_own(j, "recalled");
        if (m == NULL)
            return;
    }
    if (store_rows_int(m, 0, LD_RECALLED) != 0) { /* again: the same answer, no new event */
        answer_msg(j, m, 0);
        return;
    }
    if (!c->operator&&
         store_rows_int(m, 0, LD_CREATED) < clock_wall_ms() - c->chat->recall_window_ms) {
        http_respond_error(j->req, 403, "recall_window_passed",
                           "the time to recall this message has passed (HERALD_RECALL_WINDOW)",
                           NULL);
        return;
    }
    recall_write(j);
}

static void recall_start(struct kit_job *j)
{
    load(j, recall_loaded);
}

static void recall_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    const char *id = path_msg_id(req);
    if (id == NULL)
        return;
    struct kit_job *j = chat__job_new(req, ud, p);
    snprintf(chat__ctx(j)->msg_id, sizeof(chat__ctx(j)->msg_id), "%s", id);
    kit_run(j, recall_start);
}

static void recall_operator(struct http_req *req, const char *operator_id, const char *apps_json,
                            void *ud)
{
    struct user_principal nobody = {.app_id = "", .user_id = ""};
    const char *id = path_msg_id(req);
    if (id == NULL)
        return;
    struct kit_job *j = chat__job_new(req, ud, &nobody);
    struct chctx *c = chat__ctx(j);
    c->operator= true;
    snprintf(c->operator_id, sizeof(c->operator_id), "%s", operator_id);
    c->apps_json = apps_json != NULL ? xstrdup(apps_json) : NULL;
    snprintf(c->msg_id, sizeof(c->msg_id), "%s", id);
    kit_run(j, recall_start);
}

void chat_msg_recall(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    if (console_bearer_is_operator(c->id, req))
        console_authorize(c->id, req, MODERATE_PERM, recall_operator, c);
    else
        identity_user_auth(c->id, req, recall_authed, c);
}
