/*
 * /admin/message-types and /admin/channel-message-types (issue 11, docs/notifications.md,
 * "Message types"): an app's message types (code, name, default channel kinds, escalation
 * chain) and the type <-> channel pairs with the template code each pair renders. Reads need
 * notifications:read, writes templates:write, on the object's app (another app's object is a
 * 404); every write is audited in its transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "net/http.h"
#include "notify/admin_kit.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define PERM_READ "notifications:read"
#define PERM_WRITE "templates:write"

#define TYPE_NAME_MAX 128
#define TYPE_DESC_MAX 1000
#define TYPE_CHANNELS_MAX 16
#define ESCALATION_STEPS_MAX 8
#define ESCALATION_AFTER_MAX (7 * 24 * 3600) /* seconds */

#define TYPE_BOOLS "enabled"
#define TYPE_JSONS "channels,escalation"

/* ---- validation shared by create and update */

static bool code_ok(const char *s)
{
    return notify__code_is_valid(s);
}

/* A channel of a pair: "inapp" or a channel id. The existence of the id in the app's
 * channels is checked where the channels table is (docs/notifications.md). */
static bool channel_ok(const char *s)
{
    return kit_name_is_valid(s, KIT_ID_MAX);
}

/* The channels array (already checked for strings) as compact text, or NULL after answering. */
static char *channels_text(struct http_req *req, const struct kit_array *a)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, a->json)
    {
        char field[32];
        snprintf(field, sizeof(field), "channels[%d]", i++);
        if (!notify_kind_is_known(e->valuestring)) {
            cJSON_Delete(out);
            notify__invalid(req, field, "must be a channel kind: " NOTIFY_KINDS_TEXT);
            return NULL;
        }
        const cJSON *seen;
        cJSON_ArrayForEach(seen, out)
        {
            if (strcmp(seen->valuestring, e->valuestring) == 0) {
                cJSON_Delete(out);
                notify__invalid(req, field, "is listed twice");
                return NULL;
            }
        }
        cJSON_AddItemToArray(out, cJSON_CreateString(e->valuestring));
    }
    char *s = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    return s;
}

/*
 * The escalation chain: null (none) or an array of 1-8 steps {"channel": kind, "after_s": n};
 * the first step's after_s is 0 or absent, every later step's is larger than the one before
 * (seconds after the notification was sent). Sets *text (NULL: none; caller frees) or answers.
 */
static bool escalation_text(struct http_req *req, const cJSON *v, char **text)
{
    *text = NULL;
    if (cJSON_IsNull(v))
        return true;
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n < 1 || n > ESCALATION_STEPS_MAX) {
        notify__invalid(req, "escalation", "must be null or an array of 1 to 8 steps");
        return false;
    }
    cJSON *out = cJSON_CreateArray();
    int64_t prev = -1;
    int i = 0;
    const cJSON *step;
    cJSON_ArrayForEach(step, v)
    {
        char field[48];
        snprintf(field, sizeof(field), "escalation[%d]", i);
        if (!cJSON_IsObject(step)) {
            notify__invalid(req, field, "must be an object {\"channel\", \"after_s\"}");
            goto fail;
        }
        const cJSON *m;
        cJSON_ArrayForEach(m, step)
        {
            if (strcmp(m->string, "channel") != 0 && strcmp(m->string, "after_s") != 0) {
                snprintf(field, sizeof(field), "escalation[%d].%.24s", i, m->string);
                notify__invalid(req, field, "unknown field");
                goto fail;
            }
        }
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(step, "channel");
        if (!cJSON_IsString(ch) || !notify_kind_is_known(ch->valuestring)) {
            snprintf(field, sizeof(field), "escalation[%d].channel", i);
            notify__invalid(req, field, "must be a channel kind: " NOTIFY_KINDS_TEXT);
            goto fail;
        }
        const cJSON *after = cJSON_GetObjectItemCaseSensitive(step, "after_s");
        int64_t a = 0;
        snprintf(field, sizeof(field), "escalation[%d].after_s", i);
        if (after != NULL) {
            double d = cJSON_IsNumber(after) ? after->valuedouble : -1;
            if (d < 0 || d > ESCALATION_AFTER_MAX || d != (double)(int64_t)d) {
                notify__invalid(req, field, "must be a whole number of seconds from 0 to 604800");
                goto fail;
            }
            a = (int64_t)d;
        } else if (i > 0) {
            notify__invalid(req, field, "is required after the first step");
            goto fail;
        }
        if (i == 0 && a != 0) {
            notify__invalid(req, field, "must be 0 on the first step (it starts at once)");
            goto fail;
        }
        if (i > 0 && a <= prev) {
            notify__invalid(req, field, "must be larger than the step before");
            goto fail;
        }
        prev = a;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "channel", ch->valuestring);
        cJSON_AddNumberToObject(o, "after_s", (double)a);
        cJSON_AddItemToArray(out, o);
        i++;
    }
    *text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    return true;
fail:
    cJSON_Delete(out);
    return false;
}

/* ---- message types: the decoder */

struct type_in {
    const char *app_id, *code, *name, *description;
    struct kit_array channels;
    const cJSON *escalation;
    int enabled;
};

static const struct kit_field kind_elem = {
    .kind = KIT_STRING, .min = 1, .max = 32, .message = "must be a channel kind"};

#define TYPE_FIELDS(req)                                                                           \
    {.name = "name",                                                                               \
     .kind = KIT_STRING,                                                                           \
     .flags = (req) | KIT_LINE,                                                                    \
     .min = 1,                                                                                     \
     .max = TYPE_NAME_MAX,                                                                         \
     .at = KIT_AT(struct type_in, name),                                                           \
     .message = "must be a string of 1 to 128 characters"},                                        \
        {.name = "description",                                                                    \
         .kind = KIT_STRING,                                                                       \
         .max = TYPE_DESC_MAX,                                                                     \
         .at = KIT_AT(struct type_in, description),                                                \
         .message = "must be a string of at most 1000 characters"},                                \
        {.name = "channels",                                                                       \
         .kind = KIT_ARRAY,                                                                        \
         .max = TYPE_CHANNELS_MAX,                                                                 \
         .at = KIT_AT(struct type_in, channels),                                                   \
         .elem = &kind_elem,                                                                       \
         .message = "must be an array of at most 16 channel kinds"},                               \
        {.name = "escalation", .kind = KIT_JSON, .at = KIT_AT(struct type_in, escalation)},        \
        {.name = "enabled", .kind = KIT_BOOL, .at = KIT_AT(struct type_in, enabled)},              \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const struct kit_field type_create_fields[] = {{.name = "app_id",
                                                       .kind = KIT_NAME,
                                                       .flags = KIT_REQUIRED,
                                                       .max = KIT_ID_MAX,
                                                       .at = KIT_AT(struct type_in, app_id),
                                                       .message = "must be an app id"},
                                                      {.name = "code",
                                                       .kind = KIT_STRING,
                                                       .flags = KIT_REQUIRED,
                                                       .min = 1,
                                                       .max = 64,
                                                       .at = KIT_AT(struct type_in, code),
                                                       .message = "must be 1-64 of [a-z0-9_.:-]"},
                                                      TYPE_FIELDS(KIT_REQUIRED)};
static const struct kit_table type_create_table = {.fields = type_create_fields};
/* app_id and code may be sent back as they are (a form sending the whole type); another value
 * is refused by type_patch_loaded, which knows the stored ones. */
static const struct kit_field type_patch_fields[] = {
    {.name = "app_id", .kind = KIT_STRING, .at = KIT_AT(struct type_in, app_id)},
    {.name = "code", .kind = KIT_STRING, .at = KIT_AT(struct type_in, code)},
    TYPE_FIELDS(0)};
static const struct kit_table type_patch_table = {.fields = type_patch_fields};

/* Checks what the decoder cannot: the code's characters, the channels, the escalation. Sets
 * *channels and *escalation (owned, NULL when not given). False after answering. */
static bool type_check(struct http_req *req, const struct type_in *in, char **channels,
                       char **escalation)
{
    *channels = *escalation = NULL;
    if (in->code && !notify__code_is_valid(in->code)) {
        notify__invalid(req, "code", "must be 1-64 of [a-z0-9_.:-]");
        return false;
    }
    if (in->channels.json && (*channels = channels_text(req, &in->channels)) == NULL)
        return false;
    if (in->escalation && !escalation_text(req, in->escalation, escalation)) {
        free(*channels);
        *channels = NULL;
        return false;
    }
    return true;
}

/* ---- message types: handlers */

static void type_done(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status == ERR_NOTFOUND && c->n1 == 201) { /* the insert's guard */
        static const struct nadm_why why = {&SQL_APPS_GET, 404, "no such app", "app_id",
                                            "an app has at most 1000 message types"};
        notify__adm_guard_failed(j, c->app_id, &why);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "message type", "code");
        return;
    }
    if (c->n1 == 204) {
        http_respond(j->req, 204, NULL, "", 0);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, -1);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such message type", NULL);
        return;
    }
    notify__respond(j->req, (int)c->n1, console_row_json(r, 0, TYPE_BOOLS, TYPE_JSONS));
}

static void type_create(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct type_in in = {0};
    if (notify__adm_body(j, &type_create_table, &in) == NULL)
        return;
    if (!notify__adm_can(c, in.app_id)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    char *channels, *escalation;
    if (!type_check(j->req, &in, &channels, &escalation))
        return;
    char id[34] = "t";
    rand_hex(id + 1, 16);
    int64_t now = clock_wall_ms();
    c->n1 = 201;
    snprintf(c->app_id, sizeof(c->app_id), "%s", in.app_id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_MESSAGE_TYPES_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, in.app_id);
    store_bind_text(op, in.code);
    store_bind_text(op, in.name);
    store_bind_text(op, in.description ? in.description : "");
    store_bind_text(op, channels ? channels : "[\"inapp\"]");
    store_bind_text(op, escalation);
    store_bind_int(op, in.enabled == 0 ? 0 : 1);
    store_bind_int(op, now);
    store_bind_int(op, NOTIFY_TYPES_MAX);
    store_op_require_row(op);
    notify__adm_audit(op, c, in.app_id, "message_type.create", id, c->body);
    store_op_add(op, &SQL_MESSAGE_TYPES_GET);
    store_bind_text(op, id);
    free(channels);
    free(escalation);
    kit_store(j, op, KIT_WRITE, type_done);
}

static const struct notify_filter type_filters[] = {
    {.name = "code", .size = 80, .ok = code_ok},
    {.name = "enabled", .size = 8, .boolean = true},
};

static void type_list(struct kit_job *j)
{
    notify__adm_list_filtered(j, &SQL_MESSAGE_TYPES_COUNT, &SQL_MESSAGE_TYPES_PAGE, type_filters,
                              sizeof(type_filters) / sizeof(type_filters[0]), TYPE_BOOLS,
                              TYPE_JSONS);
}

static void type_got(struct kit_job *j)
{
    notify__respond(j->req, 200,
                    console_row_json(store_result_step(j->res, 0), 0, TYPE_BOOLS, TYPE_JSONS));
}

static void type_get(struct kit_job *j)
{
    notify__adm_load(j, &SQL_MESSAGE_TYPES_GET, "message type", type_got);
}

static void type_patch_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct type_in in = {0};
    if (notify__adm_body(j, &type_patch_table, &in) == NULL)
        return;
    const struct store_rows *row = store_result_step(j->res, 0);
    int code_col = store_rows_col(row, "code");
    if (in.app_id != NULL && strcmp(in.app_id, c->app_id) != 0) {
        notify__invalid(j->req, "app_id", "cannot be changed: a message type stays in its app");
        return;
    }
    if (in.code != NULL && (code_col < 0 || strcmp(in.code, store_rows_text(row, 0, code_col)))) {
        notify__invalid(j->req, "code",
                        "cannot be changed: subscriptions and notifications refer to it");
        return;
    }
    in.code = NULL; /* the stored one: nothing to check or write */
    char *channels, *escalation;
    if (!type_check(j->req, &in, &channels, &escalation))
        return;
    c->n1 = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_MESSAGE_TYPES_UPDATE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    store_bind_text(op, in.name);
    store_bind_text(op, in.description);
    store_bind_text(op, channels);
    store_bind_int(op, in.escalation != NULL);
    store_bind_text(op, escalation);
    store_bind_int(op, in.enabled);
    store_bind_int(op, clock_wall_ms());
    store_op_require_row(op);
    notify__adm_audit(op, c, c->app_id, "message_type.update", c->obj_id, c->body);
    store_op_add(op, &SQL_MESSAGE_TYPES_GET);
    store_bind_text(op, c->obj_id);
    free(channels);
    free(escalation);
    kit_store(j, op, KIT_WRITE, type_done);
}

static void type_patch(struct kit_job *j)
{
    notify__adm_load(j, &SQL_MESSAGE_TYPES_GET, "message type", type_patch_loaded);
}

static void type_delete_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    kit_store(j, notify__adm_delete_op(c, &SQL_MESSAGE_TYPES_DELETE, "message_type.delete"),
              KIT_WRITE, type_done);
}

static void type_delete(struct kit_job *j)
{
    notify__adm_load(j, &SQL_MESSAGE_TYPES_GET, "message type", type_delete_loaded);
}

/* ---- channel <-> type pairs */

#define CMT_BOOLS "enabled"

struct cmt_in {
    const char *app_id, *type_id, *channel;
    const cJSON *template_code;
    int enabled;
};

static const struct kit_field cmt_create_fields[] = {
    {.name = "app_id",
     .kind = KIT_NAME,
     .flags = KIT_REQUIRED,
     .max = KIT_ID_MAX,
     .at = KIT_AT(struct cmt_in, app_id),
     .message = "must be an app id"},
    {.name = "type_id",
     .kind = KIT_NAME,
     .flags = KIT_REQUIRED,
     .max = KIT_ID_MAX,
     .at = KIT_AT(struct cmt_in, type_id),
     .message = "must be a message type id"},
    {.name = "channel",
     .kind = KIT_NAME,
     .flags = KIT_REQUIRED,
     .max = KIT_ID_MAX,
     .at = KIT_AT(struct cmt_in, channel),
     .message = "must be \"inapp\" or a channel id"},
    {.name = "template_code", .kind = KIT_JSON, .at = KIT_AT(struct cmt_in, template_code)},
    {.name = "enabled", .kind = KIT_BOOL, .at = KIT_AT(struct cmt_in, enabled)},
    {.name = NULL}};
static const struct kit_table cmt_create_table = {.fields = cmt_create_fields};

static const struct kit_field cmt_patch_fields[] = {
    {.name = "app_id", .kind = KIT_STRING, .flags = KIT_REFUSED},
    {.name = "type_id",
     .kind = KIT_STRING,
     .flags = KIT_REFUSED,
     .message = "cannot be changed: delete the pair and add another"},
    {.name = "channel",
     .kind = KIT_STRING,
     .flags = KIT_REFUSED,
     .message = "cannot be changed: delete the pair and add another"},
    {.name = "template_code", .kind = KIT_JSON, .at = KIT_AT(struct cmt_in, template_code)},
    {.name = "enabled", .kind = KIT_BOOL, .at = KIT_AT(struct cmt_in, enabled)},
    {.name = NULL}};
static const struct kit_table cmt_patch_table = {.fields = cmt_patch_fields};

/* template_code: null or a code; *code NULL for null. False after answering. */
static bool template_code_of(struct http_req *req, const cJSON *v, const char **code)
{
    *code = NULL;
    if (cJSON_IsNull(v))
        return true;
    if (!cJSON_IsString(v) || !notify__code_is_valid(v->valuestring)) {
        notify__invalid(req, "template_code",
                        "must be null or a template code: 1-64 of [a-z0-9_.:-]");
        return false;
    }
    *code = v->valuestring;
    return true;
}

static void cmt_done(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status == ERR_NOTFOUND && c->n1 == 201) { /* the insert's guard */
        static const struct nadm_why why = {&SQL_MESSAGE_TYPES_GET, 422,
                                            "no message type with this id in the app", "type_id",
                                            "a message type has at most 64 channel pairs"};
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c->body, "type_id");
        notify__adm_guard_failed(j, t->valuestring, &why);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "channel message type", "channel");
        return;
    }
    if (c->n1 == 204) {
        http_respond(j->req, 204, NULL, "", 0);
        return;
    }
    notify__respond(j->req, (int)c->n1,
                    console_row_json(store_result_step(j->res, -1), 0, CMT_BOOLS, NULL));
}

/* The insert of a checked pair (c->body, decoded before). */
static void cmt_insert(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct cmt_in in;
    struct kit_error err;
    if (kit_decode(c->body, &cmt_create_table, &in, NULL, &err) != 0) { /* decoded before */
        kit_fail_decode(j->req, &err);
        return;
    }
    const char *code = NULL;
    if (in.template_code && !template_code_of(j->req, in.template_code, &code))
        return;
    char id[34] = "x";
    rand_hex(id + 1, 16);
    int64_t now = clock_wall_ms();
    c->n1 = 201;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CHANNEL_MESSAGE_TYPES_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, in.app_id);
    store_bind_text(op, in.type_id);
    store_bind_text(op, in.channel);
    store_bind_text(op, code);
    store_bind_int(op, in.enabled == 0 ? 0 : 1);
    store_bind_int(op, now);
    store_bind_int(op, NOTIFY_PAIRS_MAX);
    store_op_require_row(op);
    notify__adm_audit(op, c, in.app_id, "channel_message_type.create", id, c->body);
    store_op_add(op, &SQL_CHANNEL_MESSAGE_TYPES_GET);
    store_bind_text(op, id);
    kit_store(j, op, KIT_WRITE, cmt_done);
}

/* A channel id must name one of the app's channels ("inapp" needs no row). */
static void cmt_channel_read(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status != 0) {
        kit_fail_store(j, "channel", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    int col = r ? store_rows_col(r, "app_id") : -1;
    if (r == NULL || r->nrows == 0 || col < 0 || strcmp(store_rows_text(r, 0, col), c->app_id)) {
        notify__invalid(j->req, "channel", "no channel with this id in the app");
        return;
    }
    cmt_insert(j);
}

static void cmt_create(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct cmt_in in;
    if (notify__adm_body(j, &cmt_create_table, &in) == NULL)
        return;
    if (!notify__adm_can(c, in.app_id)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    const char *code = NULL;
    if (in.template_code && !template_code_of(j->req, in.template_code, &code))
        return;
    snprintf(c->app_id, sizeof(c->app_id), "%s", in.app_id);
    if (strcmp(in.channel, "inapp") == 0) {
        cmt_insert(j);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CHANNELS_GET);
    store_bind_text(op, in.channel);
    kit_store(j, op, KIT_READ, cmt_channel_read);
}

static const struct notify_filter cmt_filters[] = {
    {.name = "type_id", .size = 80, .ok = channel_ok},
    {.name = "channel", .size = 80, .ok = channel_ok},
    {.name = "type", .size = 80, .ok = code_ok},
};

static void cmt_list(struct kit_job *j)
{
    notify__adm_list_filtered(j, &SQL_CHANNEL_MESSAGE_TYPES_COUNT, &SQL_CHANNEL_MESSAGE_TYPES_PAGE,
                              cmt_filters, sizeof(cmt_filters) / sizeof(cmt_filters[0]), CMT_BOOLS,
                              NULL);
}

static void cmt_got(struct kit_job *j)
{
    notify__respond(j->req, 200,
                    console_row_json(store_result_step(j->res, 0), 0, CMT_BOOLS, NULL));
}

static void cmt_get(struct kit_job *j)
{
    notify__adm_load(j, &SQL_CHANNEL_MESSAGE_TYPES_GET, "channel message type", cmt_got);
}

static void cmt_patch_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct cmt_in in;
    if (notify__adm_body(j, &cmt_patch_table, &in) == NULL)
        return;
    const char *code = NULL;
    if (in.template_code && !template_code_of(j->req, in.template_code, &code))
        return;
    c->n1 = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CHANNEL_MESSAGE_TYPES_UPDATE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    store_bind_int(op, in.template_code != NULL);
    store_bind_text(op, code);
    store_bind_int(op, in.enabled);
    store_bind_int(op, clock_wall_ms());
    store_op_require_row(op);
    notify__adm_audit(op, c, c->app_id, "channel_message_type.update", c->obj_id, c->body);
    store_op_add(op, &SQL_CHANNEL_MESSAGE_TYPES_GET);
    store_bind_text(op, c->obj_id);
    kit_store(j, op, KIT_WRITE, cmt_done);
}

static void cmt_patch(struct kit_job *j)
{
    notify__adm_load(j, &SQL_CHANNEL_MESSAGE_TYPES_GET, "channel message type", cmt_patch_loaded);
}

static void cmt_delete_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    kit_store(
        j,
        notify__adm_delete_op(c, &SQL_CHANNEL_MESSAGE_TYPES_DELETE, "channel_message_type.delete"),
        KIT_WRITE, cmt_done);
}

static void cmt_delete(struct kit_job *j)
{
    notify__adm_load(j, &SQL_CHANNEL_MESSAGE_TYPES_GET, "channel message type", cmt_delete_loaded);
}

/* ---- routes */

static struct nadm_route r_type_list = {PERM_READ, type_list, NULL};
static struct nadm_route r_type_create = {PERM_WRITE, type_create, NULL};
static struct nadm_route r_type_get = {PERM_READ, type_get, NULL};
static struct nadm_route r_type_patch = {PERM_WRITE, type_patch, NULL};
static struct nadm_route r_type_delete = {PERM_WRITE, type_delete, NULL};
static struct nadm_route r_cmt_list = {PERM_READ, cmt_list, NULL};
static struct nadm_route r_cmt_create = {PERM_WRITE, cmt_create, NULL};
static struct nadm_route r_cmt_get = {PERM_READ, cmt_get, NULL};
static struct nadm_route r_cmt_patch = {PERM_WRITE, cmt_patch, NULL};
static struct nadm_route r_cmt_delete = {PERM_WRITE, cmt_delete, NULL};

void notify__types_register(struct router *r, struct identity *id)
{
    const char *t = "/api/v1/admin/message-types", *ti = "/api/v1/admin/message-types/{id}";
    notify__adm_add(r, id, HTTP_M_GET, t, &r_type_list);
    notify__adm_add(r, id, HTTP_M_POST, t, &r_type_create);
    notify__adm_add(r, id, HTTP_M_GET, ti, &r_type_get);
    notify__adm_add(r, id, HTTP_M_PATCH | HTTP_M_PUT, ti, &r_type_patch);
    notify__adm_add(r, id, HTTP_M_DELETE, ti, &r_type_delete);
    const char *x = "/api/v1/admin/channel-message-types";
    const char *xi = "/api/v1/admin/channel-message-types/{id}";
    notify__adm_add(r, id, HTTP_M_GET, x, &r_cmt_list);
    notify__adm_add(r, id, HTTP_M_POST, x, &r_cmt_create);
    notify__adm_add(r, id, HTTP_M_GET, xi, &r_cmt_get);
    notify__adm_add(r, id, HTTP_M_PATCH | HTTP_M_PUT, xi, &r_cmt_patch);
    notify__adm_add(r, id, HTTP_M_DELETE, xi, &r_cmt_delete);
}
