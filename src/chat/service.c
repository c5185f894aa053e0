/*
 * The service workflow (issue 10, docs/service.md): a conversation with an agent or a merchant
 * has a status (open, pending, resolved) and an assignee; a customer's message reopens it
 * (send.c writes that in the send's own op). POST /conversations/{id}/status and /transfer
 * change them — by the assignee, any agent of the app (support conversations), the customer
 * (resolve only) or an operator holding conversations:assign — each in one write with its
 * event (sync replays it as conversation.updated), its audit-log row and, for a transfer, a
 * system message. GET /conversations with status= or assignee= lists an agent's queue.
 * Support routing is support.c.
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
#include "kit/paging.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define ASSIGN_PERM "conversations:assign" /* an operator's status and transfer */

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

bool chat__is_agent(const struct store_rows *r, const char *id)
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

static void add_audit(struct store_op *op, struct kit_job *j, const char *action,
                      const char *detail, int64_t now)
{
    const struct chctx *c = chat__ctx(j);
    if (c->operator) { /* a console write: the operator's row */
        const char *ip = http_req_peer(j->req);
        store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_OPERATOR);
        store_bind_text(op, c->operator_id);
        store_bind_text(op, c->app_id);
        store_bind_text(op, action);
        store_bind_text(op, c->conv_id);
        store_bind_text(op, detail);
        store_bind_text(op, ip != NULL ? ip : "");
        store_bind_int(op, now);
        return;
    }
    store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_USER);
    store_bind_text(op, c->user_id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, action);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, detail);
    store_bind_int(op, now);
}

/* The status change, decided: the change as status (c->name), or nothing when it is so. */
/* A change that may have lowered an agent's load is answered; with a capacity, the queue may
 * now go to that agent (chat__support_room_freed). */
static void load_changed(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status == 0)
        chat__support_room_freed(c->chat, c->app_id);
    chat__finish_write(j);
}

static void write_status(struct kit_job *j, const char *old, const char *assignee)
{
    struct chctx *c = chat__ctx(j);
    const char *to = c->name;
    if (same(old, to)) { /* nothing to change: the conversation as it is */
        chat__conv_reread(j);
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
    add_audit(op, j, "conversation.status", detail, now);
    free(detail);
    chat__add_change_tail(op, c, "conversation.status", NULL, false);
    chat__write_then(j, op, strcmp(to, "resolved") == 0 ? load_changed : chat__finish_write);
}

/* The transfer to c->target, decided. */
static void write_transfer(struct kit_job *j, const char *assignee)
{
    struct chctx *c = chat__ctx(j);
    if (same(assignee, c->target)) {
        chat__conv_reread(j);
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
    add_audit(op, j, "conversation.transfer", detail, now);
    free(detail);
    chat__add_change_tail(op, c, "conversation.transferred", c->target, false);
    chat__write_then(j, op, load_changed);
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
    bool agent = chat__is_agent(users, c->user_id) || c->operator; /* an operator acts as one */
    if (type == NULL || (role == NULL && !(support && agent) && !c->operator)) {
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
    bool handler = same(assignee, c->user_id) || (support && agent) || c->operator;
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
    if (same(c->target, customer)) {
        http_respond_error(j->req, 422, "validation_failed",
                           "is the conversation's customer: it goes to another agent", "to");
        return;
    }
    if (!chat__is_agent(users, c->target)) {
        http_respond_error(j->req, 422, "validation_failed",
                           "must be an agent of the app (a user of kind agent)", "to");
        return;
    }
    write_transfer(j, assignee);
}

/* An operator's load: the conversation (any app; one the operator has not the right on is
 * walled off like another tenant's), then the kinds in its app. */
static void operator_loaded(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, 0);
    const char *app = conv != NULL && conv->nrows > 0
                          ? store_rows_text(conv, 0, SQL_CONVERSATIONS_NCOLS + 1)
                          : NULL;
    if (app == NULL || !chat__app_granted(c->apps_json, app)) {
        http_respond_error(j->req, 404, "not_found", "no such conversation", NULL);
        return;
    }
    snprintf(c->app_id, sizeof(c->app_id), "%s", app);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SERVICE_LOAD_ANY);
    store_bind_text(op, c->conv_id);
    store_op_add(op, &SQL_SERVICE_KINDS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, c->target[0] != '\0' ? c->target : NULL);
    kit_store(j, op, KIT_READ, change_loaded);
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

static void change_start(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (!c->operator) {
        change_load(j);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SERVICE_LOAD_ANY);
    store_bind_text(op, c->conv_id);
    kit_store(j, op, KIT_READ, operator_loaded);
}

static void change_authed(struct http_req *req, const struct user_principal *p, void *ud,
                          bool status, const char *operator_id, const char *apps_json)
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
    c->action = status ? CHAT_PATCH : CHAT_ROLE; /* here: a status change, a transfer */
    c->name = in.status;
    if (in.to != NULL)
        snprintf(c->target, sizeof(c->target), "%s", in.to);
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", id);
    if (operator_id != NULL) { /* an operator holding conversations:assign */
        c->operator= true;
        snprintf(c->operator_id, sizeof(c->operator_id), "%s", operator_id);
        c->apps_json = apps_json != NULL ? xstrdup(apps_json) : NULL;
    }
    kit_run(j, change_start);
}

static void status_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    change_authed(req, p, ud, true, NULL, NULL);
}

static void transfer_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    change_authed(req, p, ud, false, NULL, NULL);
}

/* An operator: no app yet (the conversation's, once loaded), its id the actor ("by"). */
static void status_operator(struct http_req *req, const char *operator_id, const char *apps_json,
                            void *ud)
{
    struct user_principal op = {.app_id = ""};
    snprintf(op.user_id, sizeof(op.user_id), "%s", operator_id);
    change_authed(req, &op, ud, true, operator_id, apps_json);
}

static void transfer_operator(struct http_req *req, const char *operator_id, const char *apps_json,
                              void *ud)
{
    struct user_principal op = {.app_id = ""};
    snprintf(op.user_id, sizeof(op.user_id), "%s", operator_id);
    change_authed(req, &op, ud, false, operator_id, apps_json);
}

void chat_conv_status(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    if (console_bearer_is_operator(c->id, req))
        console_authorize(c->id, req, ASSIGN_PERM, status_operator, c);
    else
        identity_user_auth(c->id, req, status_authed, c);
}

void chat_conv_transfer(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    if (console_bearer_is_operator(c->id, req))
        console_authorize(c->id, req, ASSIGN_PERM, transfer_operator, c);
    else
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
    cJSON *arr = kit_page_envelope(o, store_rows_int(count, 0, 0), c->page, c->page_size);
    for (int i = 0; conv != NULL && i < conv->nrows; i++) {
        cJSON *e = chat__conv_json(conv, i, members, c->user_id, j->req);
        chat__conv_add_state(e, conv, i, SQL_CONVERSATIONS_NCOLS);
        chat__presence_peer(c->chat, c->app_id, e);
        cJSON_AddItemToArray(arr, e);
    }
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
