/*
 * Subscriptions and quiet hours (issue 11, docs/notifications.md, "Subscriptions and quiet
 * hours"). A user is subscribed to every message type on each of its default channel kinds
 * unless a subscriptions row says otherwise (opt-out model); operators list, set and clear
 * those rows (/admin/subscriptions: notifications:read to read, notifications:write to
 * change, audited), and users read and change their own (/me/subscriptions). Quiet hours
 * (start, end, IANA time zone) are per user: /me/preferences and, for operators,
 * /admin/users/{id}/preferences?app_id=.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "kit/paging.h"
#include "notify/admin_kit.h"
#include "notify/quiet.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define PERM_READ "notifications:read"
#define PERM_WRITE "notifications:write"
#define SUBS_PUT_MAX 100 /* choices in one PUT /me/subscriptions */

/* ---- rules */

static bool code_ok(const char *s)
{
    return notify__code_is_valid(s);
}

static bool kind_ok(const char *s)
{
    return notify_kind_is_known(s);
}

static bool user_ok(const char *s)
{
    return kit_id_is_valid(s);
}

/* "HH:MM", 00:00 to 23:59 (the rule of notify/quiet.h). */
static bool hhmm_is_valid(const char *s)
{
    return notify_quiet_parse_hhmm(s) >= 0;
}

/* ---- the end user's job: a struct nadm with app_id and obj_id (the user) */

struct user_route {
    kit_fn fn;
    struct identity *id;
};

static void nadm_free_user(void *p)
{
    struct nadm *c = p;
    cJSON_Delete(c->body);
    cJSON_Delete(c->extra);
    free(c->text);
    free(c);
}

static void user_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct user_route *rt = ud;
    struct nadm *c = xcalloc(1, sizeof(*c));
    c->id = rt->id;
    snprintf(c->app_id, sizeof(c->app_id), "%s", p->app_id);
    snprintf(c->obj_id, sizeof(c->obj_id), "%s", p->user_id);
    struct kit_job *j = kit_job_new(req, rt->id->store, NULL, c, nadm_free_user);
    kit_run(j, rt->fn);
}

static void user_route_h(struct http_req *req, void *ud)
{
    struct user_route *rt = ud;
    identity_user_auth(rt->id, req, user_authed, rt);
}

/* ---- a user's state per type and channel */

/* The state of every (type, channel kind): the enabled types' default channels, subscribed
 * unless a row says otherwise, then the rows for other channels of a known type; one page of
 * it (page from 1, size entries) with the whole count. */
static cJSON *subs_json(const struct store_rows *types, const struct store_rows *subs, int64_t page,
                        int64_t size)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    int nsubs = subs ? subs->nrows : 0;
    int *mine = xmalloc(((size_t)nsubs + 1) * sizeof(int)); /* the rows of one type */
    for (int t = 0; types && t < types->nrows; t++) {
        if (store_rows_int(types, t, 3) == 0)
            continue; /* a disabled type sends nothing */
        const char *code = store_rows_text(types, t, 0);
        const char *name = store_rows_text(types, t, 1);
        int n = 0;
        for (int s = 0; s < nsubs; s++)
            if (strcmp(store_rows_text(subs, s, 0), code) == 0)
                mine[n++] = s;
        cJSON *kinds = cJSON_Parse(store_rows_text(types, t, 2));
        if (!cJSON_IsArray(kinds)) {
            cJSON_Delete(kinds);
            kinds = cJSON_CreateArray();
        }
        for (int k = 0; k < n; k++) { /* the kinds chosen beyond the defaults */
            const char *kind = store_rows_text(subs, mine[k], 1);
            bool dup = false;
            const cJSON *ch;
            cJSON_ArrayForEach(ch, kinds) dup |=
                cJSON_IsString(ch) && strcmp(ch->valuestring, kind) == 0;
            if (!dup)
                cJSON_AddItemToArray(kinds, cJSON_CreateString(kind));
        }
        const cJSON *ch;
        cJSON_ArrayForEach(ch, kinds)
        {
            if (!cJSON_IsString(ch))
                continue;
            int enabled = 1, explicit_ = 0;
            for (int k = 0; k < n; k++)
                if (strcmp(store_rows_text(subs, mine[k], 1), ch->valuestring) == 0) {
                    enabled = store_rows_int(subs, mine[k], 2) != 0;
                    explicit_ = 1;
                }
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "type", code);
            cJSON_AddStringToObject(e, "type_name", name ? name : "");
            cJSON_AddStringToObject(e, "channel", ch->valuestring);
            cJSON_AddBoolToObject(e, "enabled", enabled);
            cJSON_AddBoolToObject(e, "explicit", explicit_);
            cJSON_AddItemToArray(arr, e);
        }
        cJSON_Delete(kinds);
    }
    free(mine);
    int total = cJSON_GetArraySize(arr), from, to;
    kit_page_slice(total, page, size, &from, &to);
    cJSON *results = kit_page_envelope(o, total, page, size);
    for (int i = from; i < to; i++)
        cJSON_AddItemToArray(results, cJSON_Duplicate(cJSON_GetArrayItem(arr, i), true));
    cJSON_Delete(arr);
    return o;
}

static void me_subs_done(struct kit_job *j)
{
    if (j->status == ERR_NOTFOUND) { /* a choice's guard */
        http_respond_error(j->req, 409, "conflict",
                           "a user has at most 1000 explicit subscription choices", NULL);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "subscription", NULL);
        return;
    }
    /* the op ends with the two reads of add_state_reads; n1 and n2 hold the page */
    const struct nadm *c = notify__adm(j);
    notify__respond(
        j->req, 200,
        subs_json(store_result_step(j->res, -2), store_result_step(j->res, -1), c->n1, c->n2));
}

static void add_state_reads(struct store_op *op, const char *app, const char *user)
{
    store_op_add(op, &SQL_MESSAGE_TYPES_OF_APP);
    store_bind_text(op, app);
    store_op_add(op, &SQL_SUBSCRIPTIONS_OF_USER);
    store_bind_text(op, app);
    store_bind_text(op, user);
}

static void me_subs_get(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (!kit_paging(j->req, &c->n1, &c->n2))
        return;
    struct store_op *op = store_op_new();
    add_state_reads(op, c->app_id, c->obj_id);
    kit_store(j, op, KIT_READ, me_subs_done);
}

struct sub_in {
    const char *type, *channel;
    int enabled;
};

static const struct kit_field sub_fields[] = {{.name = "type",
                                               .kind = KIT_STRING,
                                               .flags = KIT_REQUIRED,
                                               .min = 1,
                                               .max = 64,
                                               .at = KIT_AT(struct sub_in, type),
                                               .message = "must be a message type code"},
                                              {.name = "channel",
                                               .kind = KIT_STRING,
                                               .flags = KIT_REQUIRED,
                                               .min = 1,
                                               .max = 32,
                                               .at = KIT_AT(struct sub_in, channel),
                                               .message = "must be a channel kind"},
                                              {.name = "enabled",
                                               .kind = KIT_BOOL,
                                               .flags = KIT_REQUIRED,
                                               .at = KIT_AT(struct sub_in, enabled)},
                                              {.name = NULL}};
static const struct kit_table sub_table = {.fields = sub_fields};
static const struct kit_field sub_elem = {.kind = KIT_OBJECT, .sub = &sub_table};

struct subs_in {
    struct kit_array subscriptions;
};
static const struct kit_field subs_fields[] = {
    {.name = "subscriptions",
     .kind = KIT_ARRAY,
     .flags = KIT_REQUIRED,
     .min = 1,
     .max = SUBS_PUT_MAX,
     .at = KIT_AT(struct subs_in, subscriptions),
     .elem = &sub_elem,
     .message = "must be an array of 1 to 100 {\"type\", \"channel\", \"enabled\"}"},
    {.name = NULL}};
static const struct kit_table subs_table = {.fields = subs_fields};

/* Whether types (SQL_MESSAGE_TYPES_OF_APP rows) has code. */
static bool type_known(const struct store_rows *types, const char *code)
{
    for (int t = 0; types && t < types->nrows; t++)
        if (strcmp(store_rows_text(types, t, 0), code) == 0)
            return true;
    return false;
}

/* Checks each choice of the body against the app's types; false after answering. */
static bool subs_check(struct http_req *req, const cJSON *arr, const struct store_rows *types)
{
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        char field[48];
        struct sub_in in;
        struct kit_error err;
        snprintf(field, sizeof(field), "subscriptions[%d]", i);
        if (kit_decode(e, &sub_table, &in, field, &err) != 0) { /* decoded before: cannot */
            kit_fail_decode(req, &err);
            return false;
        }
        snprintf(field, sizeof(field), "subscriptions[%d].type", i);
        if (!notify__code_is_valid(in.type) || !type_known(types, in.type)) {
            notify__invalid(req, field, "no message type with this code in the app");
            return false;
        }
        snprintf(field, sizeof(field), "subscriptions[%d].channel", i);
        if (!notify_kind_is_known(in.channel)) {
            notify__invalid(req, field, "must be a channel kind: " NOTIFY_KINDS_TEXT);
            return false;
        }
        const cJSON *p;
        int k = 0;
        cJSON_ArrayForEach(p, arr) /* an earlier choice of the same pair: which one holds? */
        {
            if (k++ == i)
                break;
            if (strcmp(cJSON_GetObjectItemCaseSensitive(p, "type")->valuestring, in.type) == 0 &&
                strcmp(cJSON_GetObjectItemCaseSensitive(p, "channel")->valuestring, in.channel) ==
                    0) {
                snprintf(field, sizeof(field), "subscriptions[%d]", i);
                notify__invalid(req, field, "repeats an earlier type and channel");
                return false;
            }
        }
        i++;
    }
    return true;
}

static void me_subs_put_write(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status != 0) {
        kit_fail_store(j, "subscription", NULL);
        return;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(c->body, "subscriptions");
    if (!subs_check(j->req, arr, store_result_step(j->res, 0)))
        return;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        store_op_add(op, &SQL_SUBSCRIPTIONS_SET);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->obj_id);
        store_bind_text(op, cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring);
        store_bind_text(op, cJSON_GetObjectItemCaseSensitive(e, "channel")->valuestring);
        store_bind_int(op, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "enabled")));
        store_bind_int(op, now);
        store_bind_int(op, NOTIFY_SUBS_MAX);
        store_op_require_row(op);
    }
    add_state_reads(op, c->app_id, c->obj_id);
    kit_store(j, op, KIT_WRITE, me_subs_done);
}

static void me_subs_put(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct subs_in in;
    if (!kit_paging(j->req, &c->n1, &c->n2) || notify__adm_body(j, &subs_table, &in) == NULL)
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_MESSAGE_TYPES_OF_APP);
    store_bind_text(op, c->app_id);
    kit_store(j, op, KIT_READ, me_subs_put_write);
}

/* ---- quiet hours */

struct quiet_in {
    const char *start, *end, *time_zone;
};
static const struct kit_field quiet_fields[] = {
    {.name = "start",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .max = 5,
     .at = KIT_AT(struct quiet_in, start),
     .message = "must be a time \"HH:MM\""},
    {.name = "end",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .max = 5,
     .at = KIT_AT(struct quiet_in, end),
     .message = "must be a time \"HH:MM\""},
    {.name = "time_zone",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .max = 64,
     .at = KIT_AT(struct quiet_in, time_zone),
     .message = "must be \"UTC\", an offset such as \"+08:00\" or an IANA time zone name such as "
                "\"Asia/Shanghai\""},
    {.name = NULL}};
static const struct kit_table quiet_table = {.fields = quiet_fields};

struct prefs_in {
    const cJSON *quiet_hours;
};
static const struct kit_field prefs_fields[] = {{.name = "quiet_hours",
                                                 .kind = KIT_JSON,
                                                 .flags = KIT_REQUIRED,
                                                 .at = KIT_AT(struct prefs_in, quiet_hours)},
                                                {.name = NULL}};
static const struct kit_table prefs_table = {.fields = prefs_fields};

static cJSON *prefs_json(const struct store_rows *r)
{
    cJSON *o = cJSON_CreateObject();
    if (r == NULL || r->nrows == 0 || store_rows_is_null(r, 0, 0)) {
        cJSON_AddNullToObject(o, "quiet_hours");
    } else {
        cJSON *q = cJSON_AddObjectToObject(o, "quiet_hours");
        cJSON_AddStringToObject(q, "start", store_rows_text(r, 0, 0));
        cJSON_AddStringToObject(q, "end", store_rows_text(r, 0, 1));
        cJSON_AddStringToObject(q, "time_zone", store_rows_text(r, 0, 2));
    }
    if (r != NULL && r->nrows > 0)
        cJSON_AddNumberToObject(o, "updated_at", (double)store_rows_int(r, 0, 3));
    else
        cJSON_AddNullToObject(o, "updated_at");
    return o;
}

static void prefs_done(struct kit_job *j)
{
    if (j->status != 0) {
        kit_fail_store(j, "preference", NULL);
        return;
    }
    notify__respond(j->req, 200, prefs_json(store_result_step(j->res, -1)));
}

static void prefs_read(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USER_PREFS_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    kit_store(j, op, KIT_READ, prefs_done);
}

/* Decodes and checks the preferences body into q (all NULL: no quiet hours); false after
 * answering. */
static bool prefs_body(struct kit_job *j, struct quiet_in *q)
{
    struct prefs_in in;
    memset(q, 0, sizeof(*q));
    if (notify__adm_body(j, &prefs_table, &in) == NULL)
        return false;
    if (cJSON_IsNull(in.quiet_hours))
        return true;
    struct kit_error err;
    if (!cJSON_IsObject(in.quiet_hours)) {
        notify__invalid(
            j->req, "quiet_hours",
            "must be null or {\"start\": \"HH:MM\", \"end\": \"HH:MM\", \"time_zone\"}");
        return false;
    }
    if (kit_decode(in.quiet_hours, &quiet_table, q, "quiet_hours", &err) != 0) {
        kit_fail_decode(j->req, &err);
        return false;
    }
    if (!hhmm_is_valid(q->start)) {
        notify__invalid(j->req, "quiet_hours.start", "must be a time \"HH:MM\" (00:00 to 23:59)");
        return false;
    }
    if (!hhmm_is_valid(q->end)) {
        notify__invalid(j->req, "quiet_hours.end", "must be a time \"HH:MM\" (00:00 to 23:59)");
        return false;
    }
    if (strcmp(q->start, q->end) == 0) {
        notify__invalid(j->req, "quiet_hours.end", "must differ from start");
        return false;
    }
    if (!notify_tz_is_valid(q->time_zone)) {
        notify__invalid(j->req, "quiet_hours.time_zone",
                        "must be \"UTC\", an offset such as \"+08:00\" or an IANA time zone name "
                        "such as \"Asia/Shanghai\"");
        return false;
    }
    return true;
}

static void prefs_add_set(struct store_op *op, const struct nadm *c, const struct quiet_in *q)
{
    store_op_add(op, &SQL_USER_PREFS_SET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    store_bind_text(op, q->start);
    store_bind_text(op, q->end);
    store_bind_text(op, q->time_zone);
    store_bind_int(op, clock_wall_ms());
}

static void me_prefs_put(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct quiet_in q;
    if (!prefs_body(j, &q))
        return;
    struct store_op *op = store_op_new();
    prefs_add_set(op, c, &q);
    store_op_add(op, &SQL_USER_PREFS_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    kit_store(j, op, KIT_WRITE, prefs_done);
}

/* /admin/users/{id}/preferences?app_id=: the app (required) and the user into c. */
static bool admin_user(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    char abuf[80];
    const char *app;
    const char *uid = http_req_param(j->req, "id");
    if (!notify__adm_app_filter(j, &app, abuf, sizeof(abuf)))
        return false;
    if (app == NULL) {
        notify__invalid(j->req, "app_id", "is required: the app of the user");
        return false;
    }
    if (uid == NULL || !kit_id_is_valid(uid)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such user", NULL);
        return false;
    }
    snprintf(c->app_id, sizeof(c->app_id), "%s", app);
    snprintf(c->obj_id, sizeof(c->obj_id), "%s", uid);
    return true;
}

/* Reads whether the path's user is one of the app's, then runs next (admin_user first). */
static void read_user(struct kit_job *j, kit_fn next)
{
    struct nadm *c = notify__adm(j);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_EXISTS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    kit_store(j, op, KIT_READ, next);
}

/* After read_user: false after answering when the store failed or the app has no such user. */
static bool user_read(struct kit_job *j)
{
    if (j->status != 0) {
        kit_fail_store(j, "user", NULL);
        return false;
    }
    const struct store_rows *u = store_result_step(j->res, 0);
    if (u == NULL || u->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such user", NULL);
        return false;
    }
    return true;
}

static void adm_prefs_got_user(struct kit_job *j)
{
    if (user_read(j))
        prefs_read(j);
}

static void adm_prefs_get(struct kit_job *j)
{
    if (admin_user(j))
        read_user(j, adm_prefs_got_user);
}

static void adm_prefs_put_user(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct quiet_in q;
    if (!user_read(j) || !prefs_body(j, &q))
        return;
    struct store_op *op = store_op_new();
    prefs_add_set(op, c, &q);
    notify__adm_audit(op, c, c->app_id, "user_prefs.update", c->obj_id, c->body);
    store_op_add(op, &SQL_USER_PREFS_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    kit_store(j, op, KIT_WRITE, prefs_done);
}

static void adm_prefs_put(struct kit_job *j)
{
    if (admin_user(j))
        read_user(j, adm_prefs_put_user);
}

/* ---- /admin/subscriptions */

static const struct notify_filter adm_subs_filters[] = {
    {.name = "user_id", .size = 80, .ok = user_ok},
    {.name = "type", .size = 80, .ok = code_ok},
    {.name = "channel", .size = 48, .ok = kind_ok},
    {.name = "enabled", .size = 8, .boolean = true},
};

static void adm_subs_list(struct kit_job *j)
{
    notify__adm_list_filtered(
        j, &SQL_SUBSCRIPTIONS_COUNT, &SQL_SUBSCRIPTIONS_PAGE, adm_subs_filters,
        sizeof(adm_subs_filters) / sizeof(adm_subs_filters[0]), "enabled", NULL);
}

struct adm_sub_in {
    const char *app_id, *user_id, *type, *channel;
    int enabled;
};
static const struct kit_field adm_sub_fields[] = {{.name = "app_id",
                                                   .kind = KIT_NAME,
                                                   .flags = KIT_REQUIRED,
                                                   .max = KIT_ID_MAX,
                                                   .at = KIT_AT(struct adm_sub_in, app_id),
                                                   .message = "must be an app id"},
                                                  {.name = "user_id",
                                                   .kind = KIT_ID,
                                                   .flags = KIT_REQUIRED,
                                                   .at = KIT_AT(struct adm_sub_in, user_id)},
                                                  {.name = "type",
                                                   .kind = KIT_STRING,
                                                   .flags = KIT_REQUIRED,
                                                   .min = 1,
                                                   .max = 64,
                                                   .at = KIT_AT(struct adm_sub_in, type),
                                                   .message = "must be a message type code"},
                                                  {.name = "channel",
                                                   .kind = KIT_STRING,
                                                   .flags = KIT_REQUIRED,
                                                   .min = 1,
                                                   .max = 32,
                                                   .at = KIT_AT(struct adm_sub_in, channel),
                                                   .message = "must be a channel kind"},
                                                  {.name = "enabled",
                                                   .kind = KIT_BOOL,
                                                   .flags = KIT_REQUIRED,
                                                   .at = KIT_AT(struct adm_sub_in, enabled)},
                                                  {.name = NULL}};
static const struct kit_table adm_sub_table = {.fields = adm_sub_fields};

static void adm_sub_done(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status == ERR_NOTFOUND && c->n1 != 204) { /* the choice's guard */
        http_respond_error(j->req, 409, "conflict",
                           "a user has at most 1000 explicit subscription choices", NULL);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "subscription", NULL);
        return;
    }
    if (c->n1 == 204) {
        http_respond(j->req, 204, NULL, "", 0);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "app_id", c->app_id);
    cJSON_AddStringToObject(o, "user_id", c->obj_id);
    cJSON_AddStringToObject(o, "type_code", c->text);
    cJSON_AddStringToObject(o, "channel", c->text + strlen(c->text) + 1);
    cJSON_AddBoolToObject(o, "enabled", c->n2 != 0);
    cJSON_AddNumberToObject(o, "updated_at", (double)c->n3);
    notify__respond(j->req, 200, o);
}

static void adm_sub_put_write(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status != 0) {
        kit_fail_store(j, "message type", NULL);
        return;
    }
    const struct store_rows *t = store_result_step(j->res, 0);
    if (t == NULL || t->nrows == 0) {
        notify__invalid(j->req, "type", "no message type with this code in the app");
        return;
    }
    const struct store_rows *u = store_result_step(j->res, 1);
    if (u == NULL || u->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such user", "user_id");
        return;
    }
    const char *type = c->text, *channel = c->text + strlen(c->text) + 1;
    c->n3 = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SUBSCRIPTIONS_SET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    store_bind_text(op, type);
    store_bind_text(op, channel);
    store_bind_int(op, c->n2);
    store_bind_int(op, c->n3);
    store_bind_int(op, NOTIFY_SUBS_MAX);
    store_op_require_row(op);
    notify__adm_audit(op, c, c->app_id, "subscription.set", c->obj_id, c->body);
    kit_store(j, op, KIT_WRITE, adm_sub_done);
}

/* c->text holds "type\0channel\0". */
static void set_type_channel(struct nadm *c, const char *type, const char *channel)
{
    size_t a = strlen(type), b = strlen(channel);
    free(c->text);
    c->text = xmalloc(a + b + 2);
    memcpy(c->text, type, a + 1);
    memcpy(c->text + a + 1, channel, b + 1);
}

static void adm_sub_put(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct adm_sub_in in;
    if (notify__adm_body(j, &adm_sub_table, &in) == NULL)
        return;
    if (!notify__adm_can(c, in.app_id)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    if (!notify__code_is_valid(in.type)) {
        notify__invalid(j->req, "type", "must be a message type code: 1-64 of [a-z0-9_.:-]");
        return;
    }
    if (!notify_kind_is_known(in.channel)) {
        notify__invalid(j->req, "channel", "must be a channel kind: " NOTIFY_KINDS_TEXT);
        return;
    }
    snprintf(c->app_id, sizeof(c->app_id), "%s", in.app_id);
    snprintf(c->obj_id, sizeof(c->obj_id), "%s", in.user_id);
    set_type_channel(c, in.type, in.channel);
    c->n2 = in.enabled;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_MESSAGE_TYPES_BY_CODE);
    store_bind_text(op, in.app_id);
    store_bind_text(op, in.type);
    store_op_add(op, &SQL_USERS_EXISTS);
    store_bind_text(op, in.app_id);
    store_bind_text(op, in.user_id);
    kit_store(j, op, KIT_READ, adm_sub_put_write);
}

static void adm_sub_delete(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    char abuf[80], ubuf[80], tbuf[80], chbuf[48];
    const char *app, *user, *type, *channel;
    if (!notify__adm_app_filter(j, &app, abuf, sizeof(abuf)) ||
        !notify__query_text(j->req, "user_id", ubuf, sizeof(ubuf), user_ok, &user) ||
        !notify__query_text(j->req, "type", tbuf, sizeof(tbuf), code_ok, &type) ||
        !notify__query_text(j->req, "channel", chbuf, sizeof(chbuf), kind_ok, &channel))
        return;
    const char *missing = !app       ? "app_id"
                          : !user    ? "user_id"
                          : !type    ? "type"
                          : !channel ? "channel"
                                     : NULL;
    if (missing != NULL) {
        notify__invalid(j->req, missing, "is required");
        return;
    }
    c->n1 = 204;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SUBSCRIPTIONS_DELETE);
    store_bind_text(op, app);
    store_bind_text(op, user);
    store_bind_text(op, type);
    store_bind_text(op, channel);
    store_op_require_row(op);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "type", type);
    cJSON_AddStringToObject(d, "channel", channel);
    notify__adm_audit(op, c, app, "subscription.delete", user, d);
    cJSON_Delete(d);
    kit_store(j, op, KIT_WRITE, adm_sub_done);
}

/* ---- routes */

static struct nadm_route r_subs_list = {PERM_READ, adm_subs_list, NULL};
static struct nadm_route r_subs_put = {PERM_WRITE, adm_sub_put, NULL};
static struct nadm_route r_subs_delete = {PERM_WRITE, adm_sub_delete, NULL};
static struct nadm_route r_prefs_get = {PERM_READ, adm_prefs_get, NULL};
static struct nadm_route r_prefs_put = {PERM_WRITE, adm_prefs_put, NULL};
static struct user_route r_me_subs_get = {me_subs_get, NULL};
static struct user_route r_me_subs_put = {me_subs_put, NULL};
static struct user_route r_me_prefs_get = {prefs_read, NULL};
static struct user_route r_me_prefs_put = {me_prefs_put, NULL};

static void user_add(struct router *r, struct identity *id, int method, const char *pattern,
                     struct user_route *rt)
{
    rt->id = id;
    router_add(r, method, pattern, user_route_h, rt);
}

void notify__subscriptions_register(struct router *r, struct identity *id)
{
    const char *s = "/api/v1/admin/subscriptions";
    notify__adm_add(r, id, HTTP_M_GET, s, &r_subs_list);
    notify__adm_add(r, id, HTTP_M_PUT, s, &r_subs_put);
    notify__adm_add(r, id, HTTP_M_DELETE, s, &r_subs_delete);
    const char *p = "/api/v1/admin/users/{id}/preferences";
    notify__adm_add(r, id, HTTP_M_GET, p, &r_prefs_get);
    notify__adm_add(r, id, HTTP_M_PUT, p, &r_prefs_put);
    user_add(r, id, HTTP_M_GET, "/api/v1/me/subscriptions", &r_me_subs_get);
    user_add(r, id, HTTP_M_PUT, "/api/v1/me/subscriptions", &r_me_subs_put);
    user_add(r, id, HTTP_M_GET, "/api/v1/me/preferences", &r_me_prefs_get);
    user_add(r, id, HTTP_M_PUT | HTTP_M_PATCH, "/api/v1/me/preferences", &r_me_prefs_put);
}
