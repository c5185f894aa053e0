/*
 * POST /conversations (direct get-or-create, group, room), GET /conversations (mine, newest
 * activity first) and GET /rooms (the app's public rooms): docs/chat.md. Each handler
 * authenticates the end user, decodes its input with the kit's decoder and runs its store
 * steps as kit job steps; every change is published after its commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

/* ---- POST /conversations */

struct create_in {
    const char *type, *peer, *name, *avatar;
    struct kit_array members;
};

static const struct kit_field member_elem = {
    .kind = KIT_ID, .message = "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -"};

#define NAME_FIELD(type)                                                                           \
    {                                                                                              \
        .name = "name", .kind = KIT_STRING, .min = 1, .max = CHAT_NAME_MAX,                        \
        .at = KIT_AT(type, name), .message = "must be a string of 1 to 128 characters"             \
    }
#define AVATAR_FIELD(type)                                                                         \
    {                                                                                              \
        .name = "avatar", .kind = KIT_MEDIA, .max = CHAT_AVATAR_MAX, .at = KIT_AT(type, avatar),   \
        .message =                                                                                 \
            "must be a string of at most 1024 characters: a URL, or a /media/ path of an upload"   \
    }

static const struct kit_field create_fields[] = {
    {.name = "type",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .max = 16,
     .at = KIT_AT(struct create_in, type),
     .message = "must be \"direct\", \"group\" or \"room\""},
    {.name = "peer",
     .kind = KIT_ID,
     .at = KIT_AT(struct create_in, peer),
     .message = "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -"},
    NAME_FIELD(struct create_in),
    AVATAR_FIELD(struct create_in),
    {.name = "members",
     .kind = KIT_ARRAY,
     .max = CHAT_GROUP_MAX - 1,
     .elem = &member_elem,
     .at = KIT_AT(struct create_in, members),
     .message = "must be an array of at most 499 user ids"},
    {.name = NULL},
};
static const struct kit_table create_table = {.fields = create_fields};

static void bad(struct http_req *req, const char *field, const char *message)
{
    http_respond_error(req, 422, "validation_failed", message, field);
}

char *chat__ids_json(struct http_req *req, const struct kit_array *a, const char *name,
                     const char *me)
{
    cJSON *out = cJSON_CreateArray();
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a->json)
    {
        for (const cJSON *f = a->json->child; f != e; f = f->next) {
            if (strcmp(f->valuestring, e->valuestring) == 0) {
                char field[48];
                snprintf(field, sizeof(field), "%s[%d]", name, i);
                bad(req, field, "this user id is listed twice");
                cJSON_Delete(out);
                return NULL;
            }
        }
        if (me == NULL || strcmp(e->valuestring, me) != 0)
            cJSON_AddItemToArray(out, cJSON_CreateString(e->valuestring));
        i++;
    }
    char *s = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    char *r = xstrdup(s);
    cJSON_free(s);
    return r;
}

/* The get-or-create answered: 201 and an event when this request made it, else 200. */
static void direct_done(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status == ERR_NOTFOUND) { /* the peer's user row is gone (a foreign key) */
        http_respond_err(j->req, ERR_NOTFOUND, "no such user", "peer");
        return;
    }
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, -2);
    if (conv == NULL || conv->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such user", "peer");
        return;
    }
    c->ok_status = store_result_step(j->res, c->publish_step)->changes > 0 ? 201 : 200;
    chat__finish_write(j);
}

struct store_op *chat__direct_op(struct chctx *c)
{
    char key[2 * JWT_SUB_MAX + 2];
    if (!chat__direct_key(c->user_id, c->target, key, sizeof(key)))
        return NULL;
    char id[CHAT_ID_LEN + 1];
    id[0] = 'c';
    rand_hex(id + 1, (CHAT_ID_LEN - 1) / 2);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    if (c->demo) { /* demo mode: an unknown demo peer is created, as user_auth does */
        store_op_add(op, &SQL_USERS_DEMO_ENSURE);
        store_bind_text(op, c->target);
        store_bind_text(op, identity_demo_kind(c->target));
        store_bind_int(op, now);
    }
    c->publish_step = c->demo ? 1 : 0;
    store_op_add(op, &SQL_CONVERSATIONS_DIRECT_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, key);
    store_bind_int(op, now);
    store_bind_text(op, c->target);
    store_bind_text(op, c->user_id);
    const char *both[2] = {c->user_id, c->target};
    for (int k = 0; k < 2; k++) {
        store_op_add(op, &SQL_CONVERSATION_MEMBERS_DIRECT_ADD);
        store_bind_text(op, c->app_id);
        store_bind_text(op, key);
        store_bind_text(op, both[k]);
        store_bind_int(op, now);
    }
    chat__add_event(op, c, NULL, key, "conversation.created", NULL, true);
    store_op_add(op, &SQL_CONVERSATIONS_BY_DIRECT_KEY);
    store_bind_text(op, c->app_id);
    store_bind_text(op, key);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_BY_DIRECT_KEY);
    store_bind_text(op, c->app_id);
    store_bind_text(op, key);
    return op;
}

static void create_direct(struct kit_job *j)
{
    struct store_op *op = chat__direct_op(chat__ctx(j));
    if (op == NULL) {
        bad(j->req, "peer", "must be another user than yourself");
        return;
    }
    chat__write_then(j, op, direct_done);
}

/* The group or room write, once the listed members are known to exist. */
static void create_write(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    bool room = strcmp(c->role, "room") == 0;
    char id[CHAT_ID_LEN + 1];
    id[0] = 'c';
    rand_hex(id + 1, (CHAT_ID_LEN - 1) / 2);
    int64_t now = clock_wall_ms();
    c->ok_status = 201;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, room ? "room" : "group");
    store_bind_text(op, c->name);
    store_bind_text(op, c->avatar);
    store_bind_text(op, c->user_id);
    store_bind_int(op, now);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_ADD);
    store_bind_text(op, id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, "owner");
    store_bind_int(op, now);
    if (c->ids_json != NULL) {
        store_op_add(op, &SQL_CONVERSATION_MEMBERS_ADD_LIST);
        store_bind_text(op, id);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->ids_json);
        store_bind_int(op, now);
    }
    chat__add_event(op, c, id, NULL, "conversation.created", NULL, false);
    store_op_add(op, &SQL_CONVERSATIONS_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_OF);
    store_bind_text(op, id);
    chat__write(j, op);
}

bool chat__users_exist(struct kit_job *j, const struct store_rows *r, const char *list)
{
    struct chctx *c = chat__ctx(j);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, c->ids.json)
    {
        bool found = false;
        for (int k = 0; r != NULL && k < r->nrows && !found; k++) {
            const char *s = store_rows_text(r, k, 0);
            found = s != NULL && strcmp(s, e->valuestring) == 0;
        }
        if (!found && strcmp(e->valuestring, c->user_id) != 0) {
            char field[48];
            snprintf(field, sizeof(field), "%s[%d]", list, i);
            http_respond_err(j->req, ERR_NOTFOUND, "no such user", field);
            return false;
        }
        i++;
    }
    return true;
}

static void members_checked(struct kit_job *j)
{
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    if (chat__users_exist(j, store_result_step(j->res, 0), "members"))
        create_write(j);
}

/* The checks a table cannot say: which members each type takes. 0 or -1 after answering. */
static int check_create(struct http_req *req, const struct create_in *in, const char *me)
{
    if (strcmp(in->type, "direct") == 0) {
        if (in->peer == NULL)
            return bad(req, "peer", "is required for a direct conversation"), -1;
        if (strcmp(in->peer, me) == 0)
            return bad(req, "peer", "must be another user than yourself"), -1;
        const char *extra = in->name           ? "name"
                            : in->avatar       ? "avatar"
                            : in->members.json ? "members"
                                               : NULL;
        if (extra != NULL)
            return bad(req, extra, "is not allowed for a direct conversation"), -1;
        return 0;
    }
    if (strcmp(in->type, "group") != 0 && strcmp(in->type, "room") != 0)
        return bad(req, "type", "must be \"direct\", \"group\" or \"room\""), -1;
    if (in->peer != NULL)
        return bad(req, "peer", "is only for a direct conversation"), -1;
    if (in->name == NULL)
        return bad(req, "name", "is required"), -1;
    return 0;
}

static void create_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct create_in in;
    cJSON *body = kit_body(req, &create_table, &in);
    if (body == NULL)
        return;
    if (check_create(req, &in, p->user_id) != 0) {
        cJSON_Delete(body);
        return;
    }
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    c->body = body;
    if (strcmp(in.type, "direct") == 0) {
        snprintf(c->target, sizeof(c->target), "%s", in.peer);
        kit_run(j, create_direct);
        return;
    }
    c->role = in.type; /* "group" or "room", borrowed from the body */
    c->name = in.name;
    c->avatar = in.avatar;
    c->ids = in.members;
    if (in.members.json == NULL || in.members.n == 0) {
        kit_run(j, create_write);
        return;
    }
    c->ids_json = chat__ids_json(req, &in.members, "members", c->user_id);
    if (c->ids_json == NULL) {
        kit_job_end(j);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_EXISTING);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->ids_json);
    kit_store(j, op, KIT_READ, members_checked);
}

void chat_conv_create(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, create_authed, c);
}

/* ---- GET /conversations and GET /rooms */

/* SQL_CONVERSATIONS_MINE_PAGE: the read state after SQL_CONVERSATIONS_COLS */
#define STATE_COL SQL_CONVERSATIONS_NCOLS

/* The page; with unread_total (mine: the count's second column) when total is true. */
static void respond_page(struct kit_job *j, cJSON *results, bool total)
{
    struct chctx *c = chat__ctx(j);
    const struct store_rows *count = store_result_step(j->res, 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)store_rows_int(count, 0, 0));
    cJSON_AddItemToObject(o, "results", results);
    cJSON_AddNumberToObject(o, "page", (double)c->page);
    cJSON_AddNumberToObject(o, "page_size", (double)c->page_size);
    if (total)
        cJSON_AddNumberToObject(o, "unread_total", (double)store_rows_int(count, 0, 1));
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

static void list_done(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, 1);
    const struct store_rows *members = store_result_step(j->res, 2);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; conv != NULL && i < conv->nrows; i++) {
        cJSON *o = chat__conv_json(conv, i, members, c->user_id, j->req);
        chat__conv_add_state(o, conv, i, STATE_COL);
        chat__presence_peer(c->chat, c->app_id, o);
        cJSON_AddItemToArray(arr, o);
    }
    respond_page(j, arr, true);
}

static void bind_page(struct store_op *op, const struct chctx *c)
{
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_int(op, c->page_size);
    store_bind_int(op, (c->page - 1) * c->page_size);
}

static void list_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    if (!chat__paging(req, c)) {
        kit_job_end(j);
        return;
    }
    if (chat__service_list(j)) /* status= or assignee= (service.c) */
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_MINE_COUNT);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_op_add(op, &SQL_CONVERSATIONS_MINE_PAGE);
    bind_page(op, c);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_MINE_PAGE);
    bind_page(op, c);
    kit_store(j, op, KIT_READ, list_done);
}

void chat_conv_list(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, list_authed, c);
}

static void rooms_done(struct kit_job *j)
{
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, 1);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; conv != NULL && i < conv->nrows; i++) {
        cJSON *o = chat__conv_json(conv, i, NULL, NULL, j->req);
        cJSON_AddBoolToObject(o, "joined", store_rows_int(conv, i, conv->ncols - 1) > 0);
        cJSON_AddItemToArray(arr, o);
    }
    respond_page(j, arr, false);
}

static void rooms_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    if (!chat__paging(req, c)) {
        kit_job_end(j);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_ROOMS_COUNT);
    store_bind_text(op, c->app_id);
    store_op_add(op, &SQL_CONVERSATIONS_ROOMS_PAGE);
    bind_page(op, c);
    kit_store(j, op, KIT_READ, rooms_done);
}

void chat_rooms_list(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, rooms_authed, c);
}
