/*
 * The live monitor (docs/service.md, "Live monitor"): operators holding
 * `conversations:monitor` on an app (console roles, possibly limited to some apps) read every
 * conversation of their apps and its history, and receive its events live over /ws with their
 * operator token, read-only.
 *
 * GET /api/v1/admin/conversations lists the conversations of the operator's apps (filters:
 * app_id, user_id, kind, type, status, assignee, from, to; newest activity first; paged), GET
 * /api/v1/admin/conversations/{id} reads one and GET /api/v1/admin/conversations/{id}/messages
 * its history, with the same JSON writers as the end-user endpoints. A conversation of an app
 * the operator does not monitor is 404, as another tenant's.
 *
 * Live: chat__publish_monitors puts every event the members get on the app's monitor topic
 * (and the every-app one) from the same place the members' fan-out is done; rt subscribes an
 * operator's socket to the topics of its apps (rt_operator_accept).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"
#include "chat/internal.h"
#include "console/console.h"
#include "core/err.h"
#include "core/frame.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "kit/paging.h"
#include "net/http.h"
#include "router/router.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

/* SQL_CONVERSATIONS_MONITOR_PAGE and _GET: after SQL_CONVERSATIONS_COLS, the app, then the
 * newest message */
#define MON_APP_COL SQL_CONVERSATIONS_NCOLS
#define MON_LAST_COL (SQL_CONVERSATIONS_NCOLS + 1)
#define KIND_MAX 64

void chat__publish_monitors(struct rt *rt, const char *app_id, struct frame *f)
{
    if (!rt_has_monitors(rt))
        return;
    struct bus *bus = rt_bus(rt);
    char topic[BUS_TOPIC_MAX + 1];
    bus_topic_monitor(topic, app_id);
    bus_publish(bus, bus_event_new(BUS_KIND_FRAME, topic, frame_ref(f)));
    bus_topic_monitor(topic, "*");
    bus_publish(bus, bus_event_new(BUS_KIND_FRAME, topic, frame_ref(f)));
}

/* A conversation row of the monitor's statements as JSON: the end user's conversation JSON
 * (without a peer: the operator is nobody's peer), its app and its newest message. */
static cJSON *conv_json(const struct store_rows *conv, int i, const struct store_rows *members,
                        struct http_req *req)
{
    cJSON *o = chat__conv_json(conv, i, members, NULL, req);
    cJSON_AddStringToObject(o, "app_id", store_rows_text(conv, i, MON_APP_COL));
    chat__last_message_add(o, conv, i, MON_LAST_COL);
    return o;
}

/* A job for an operator's request with a copy of its apps. */
static struct kit_job *job_new(struct http_req *req, struct chat *chat, const char *operator_id,
                               const char *apps_json)
{
    struct user_principal nobody = {.app_id = "", .user_id = ""};
    struct kit_job *j = chat__job_new(req, chat, &nobody);
    struct chctx *c = chat__ctx(j);
    c->operator= true;
    snprintf(c->operator_id, sizeof(c->operator_id), "%s", operator_id);
    c->apps_json = apps_json != NULL ? xstrdup(apps_json) : NULL;
    return j;
}

/* ---- GET /admin/conversations */

/* The filters of the list, borrowed from the request's query buffers. */
struct filters {
    char app[KIT_ID_MAX + 1], user[KIT_ID_MAX + 1], kind[KIT_ID_MAX + 1], type[16];
    char status[16], assignee[KIT_ID_MAX + 1]; /* assignee "none": queued ones */
    int64_t from, to;                          /* -1: none */
};

/* A query parameter into out (n bytes): 1 when given and not empty, 0 when absent or empty,
 * -1 after answering 422 (too long, or not an id when id is true). */
static int query_text(struct http_req *req, const char *name, char *out, size_t n, bool id,
                      const char *message)
{
    int len = http_req_query_param(req, name, out, n);
    if (len <= 0) {
        out[0] = '\0';
        if (len < 0 && http_req_has_query_param(req, name)) { /* longer than out */
            http_respond_error(req, 422, "validation_failed", message, name);
            return -1;
        }
        return 0;
    }
    if (id && !kit_id_is_valid(out)) {
        http_respond_error(req, 422, "validation_failed", message, name);
        return -1;
    }
    return 1;
}

/* A time in ms (0 or more) into *out; -1 when absent; false after answering 422. */
static bool query_ms(struct http_req *req, const char *name, int64_t *out)
{
    char buf[32];
    int n = http_req_query_param(req, name, buf, sizeof(buf));
    *out = -1;
    if (n == 0 || (n < 0 && !http_req_has_query_param(req, name)))
        return true;
    char *end = NULL;
    long long v = n > 0 ? strtoll(buf, &end, 10) : -1;
    if (n < 0 || *end != '\0' || v < 0 || v > 9007199254740992LL || buf[0] == '+' ||
        buf[0] == ' ') {
        http_respond_error(req, 422, "validation_failed",
                           "must be a time in milliseconds since 1970, 0 or more", name);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_filters(struct http_req *req, struct filters *f)
{
    const char *id_msg = "must be an id: 1-64 characters of A-Z a-z 0-9 _ . @ : -";
    if (query_text(req, "app_id", f->app, sizeof(f->app), false, "must be an app id") < 0 ||
        query_text(req, "user_id", f->user, sizeof(f->user), true, id_msg) < 0 ||
        query_text(req, "kind", f->kind, sizeof(f->kind), false,
                   "must be a kind of at most 64 characters") < 0 ||
        query_text(req, "type", f->type, sizeof(f->type), false,
                   "must be \"direct\", \"group\", \"room\" or \"support\"") < 0)
        return false;
    if (f->type[0] != '\0' && strcmp(f->type, "direct") != 0 && strcmp(f->type, "group") != 0 &&
        strcmp(f->type, "room") != 0 && strcmp(f->type, "support") != 0) {
        http_respond_error(req, 422, "validation_failed",
                           "must be \"direct\", \"group\", \"room\" or \"support\"", "type");
        return false;
    }
    if (query_text(req, "status", f->status, sizeof(f->status), false,
                   "must be \"open\", \"pending\" or \"resolved\"") < 0 ||
        query_text(req, "assignee", f->assignee, sizeof(f->assignee), true,
                   "must be a user id or \"none\"") < 0)
        return false;
    if (f->status[0] != '\0' && strcmp(f->status, "open") != 0 &&
        strcmp(f->status, "pending") != 0 && strcmp(f->status, "resolved") != 0) {
        http_respond_error(req, 422, "validation_failed",
                           "must be \"open\", \"pending\" or \"resolved\"", "status");
        return false;
    }
    if (!query_ms(req, "from", &f->from) || !query_ms(req, "to", &f->to))
        return false;
    return true;
}

static void bind_filters(struct store_op *op, const struct chctx *c, const struct filters *f)
{
    store_bind_text(op, c->apps_json);
    store_bind_text(op, f->app[0] ? f->app : NULL);
    store_bind_text(op, f->user[0] ? f->user : NULL);
    store_bind_text(op, f->kind[0] ? f->kind : NULL);
    store_bind_text(op, f->type[0] ? f->type : NULL);
    if (f->from >= 0)
        store_bind_int(op, f->from);
    else
        store_bind_null(op);
    if (f->to >= 0)
        store_bind_int(op, f->to);
    else
        store_bind_null(op);
    store_bind_text(op, f->status[0] ? f->status : NULL);
    if (strcmp(f->assignee, "none") == 0)
        store_bind_text(op, "");
    else
        store_bind_text(op, f->assignee[0] ? f->assignee : NULL);
}

static void list_done(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *app = store_result_step(j->res, 3); /* ?app_id= named one */
    if (app != NULL && !console_app_found(j->req, app))
        return;
    const struct store_rows *count = store_result_step(j->res, 0);
    const struct store_rows *conv = store_result_step(j->res, 1);
    const struct store_rows *members = store_result_step(j->res, 2);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, store_rows_int(count, 0, 0), c->page, c->page_size);
    for (int i = 0; conv != NULL && i < conv->nrows; i++)
        cJSON_AddItemToArray(arr, conv_json(conv, i, members, j->req));
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

static void list_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                         void *ud)
{
    struct filters f;
    if (!parse_filters(req, &f))
        return;
    if (f.app[0] != '\0' && !chat__app_granted(apps_json, f.app)) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    struct kit_job *j = job_new(req, ud, operator_id, apps_json);
    struct chctx *c = chat__ctx(j);
    if (!chat__paging(req, c)) {
        kit_job_end(j);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_MONITOR_COUNT);
    bind_filters(op, c, &f);
    for (int k = 0; k < 2; k++) {
        store_op_add(op, k == 0 ? &SQL_CONVERSATIONS_MONITOR_PAGE
                                : &SQL_CONVERSATION_MEMBERS_MONITOR_PAGE);
        bind_filters(op, c, &f);
        store_bind_int(op, c->page_size);
        store_bind_int(op, (c->page - 1) * c->page_size);
    }
    if (f.app[0] != '\0')
        console_add_app_read(op, f.app);
    kit_store(j, op, KIT_READ, list_done);
}

static void monitor_list(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    console_authorize(c->id, req, CHAT_MONITOR_PERM, list_granted, c);
}

/* ---- GET /admin/conversations/{id} and its messages */

static void get_done(struct kit_job *j)
{
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, 0);
    if (conv == NULL || conv->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such conversation", NULL);
        return;
    }
    cJSON *o = conv_json(conv, 0, store_result_step(j->res, 1), j->req);
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

/* The conversation is one of the operator's apps: its history from the start (an operator
 * reads all of it, as the member who has been there longest). */
static void history_loaded(struct kit_job *j)
{
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, 0);
    if (conv == NULL || conv->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such conversation", NULL);
        return;
    }
    chat__history_read(j, 0);
}

/* Starts the read of the path's conversation within the operator's apps; history: its
 * messages, else it and its members. */
static void one_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                        void *ud, bool history)
{
    const char *id = chat__path_id(req, "id", "no such conversation");
    if (id == NULL)
        return;
    struct kit_job *j = job_new(req, ud, operator_id, apps_json);
    struct chctx *c = chat__ctx(j);
    if (history && !chat__history_query(req, c)) {
        kit_job_end(j);
        return;
    }
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_MONITOR_GET);
    store_bind_text(op, c->apps_json);
    store_bind_text(op, c->conv_id);
    if (!history) {
        store_op_add(op, &SQL_CONVERSATION_MEMBERS_LISTED);
        store_bind_text(op, c->conv_id);
    }
    kit_store(j, op, KIT_READ, history ? history_loaded : get_done);
}

static void get_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                        void *ud)
{
    one_granted(req, operator_id, apps_json, ud, false);
}

static void history_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                            void *ud)
{
    one_granted(req, operator_id, apps_json, ud, true);
}

static void monitor_get(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    console_authorize(c->id, req, CHAT_MONITOR_PERM, get_granted, c);
}

static void monitor_history(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    console_authorize(c->id, req, CHAT_MONITOR_PERM, history_granted, c);
}

/* ---- /ws with an operator token */

static void ws_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                       void *ud)
{
    struct chat *c = ud;
    rt_operator_accept(c->rt, req, operator_id, apps_json);
}

static void ws_operator(struct http_req *req, const char *tok, size_t len, void *ud)
{
    struct chat *c = ud;
    console_authorize_token(c->id, req, tok, len, CHAT_MONITOR_PERM, ws_granted, c);
}

void chat__monitor_register(struct chat *c, struct router *r)
{
    router_add(r, HTTP_M_GET, "/api/v1/admin/conversations", monitor_list, c);
    router_add(r, HTTP_M_GET, "/api/v1/admin/conversations/{id}", monitor_get, c);
    router_add(r, HTTP_M_GET, "/api/v1/admin/conversations/{id}/messages", monitor_history, c);
    rt_operator_auth(c->rt, ws_operator, c);
}
