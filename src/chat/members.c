/*
 * The endpoints on one conversation (docs/chat.md): GET and PATCH /conversations/{id},
 * POST /conversations/{id}/members, DELETE and PATCH /conversations/{id}/members/{user_id},
 * POST /conversations/{id}/leave and POST /rooms/{id}/join. Each one loads the conversation
 * with the asker's role (a read step), decides in C — a non-member gets 404, so existence does
 * not leak; a member without the right gets 403 — then writes (a write step whose statements
 * check the rights again in the same transaction) and publishes conversation.updated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

#define ROLE_COL                                                                                   \
    SQL_CONVERSATIONS_NCOLS /* SQL_CONVERSATIONS_LOAD: the asker's role after                      \
                               SQL_CONVERSATIONS_COLS */

static void forbidden(struct http_req *req, const char *message)
{
    http_respond_error(req, 403, "forbidden", message, NULL);
}

/* The role of user in the member rows of the loaded conversation, NULL when not a member. */
static const char *role_of(const struct store_rows *members, const char *user)
{
    for (int k = 0; members != NULL && k < members->nrows; k++) {
        const char *u = store_rows_text(members, k, 1);
        if (u != NULL && strcmp(u, user) == 0)
            return store_rows_text(members, k, 2);
    }
    return NULL;
}

/*
 * The content of the system message a change writes (docs/chat.md, "System messages"):
 * {"event","user_id"?|"user_ids"?,"name"?,"by"}; ids_json a JSON array text or NULL. Owned.
 */
static char *system_content(const char *event, const char *user, const char *ids_json,
                            const char *name, const char *by)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", event);
    if (user != NULL)
        cJSON_AddStringToObject(o, "user_id", user);
    if (ids_json != NULL)
        cJSON_AddItemToObject(o, "user_ids", cJSON_Parse(ids_json));
    if (name != NULL)
        cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "by", by);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *r = xstrdup(s);
    cJSON_free(s);
    return r;
}

void chat__add_change_tail(struct store_op *op, struct chctx *c, const char *kind, const char *user,
                           bool only_new)
{
    chat__add_event(op, c, c->conv_id, NULL, kind, user, only_new);
    if (c->sys_json != NULL)
        chat__add_system(op, c);
    store_op_add(op, &SQL_CONVERSATIONS_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_OF);
    store_bind_text(op, c->conv_id);
}

/* A required row when exactly n members were added by this op: the system message that names
 * them is true (a concurrent add of the same users makes the write a 409). */
static void add_new_guard(struct store_op *op, const struct chctx *c, int64_t n)
{
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_NEW_GUARD);
    store_bind_text(op, c->conv_id);
    store_bind_int(op, n);
    store_op_require_row(op);
}

static void add_touch(struct store_op *op, const struct chctx *c, int64_t now)
{
    store_op_add(op, &SQL_CONVERSATIONS_TOUCH);
    store_bind_text(op, c->conv_id);
    store_bind_int(op, now);
}

/* The write of a member who leaves: ownership passes on when the owner leaves. */
static void write_leave(struct kit_job *j, const char *type)
{
    struct chctx *c = chat__ctx(j);
    if (strcmp(type, "direct") == 0 || strcmp(type, "support") == 0) {
        chat__fail(j, 403, "forbidden", "a direct or support conversation cannot be left", NULL);
        return;
    }
    int64_t now = clock_wall_ms();
    snprintf(c->notify, sizeof(c->notify), "%s", c->user_id);
    c->ok_status = 204;
    c->sys_json = system_content("member.left", c->user_id, NULL, NULL, c->user_id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_LEAVE);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_op_require_row(op);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_PASS_OWNER);
    store_bind_text(op, c->conv_id);
    store_op_add(op, &SQL_CONVERSATIONS_SET_OWNER);
    store_bind_text(op, c->conv_id);
    store_bind_int(op, now);
    chat__add_change_tail(op, c, "member.left", c->user_id, false);
    chat__write(j, op);
}

static void write_patch(struct kit_job *j, const char *type, const char *role)
{
    struct chctx *c = chat__ctx(j);
    if (strcmp(type, "direct") == 0) {
        forbidden(j->req, "a direct conversation has no name or avatar to change");
        return;
    }
    if (strcmp(role, "member") == 0) {
        forbidden(j->req, "only the owner or an admin may change the conversation");
        return;
    }
    const char *old = store_rows_text(store_result_step(j->res, 0), 0, 2);
    if (c->name != NULL && (old == NULL || strcmp(old, c->name) != 0))
        c->sys_json = system_content("conversation.renamed", NULL, NULL, c->name, c->user_id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_UPDATE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, c->name);
    store_bind_text(op, c->avatar);
    store_bind_int(op, clock_wall_ms());
    store_op_require_row(op);
    chat__add_change_tail(op, c, "conversation.updated", NULL, false);
    chat__write(j, op);
}

static void write_add(struct kit_job *j, const char *type, const char *role)
{
    struct chctx *c = chat__ctx(j);
    if (strcmp(type, "group") != 0) {
        forbidden(j->req, "members are added to groups only (rooms are joined)");
        return;
    }
    if (strcmp(role, "member") == 0) {
        forbidden(j->req, "only the owner or an admin may add members");
        return;
    }
    const struct store_rows *members = store_result_step(j->res, 1);
    if (!chat__users_exist(j, store_result_step(j->res, 2), "user_ids"))
        return;
    int64_t count = store_rows_int(store_result_step(j->res, 0), 0, 9), added = 0;
    cJSON *fresh = cJSON_CreateArray(); /* the users not already members */
    const cJSON *e;
    cJSON_ArrayForEach(e, c->ids.json)
    {
        if (role_of(members, e->valuestring) == NULL) {
            added++;
            cJSON_AddItemToArray(fresh, cJSON_CreateString(e->valuestring));
        }
    }
    if (added > 0 && count + added <= CHAT_GROUP_MAX) {
        char *ids = cJSON_PrintUnformatted(fresh);
        c->sys_json = system_content("member.added", NULL, ids, NULL, c->user_id);
        cJSON_free(ids);
    }
    cJSON_Delete(fresh);
    if (count + added > CHAT_GROUP_MAX) {
        http_respond_error(j->req, 422, "validation_failed", "a group has at most 500 members",
                           "user_ids");
        return;
    }
    int64_t now = clock_wall_ms();
    c->publish_step = 0;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_ADD_LIST);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->ids_json);
    store_bind_int(op, now);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_GUARD);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_int(op, CHAT_GROUP_MAX);
    store_op_require_row(op);
    if (added > 0)
        add_new_guard(op, c, added);
    add_touch(op, c, now);
    chat__add_change_tail(op, c, "member.added", NULL, true);
    chat__write(j, op);
}

static void write_remove(struct kit_job *j, const char *type, const char *role)
{
    struct chctx *c = chat__ctx(j);
    if (strcmp(c->target, c->user_id) == 0) { /* removing oneself is leaving */
        write_leave(j, type);
        return;
    }
    if (strcmp(type, "group") != 0) {
        forbidden(j->req, "members are removed from groups only");
        return;
    }
    if (strcmp(role, "member") == 0) {
        forbidden(j->req, "only the owner or an admin may remove members");
        return;
    }
    const char *target = role_of(store_result_step(j->res, 1), c->target);
    if (target == NULL) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such member", NULL);
        return;
    }
    if (strcmp(target, "owner") == 0) {
        forbidden(j->req, "the owner cannot be removed");
        return;
    }
    if (strcmp(target, "admin") == 0 && strcmp(role, "owner") != 0) {
        forbidden(j->req, "only the owner may remove an admin");
        return;
    }
    int64_t now = clock_wall_ms();
    snprintf(c->notify, sizeof(c->notify), "%s", c->target);
    c->sys_json = system_content("member.removed", c->target, NULL, NULL, c->user_id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_REMOVE);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->target);
    store_bind_text(op, strcmp(role, "owner") == 0 ? "admin" : "member");
    store_op_require_row(op);
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_GUARD);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    store_bind_int(op, CHAT_GROUP_MAX);
    store_op_require_row(op);
    add_touch(op, c, now);
    chat__add_change_tail(op, c, "member.removed", c->target, false);
    chat__write(j, op);
}

static void write_role(struct kit_job *j, const char *type, const char *role)
{
    struct chctx *c = chat__ctx(j);
    if (strcmp(type, "group") != 0) {
        forbidden(j->req, "roles exist in groups only");
        return;
    }
    if (strcmp(role, "owner") != 0) {
        forbidden(j->req, "only the owner may change roles");
        return;
    }
    const char *target = role_of(store_result_step(j->res, 1), c->target);
    if (target == NULL) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such member", NULL);
        return;
    }
    if (strcmp(target, "owner") == 0) {
        forbidden(j->req, "the owner's role cannot change");
        return;
    }
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_SET_ROLE);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->target);
    store_bind_text(op, c->role);
    store_bind_text(op, c->user_id);
    store_op_require_row(op);
    add_touch(op, c, now);
    chat__add_change_tail(op, c, "member.role", c->target, false);
    chat__write(j, op);
}

/* joined: whether the asker was a member at the load */
static void write_join(struct kit_job *j, bool joined)
{
    struct chctx *c = chat__ctx(j);
    c->publish_step = 0; /* joining twice changes nothing and tells nobody */
    if (!joined)
        c->sys_json = system_content("member.joined", c->user_id, NULL, NULL, c->user_id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATION_MEMBERS_ADD);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, "member");
    store_bind_int(op, clock_wall_ms());
    if (!joined)
        add_new_guard(op, c, 1);
    chat__add_change_tail(op, c, "member.joined", c->user_id, true);
    chat__write(j, op);
}

/* The conversation is loaded: answer GET, or check the rights and start the write. */
static void loaded(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *conv = store_result_step(j->res, 0);
    const char *type = store_rows_text(conv, 0, 1);
    const char *role = store_rows_text(conv, 0, ROLE_COL);
    const char *field = j->req != NULL ? NULL : "conversation_id";
    if (c->action == CHAT_JOIN) {
        if (type == NULL || strcmp(type, "room") != 0)
            chat__fail(j, 404, "not_found", "no such room", field);
        else
            write_join(j, role != NULL);
        return;
    }
    if (type == NULL || role == NULL) { /* a non-member learns nothing, not even existence */
        chat__fail(j, 404, "not_found", "no such conversation", field);
        return;
    }
    switch (c->action) {
    case CHAT_GET: {
        cJSON *o = chat__conv_json(conv, 0, store_result_step(j->res, 1), c->user_id, j->req);
        chat__presence_peer(c->chat, c->app_id, o);
        const struct store_rows *st = store_result_step(j->res, 2);
        if (st != NULL && st->nrows > 0)
            chat__conv_add_state(o, st, 0, 0);
        char *s = cJSON_PrintUnformatted(o);
        http_respond_json(j->req, 200, s, strlen(s));
        cJSON_free(s);
        cJSON_Delete(o);
        return;
    }
    case CHAT_PATCH:
        write_patch(j, type, role);
        return;
    case CHAT_ADD:
        write_add(j, type, role);
        return;
    case CHAT_REMOVE:
        write_remove(j, type, role);
        return;
    case CHAT_ROLE:
        write_role(j, type, role);
        return;
    case CHAT_LEAVE:
        write_leave(j, type);
        return;
    case CHAT_JOIN: /* answered above */
        return;
    }
}

/* Starts the load of c->conv_id for the action (with the members and the listed users the
 * action needs). */
static void load(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CONVERSATIONS_LOAD);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->conv_id);
    store_bind_text(op, c->user_id);
    if (c->action != CHAT_JOIN && c->action != CHAT_LEAVE && c->action != CHAT_PATCH) {
        /* rooms: no member rows (a room shows its count; its members are not managed) */
        store_op_add(op, &SQL_CONVERSATION_MEMBERS_LISTED);
        store_bind_text(op, c->conv_id);
    }
    if (c->action == CHAT_GET) { /* step 2: the asker's read state */
        store_op_add(op, &SQL_CONVERSATIONS_STATE);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->conv_id);
        store_bind_text(op, c->user_id);
    }
    if (c->action == CHAT_ADD) {
        store_op_add(op, &SQL_USERS_EXISTING);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->ids_json);
    }
    kit_store(j, op, KIT_READ, loaded);
}

/* A job for the action on the path's conversation (and member); NULL after answering 404. */
static struct kit_job *start(struct http_req *req, const struct user_principal *p, void *ud,
                             enum chat_action a)
{
    bool room = a == CHAT_JOIN;
    const char *id = chat__path_id(req, "id", room ? "no such room" : "no such conversation");
    if (id == NULL)
        return NULL;
    const char *target = NULL;
    if (a == CHAT_REMOVE || a == CHAT_ROLE) {
        target = chat__path_id(req, "user_id", "no such member");
        if (target == NULL)
            return NULL;
    }
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    c->action = a;
    snprintf(c->conv_id, sizeof(c->conv_id), "%s", id);
    if (target != NULL)
        snprintf(c->target, sizeof(c->target), "%s", target);
    return j;
}

static void simple_authed(struct http_req *req, const struct user_principal *p, void *ud,
                          enum chat_action a)
{
    struct kit_job *j = start(req, p, ud, a);
    if (j != NULL)
        kit_run(j, load);
}

static void get_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    simple_authed(req, p, ud, CHAT_GET);
}

static void leave_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    simple_authed(req, p, ud, CHAT_LEAVE);
}

static void join_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    simple_authed(req, p, ud, CHAT_JOIN);
}

static void remove_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    simple_authed(req, p, ud, CHAT_REMOVE);
}

/* ---- bodies */

struct patch_in {
    const char *name, *avatar, *role;
    struct kit_array user_ids;
};

static const struct kit_field patch_fields[] = {
    {.name = "name",
     .kind = KIT_STRING,
     .min = 1,
     .max = CHAT_NAME_MAX,
     .at = KIT_AT(struct patch_in, name),
     .message = "must be a string of 1 to 128 characters"},
    {.name = "avatar",
     .kind = KIT_MEDIA,
     .max = CHAT_AVATAR_MAX,
     .at = KIT_AT(struct patch_in, avatar),
     .message =
         "must be a string of at most 1024 characters: a URL, or a /media/ path of an upload"},
    {.name = NULL},
};
static const struct kit_table patch_table = {.fields = patch_fields};

static const struct kit_field user_id_elem = {
    .kind = KIT_ID, .message = "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -"};
static const struct kit_field add_fields[] = {
    {.name = "user_ids",
     .kind = KIT_ARRAY,
     .flags = KIT_REQUIRED,
     .min = 1,
     .max = CHAT_ADD_MAX,
     .elem = &user_id_elem,
     .at = KIT_AT(struct patch_in, user_ids),
     .message = "must be an array of 1 to 100 user ids"},
    {.name = NULL},
};
static const struct kit_table add_table = {.fields = add_fields};

static const struct kit_field role_fields[] = {
    {.name = "role",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .max = 16,
     .at = KIT_AT(struct patch_in, role),
     .message = "must be \"admin\" or \"member\""},
    {.name = NULL},
};
static const struct kit_table role_table = {.fields = role_fields};

/* Decodes the body against t; then the job of action a takes it. */
static void body_authed(struct http_req *req, const struct user_principal *p, void *ud,
                        enum chat_action a, const struct kit_table *t)
{
    struct patch_in in;
    cJSON *body = kit_body(req, t, &in);
    if (body == NULL)
        return;
    if (a == CHAT_PATCH && in.name == NULL && in.avatar == NULL) {
        http_respond_error(req, 422, "validation_failed", "give name or avatar (or both)", "name");
        cJSON_Delete(body);
        return;
    }
    if (a == CHAT_ROLE && strcmp(in.role, "admin") != 0 && strcmp(in.role, "member") != 0) {
        http_respond_error(req, 422, "validation_failed", "must be \"admin\" or \"member\"",
                           "role");
        cJSON_Delete(body);
        return;
    }
    struct kit_job *j = start(req, p, ud, a);
    if (j == NULL) {
        cJSON_Delete(body);
        return;
    }
    struct chctx *c = chat__ctx(j);
    c->body = body;
    c->name = in.name;
    c->avatar = in.avatar;
    c->role = in.role;
    c->ids = in.user_ids;
    if (a == CHAT_ADD) {
        c->ids_json = chat__ids_json(req, &in.user_ids, "user_ids", NULL);
        if (c->ids_json == NULL) {
            kit_job_end(j);
            return;
        }
    }
    kit_run(j, load);
}

static void patch_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    body_authed(req, p, ud, CHAT_PATCH, &patch_table);
}

static void add_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    body_authed(req, p, ud, CHAT_ADD, &add_table);
}

static void role_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    body_authed(req, p, ud, CHAT_ROLE, &role_table);
}

/* ---- the routes' handlers */

#define USER_HANDLER(name, authed)                                                                 \
    void name(struct http_req *req, void *ud)                                                      \
    {                                                                                              \
        struct chat *c = ud;                                                                       \
        identity_user_auth(c->id, req, authed, c);                                                 \
    }

USER_HANDLER(chat_conv_get, get_authed)
USER_HANDLER(chat_conv_patch, patch_authed)
USER_HANDLER(chat_members_add, add_authed)
USER_HANDLER(chat_members_remove, remove_authed)
USER_HANDLER(chat_members_role, role_authed)
USER_HANDLER(chat_conv_leave, leave_authed)
USER_HANDLER(chat_rooms_join, join_authed)

/* ---- the WebSocket `join` and `leave` frames {"type":"join"|"leave","conversation_id"}: the
 * same load and write as POST /rooms/{id}/join and POST /conversations/{id}/leave; the
 * answer is the conversation.updated event (or an `error` frame). */

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

static void ws_member(struct rt_session *s, const cJSON *msg, struct chat *chat, enum chat_action a)
{
    struct frame_in in;
    struct kit_error err;
    if (kit_decode(msg, &frame_table, &in, NULL, &err) != 0) {
        rt_send_error(s->conn, "validation_failed", err.message, err.field);
        return;
    }
    struct kit_job *j = chat__ws_job(s, chat, in.conv);
    chat__ctx(j)->action = a;
    kit_run(j, load);
}

void chat__ws_join(struct rt_session *s, const cJSON *msg, void *ud)
{
    ws_member(s, msg, ud, CHAT_JOIN);
}

void chat__ws_leave(struct rt_session *s, const cJSON *msg, void *ud)
{
    ws_member(s, msg, ud, CHAT_LEAVE);
}
