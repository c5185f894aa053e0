/*
 * /api/v1/admin/channels (channels.h, docs/notifications.md "Channels"). Every handler runs
 * as a kit job: the operator is authorized (console_authorize) with the apps where it holds
 * the right, the channel row is read, its app checked against those apps (another app's is a
 * 404), then the write goes with its audit row in one op. Configs are checked by the kind's
 * driver (drivers.h) and their secret members sealed before the write (internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/console.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "kit/decode.h"
#include "kit/job.h"
#include "net/http.h"
#include "notify/channels.h"
#include "notify/driver.h"
#include "notify/drivers.h"
#include "notify/internal.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"
#include "kit/paging.h"

#define WRITE_PERM "channels:write"
#define READ_PERM "notifications:read|channels:write" /* either one */
#define TEST_THREADS 4
#define TEST_QUEUE 256
#define ID_MAX 64

/* the columns of SQL_CHANNELS_COLS */
enum {
    C_ID,
    C_APP,
    C_NAME,
    C_KIND,
    C_CONFIG,
    C_ENABLED,
    C_MAX_ATT,
    C_RATE,
    C_CONC,
    C_CREATED,
    C_UPDATED
};

struct notify_channels_api {
    struct identity *id;
    struct notify_channels *chs;
    struct workpool *work; /* test sends */
};

/* A request's state across its steps. */
struct actx {
    struct notify_channels_api *api;
    char operator_id[40];
    char *apps_json; /* owned; NULL: every app */
    cJSON *body;     /* owned */
    char app[ID_MAX + 1], id[ID_MAX + 1];
    char *config; /* owned: the sealed config text to write, or NULL */
    int64_t page, page_size;
    int status;               /* the HTTP status of a write's answer */
    struct notify_result res; /* a test send's */
};

static void actx_free(void *p)
{
    struct actx *c = p;
    free(c->apps_json);
    cJSON_Delete(c->body);
    free(c->config);
    free(c);
}

static struct kit_job *job_new(struct http_req *req, struct notify_channels_api *api,
                               const char *operator_id, const char *apps_json)
{
    struct actx *c = xcalloc(1, sizeof(*c));
    c->api = api;
    snprintf(c->operator_id, sizeof(c->operator_id), "%s", operator_id);
    c->apps_json = apps_json ? xstrdup(apps_json) : NULL;
    return kit_job_new(req, api->id->store, api->work, c, actx_free);
}

static bool app_granted(const char *apps, const char *app)
{
    if (apps == NULL)
        return true;
    cJSON *a = cJSON_Parse(apps);
    bool found = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) found |= cJSON_IsString(e) && strcmp(e->valuestring, app) == 0;
    cJSON_Delete(a);
    return found;
}

static void respond(struct http_req *req, int status, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    http_respond_json(req, status, s, strlen(s));
    cJSON_free(s);
}

static void invalid(struct http_req *req, const char *field, const char *message)
{
    http_respond_error(req, 422, "validation_failed", message, field);
}

/* Row i as the API shows it: the config with its secrets masked. */
static cJSON *row_json(const struct notify_channels_api *api, const struct store_rows *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", store_rows_text(r, i, C_ID));
    cJSON_AddStringToObject(o, "app_id", store_rows_text(r, i, C_APP));
    cJSON_AddStringToObject(o, "name", store_rows_text(r, i, C_NAME));
    const char *kind = store_rows_text(r, i, C_KIND);
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON *config = cJSON_Parse(store_rows_text(r, i, C_CONFIG));
    if (!cJSON_IsObject(config)) {
        cJSON_Delete(config);
        config = cJSON_CreateObject();
    }
    const struct notify_driver *d = notify_driver_find(kind);
    if (d != NULL)
        notify__config_mask(api->id->enc_key, d, config);
    cJSON_AddItemToObject(o, "config", config);
    cJSON_AddBoolToObject(o, "enabled", store_rows_int(r, i, C_ENABLED) != 0);
    cJSON_AddNumberToObject(o, "max_attempts", (double)store_rows_int(r, i, C_MAX_ATT));
    cJSON_AddNumberToObject(o, "rate_per_s", (double)store_rows_int(r, i, C_RATE));
    cJSON_AddNumberToObject(o, "concurrency", (double)store_rows_int(r, i, C_CONC));
    cJSON_AddNumberToObject(o, "created_at", (double)store_rows_int(r, i, C_CREATED));
    cJSON_AddNumberToObject(o, "updated_at", (double)store_rows_int(r, i, C_UPDATED));
    return o;
}

/* Appends the audit row of a write. */
static void audit(struct store_op *op, struct kit_job *j, const char *app, const char *action,
                  const char *target, const cJSON *detail)
{
    struct actx *c = j->ctx;
    const char *ip = http_req_peer(j->req);
    char *d = detail ? cJSON_PrintUnformatted(detail) : NULL;
    store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_OPERATOR);
    store_bind_text(op, c->operator_id);
    store_bind_text(op, app);
    store_bind_text(op, action);
    store_bind_text(op, target);
    store_bind_text(op, d ? d : "{}");
    store_bind_text(op, ip ? ip : "");
    store_bind_int(op, clock_wall_ms());
    cJSON_free(d);
}

/* Checks config with d and seals it (stored: the sealed config saved before, or NULL) into
 * c->config; false after answering 422 (the driver's field below "config") or 500. */
static bool config_prepare(struct http_req *req, struct actx *c, const struct notify_driver *d,
                           const cJSON *config, const cJSON *stored)
{
    char field[KIT_PATH_MAX - 8], msg[160];
    field[0] = '\0';
    /* The driver checks the config that will be in effect: masked secrets sent back replaced
     * by the stored ones (a secret may be checked for its form, e.g. a robot's URL). */
    cJSON *copy = cJSON_Duplicate(config, true);
    int rc = notify__config_seal(c->api->id->enc_key, d, copy, stored);
    cJSON *plain = rc == 0 ? cJSON_Duplicate(copy, true) : NULL;
    if (rc == 0)
        rc = notify__config_open(c->api->id->enc_key, d, plain);
    if (rc != 0) {
        cJSON_Delete(plain);
        cJSON_Delete(copy);
        request_fail(req, ERR_BACKEND, "cannot seal the channel's secrets", NULL);
        return false;
    }
    bool ok = d->check(plain, field, sizeof(field), msg, sizeof(msg)) == 0;
    cJSON_Delete(plain);
    if (!ok) {
        cJSON_Delete(copy);
        char path[KIT_PATH_MAX];
        snprintf(path, sizeof(path), field[0] ? "config.%s" : "config", field);
        invalid(req, path, msg);
        return false;
    }
    c->config = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return true;
}

/* ---- request bodies */

struct ch_in {
    const char *app_id, *name, *kind;
    const cJSON *config;
    int enabled;
    int64_t max_attempts, rate_per_s, concurrency;
    /* test */
    const char *to, *title, *content, *html, *delivery_id;
    const cJSON *params, *data; /* test: template parameters (SMS, WeChat), data */
    const char *type;           /* test: the message type code (per-type provider templates) */
};

#define LIMIT_FIELDS(flags_kind)                                                                   \
    {.name = "enabled", .kind = KIT_BOOL, .at = KIT_AT(struct ch_in, enabled)},                    \
        {.name = "max_attempts",                                                                   \
         .kind = KIT_INT,                                                                          \
         .min = 1,                                                                                 \
         .max = 50,                                                                                \
         .at = KIT_AT(struct ch_in, max_attempts)},                                                \
        {.name = "rate_per_s",                                                                     \
         .kind = KIT_INT,                                                                          \
         .min = 0,                                                                                 \
         .max = 100000,                                                                            \
         .at = KIT_AT(struct ch_in, rate_per_s)},                                                  \
        {.name = "concurrency",                                                                    \
         .kind = KIT_INT,                                                                          \
         .min = 1,                                                                                 \
         .max = 16,                                                                                \
         .at = KIT_AT(struct ch_in, concurrency)},                                                 \
        {.name = "config",                                                                         \
         .kind = KIT_OBJECT,                                                                       \
         .flags = flags_kind,                                                                      \
         .max = NOTIFY_CONFIG_MAX,                                                                 \
         .at = KIT_AT(struct ch_in, config)},                                                      \
    {                                                                                              \
        .name = "name", .kind = KIT_STRING, .flags = flags_kind, .min = 1, .max = 64,              \
        .at = KIT_AT(struct ch_in, name)                                                           \
    }

static const struct kit_field create_fields[] = {
    {.name = "app_id",
     .kind = KIT_NAME,
     .flags = KIT_REQUIRED,
     .max = ID_MAX,
     .at = KIT_AT(struct ch_in, app_id),
     .message = "must be an app id"},
    {.name = "kind",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .min = 1,
     .max = 32,
     .at = KIT_AT(struct ch_in, kind)},
    LIMIT_FIELDS(KIT_REQUIRED),
    {.name = NULL},
};
static const struct kit_table create_table = {.fields = create_fields};

static const struct kit_field patch_fields[] = {
    {.name = "app_id", .kind = KIT_STRING, .flags = KIT_REFUSED},
    {.name = "kind", .kind = KIT_STRING, .flags = KIT_REFUSED},
    LIMIT_FIELDS(0),
    {.name = NULL},
};
static const struct kit_table patch_table = {.fields = patch_fields};

static const struct kit_field test_fields[] = {
    {.name = "to",
     .kind = KIT_STRING,
     .flags = KIT_BYTES,
     .min = 1,
     .max = 2048,
     .at = KIT_AT(struct ch_in, to)},
    {.name = "title", .kind = KIT_STRING, .max = 200, .at = KIT_AT(struct ch_in, title)},
    {.name = "content", .kind = KIT_STRING, .max = 10000, .at = KIT_AT(struct ch_in, content)},
    {.name = "html",
     .kind = KIT_STRING,
     .flags = KIT_BYTES,
     .max = 100000,
     .at = KIT_AT(struct ch_in, html)},
    {.name = "delivery_id",
     .kind = KIT_NAME,
     .max = ID_MAX,
     .at = KIT_AT(struct ch_in, delivery_id),
     .message = "must be an id"},
    {.name = "params", .kind = KIT_OBJECT, .max = 16384, .at = KIT_AT(struct ch_in, params)},
    {.name = "type", .kind = KIT_STRING, .min = 1, .max = 64, .at = KIT_AT(struct ch_in, type)},
    {.name = "data", .kind = KIT_OBJECT, .max = 16384, .at = KIT_AT(struct ch_in, data)},
    {.name = NULL},
};
static const struct kit_table test_table = {.fields = test_fields};

/* The path's {id}; NULL after answering 404. */
static const char *path_id(struct http_req *req)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || !kit_name_is_valid(id, ID_MAX)) {
        http_respond_err(req, ERR_NOTFOUND, "no such channel", NULL);
        return NULL;
    }
    return id;
}

/* The channel row read by the first step, when the caller may see it; NULL after answering. */
static const struct store_rows *row_in_scope(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "channel", NULL);
        return NULL;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r == NULL || r->nrows == 0 || !app_granted(c->apps_json, store_rows_text(r, 0, C_APP))) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such channel", NULL);
        return NULL;
    }
    return r;
}

/* Starts a job reading the path's channel, then next. */
static void read_then(struct http_req *req, struct notify_channels_api *api,
                      const char *operator_id, const char *apps_json, cJSON *body, kit_fn next)
{
    const char *id = path_id(req);
    if (id == NULL) {
        cJSON_Delete(body);
        return;
    }
    struct kit_job *j = job_new(req, api, operator_id, apps_json);
    struct actx *c = j->ctx;
    c->body = body;
    snprintf(c->id, sizeof(c->id), "%s", id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CHANNELS_GET);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, next);
}

/* ---- GET /admin/channels and /admin/channels/{id} */

static void list_done(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "channel", NULL);
        return;
    }
    if (c->app[0] && !console_app_found(j->req, store_result_step(j->res, 2)))
        return;
    const struct store_rows *count = store_result_step(j->res, 0);
    const struct store_rows *rows = store_result_step(j->res, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, store_rows_int(count, 0, 0), c->page, c->page_size);
    for (int i = 0; rows != NULL && i < rows->nrows; i++)
        cJSON_AddItemToArray(arr, row_json(c->api, rows, i));
    respond(j->req, 200, o);
    cJSON_Delete(o);
}

static void list_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                         void *ud)
{
    char app[ID_MAX + 2], kind[34];
    int na = http_req_query_param(req, "app_id", app, sizeof(app));
    int nk = http_req_query_param(req, "kind", kind, sizeof(kind));
    if ((na < 0 && http_req_has_query_param(req, "app_id")) ||
        (na > 0 && (!kit_name_is_valid(app, ID_MAX) || !app_granted(apps_json, app)))) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    if ((nk < 0 && http_req_has_query_param(req, "kind")) ||
        (nk > 0 && !notify_driver_kind_is_known(kind))) {
        invalid(req, "kind", "must be a channel kind");
        return;
    }
    int64_t page, size;
    if (!kit_paging(req, &page, &size))
        return;
    struct kit_job *j = job_new(req, ud, operator_id, apps_json);
    struct actx *c = j->ctx;
    c->page = page;
    c->page_size = size;
    struct store_op *op = store_op_new();
    for (int k = 0; k < 2; k++) {
        store_op_add(op, k == 0 ? &SQL_CHANNELS_COUNT : &SQL_CHANNELS_PAGE);
        store_bind_text(op, apps_json);
        store_bind_text(op, na > 0 ? app : NULL);
        store_bind_text(op, nk > 0 ? kind : NULL);
        if (k == 1) {
            store_bind_int(op, size);
            store_bind_int(op, (page - 1) * size);
        }
    }
    if (na > 0) {                                              /* step 2 */
        snprintf(c->app, sizeof(c->app), "%.*s", ID_MAX, app); /* checked: fits */
        console_add_app_read(op, app);
    }
    kit_store(j, op, KIT_READ, list_done);
}

static void get_done(struct kit_job *j)
{
    struct actx *c = j->ctx;
    const struct store_rows *r = row_in_scope(j);
    if (r == NULL)
        return;
    cJSON *o = row_json(c->api, r, 0);
    respond(j->req, c->status ? c->status : 200, o);
    cJSON_Delete(o);
}

static void get_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                        void *ud)
{
    read_then(req, ud, operator_id, apps_json, NULL, get_done);
}

/* ---- POST /admin/channels */

/* After a write whose last step reads the row back. */
static void write_done(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (j->status == ERR_NOTFOUND && c->status == 201) {
        http_respond_error(j->req, 409, "conflict", "an app has at most 100 channels", NULL);
        return;
    }
    if (j->status == ERR_NOTFOUND && c->status == 200) {
        http_respond_error(j->req, 409, "conflict",
                           "the channel changed or was deleted meanwhile: read it again", NULL);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "channel", "name");
        return;
    }
    if (c->status == 204) {
        notify__channels_forget(c->api->chs, c->id); /* its connections end now */
        http_respond(j->req, 204, NULL, "", 0);
        return;
    }
    if (c->status == 200)
        notify__channels_forget(c->api->chs, c->id); /* reopened by the next send */
    const struct store_rows *r = store_result_step(j->res, -1);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such channel", NULL);
        return;
    }
    cJSON *o = row_json(c->api, r, 0);
    respond(j->req, c->status, o);
    cJSON_Delete(o);
}

static cJSON *audit_detail(const char *name, const char *kind)
{
    cJSON *d = cJSON_CreateObject();
    if (name != NULL)
        cJSON_AddStringToObject(d, "name", name);
    if (kind != NULL)
        cJSON_AddStringToObject(d, "kind", kind);
    return d;
}

static void create_write(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "app", NULL);
        return;
    }
    const struct store_rows *app = store_result_step(j->res, 0);
    if (app == NULL || app->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    struct ch_in in;
    struct kit_error err;
    if (kit_decode(c->body, &create_table, &in, NULL, &err) != 0) { /* decoded before */
        kit_fail_decode(j->req, &err);
        return;
    }
    char id[ID_MAX + 1] = "ch_";
    rand_hex(id + 3, 12);
    int64_t now = clock_wall_ms();
    c->status = 201;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CHANNELS_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, in.app_id);
    store_bind_text(op, in.name);
    store_bind_text(op, in.kind);
    store_bind_text(op, c->config);
    store_bind_int(op, in.enabled < 0 ? 1 : in.enabled);
    store_bind_int(op, in.max_attempts == KIT_INT_ABSENT ? 5 : in.max_attempts);
    store_bind_int(op, in.rate_per_s == KIT_INT_ABSENT ? 0 : in.rate_per_s);
    store_bind_int(op, in.concurrency == KIT_INT_ABSENT ? 4 : in.concurrency);
    store_bind_int(op, now);
    store_bind_int(op, NOTIFY_CHANNELS_MAX);
    store_op_require_row(op);
    cJSON *d = audit_detail(in.name, in.kind);
    audit(op, j, in.app_id, "channel.create", id, d);
    cJSON_Delete(d);
    store_op_add(op, &SQL_CHANNELS_GET);
    store_bind_text(op, id);
    kit_store(j, op, KIT_WRITE, write_done);
}

static void create_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                           void *ud)
{
    struct ch_in in;
    cJSON *body = kit_body(req, &create_table, &in);
    if (body == NULL)
        return;
    if (!app_granted(apps_json, in.app_id)) {
        cJSON_Delete(body);
        http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    const struct notify_driver *d = notify_driver_find(in.kind);
    if (d == NULL) {
        cJSON_Delete(body);
        invalid(req, "kind", "must be a channel kind (inapp needs no channel)");
        return;
    }
    struct kit_job *j = job_new(req, ud, operator_id, apps_json);
    struct actx *c = j->ctx;
    c->body = body;
    if (!config_prepare(req, c, d, in.config, NULL)) {
        kit_job_end(j);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, in.app_id);
    kit_store(j, op, KIT_READ, create_write);
}

/* ---- PATCH /admin/channels/{id} */

static void patch_write(struct kit_job *j)
{
    struct actx *c = j->ctx;
    const struct store_rows *r = row_in_scope(j);
    if (r == NULL)
        return;
    struct ch_in in;
    struct kit_error err;
    if (kit_decode(c->body, &patch_table, &in, NULL, &err) != 0) {
        kit_fail_decode(j->req, &err);
        return;
    }
    snprintf(c->app, sizeof(c->app), "%s", store_rows_text(r, 0, C_APP));
    const char *kind = store_rows_text(r, 0, C_KIND);
    const struct notify_driver *d = notify_driver_find(kind);
    if (in.config != NULL) {
        if (d == NULL) {
            invalid(j->req, "config", "this channel's kind is not known to this server");
            return;
        }
        cJSON *stored = cJSON_Parse(store_rows_text(r, 0, C_CONFIG));
        bool ok = config_prepare(j->req, c, d, in.config, stored);
        cJSON_Delete(stored);
        if (!ok)
            return;
    }
    int64_t read_at = store_rows_int(r, 0, C_UPDATED);
    c->status = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CHANNELS_UPDATE);
    store_bind_text(op, c->app);
    store_bind_text(op, c->id);
    store_bind_text(op, in.name);
    store_bind_text(op, c->config);
    store_bind_int(op, in.enabled);
    store_bind_int(op, in.max_attempts == KIT_INT_ABSENT ? -1 : in.max_attempts);
    store_bind_int(op, in.rate_per_s == KIT_INT_ABSENT ? -1 : in.rate_per_s);
    store_bind_int(op, in.concurrency == KIT_INT_ABSENT ? -1 : in.concurrency);
    store_bind_int(op, clock_wall_ms());
    store_bind_int(op, read_at);
    store_op_require_row(op);
    cJSON *detail = audit_detail(in.name, NULL);
    cJSON_AddBoolToObject(detail, "config", in.config != NULL);
    audit(op, j, c->app, "channel.update", c->id, detail);
    cJSON_Delete(detail);
    store_op_add(op, &SQL_CHANNELS_GET);
    store_bind_text(op, c->id);
    kit_store(j, op, KIT_WRITE, write_done);
}

static void patch_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                          void *ud)
{
    struct ch_in in;
    cJSON *body = kit_body(req, &patch_table, &in);
    if (body != NULL)
        read_then(req, ud, operator_id, apps_json, body, patch_write);
}

/* ---- DELETE /admin/channels/{id} */

static void delete_write(struct kit_job *j)
{
    struct actx *c = j->ctx;
    const struct store_rows *r = row_in_scope(j);
    if (r == NULL)
        return;
    snprintf(c->app, sizeof(c->app), "%s", store_rows_text(r, 0, C_APP));
    cJSON *d = audit_detail(store_rows_text(r, 0, C_NAME), store_rows_text(r, 0, C_KIND));
    c->status = 204;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_CHANNELS_DELETE);
    store_bind_text(op, c->app);
    store_bind_text(op, c->id);
    store_op_require_row(op);
    audit(op, j, c->app, "channel.delete", c->id, d);
    cJSON_Delete(d);
    kit_store(j, op, KIT_WRITE, write_done);
}

static void delete_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                           void *ud)
{
    read_then(req, ud, operator_id, apps_json, NULL, delete_write);
}

/* ---- POST /admin/channels/{id}/test */

static const char *const outcome_names[] = {"sent", "retry", "permanent"};

static void test_done(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (j->status != 0) { /* the audit row */
        kit_fail_store(j, "channel", NULL);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "outcome", outcome_names[c->res.outcome]);
    cJSON_AddNumberToObject(o, "code", c->res.code);
    cJSON_AddStringToObject(o, "detail", c->res.detail);
    if (c->res.retry_after_s > 0)
        cJSON_AddNumberToObject(o, "retry_after_s", c->res.retry_after_s);
    if (c->res.provider_id[0] != '\0')
        cJSON_AddStringToObject(o, "provider_id", c->res.provider_id);
    respond(j->req, 200, o);
    cJSON_Delete(o);
}

static void test_sent(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (j->status != 0) { /* cancelled at shutdown */
        request_fail(j->req, ERR_UNAVAIL, "the server is stopping", NULL);
        return;
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "outcome", outcome_names[c->res.outcome]);
    cJSON_AddNumberToObject(d, "code", c->res.code);
    struct store_op *op = store_op_new();
    audit(op, j, c->app, "channel.test", c->id, d);
    cJSON_Delete(d);
    kit_store(j, op, KIT_WRITE, test_done);
}

/* Worker thread: the send itself, through the registry (the row read by the first step). */
static int test_work(struct kit_job *j)
{
    struct actx *c = j->ctx;
    if (workpool_is_cancelled())
        return ERR_UNAVAIL;
    const struct store_rows *r = store_result_step(j->res, 0);
    struct ch_in in;
    struct kit_error err;
    kit_decode(c->body, &test_table, &in, NULL, &err); /* decoded before: cannot fail */
    struct notify_channel_row row = {
        .id = store_rows_text(r, 0, C_ID),
        .app_id = store_rows_text(r, 0, C_APP),
        .kind = store_rows_text(r, 0, C_KIND),
        .config = store_rows_text(r, 0, C_CONFIG),
        .updated_at = store_rows_int(r, 0, C_UPDATED),
    };
    char delivery[ID_MAX + 8];
    if (in.delivery_id != NULL)
        snprintf(delivery, sizeof(delivery), "%s", in.delivery_id);
    else {
        memcpy(delivery, "test-", 5);
        rand_hex(delivery + 5, 12);
    }
    struct notify_msg m = {
        .app_id = row.app_id,
        .notification_id = delivery,
        .delivery_id = delivery,
        .type_code = in.type ? in.type : "",
        .title = in.title ? in.title : "Herald test message",
        .content = in.content ? in.content : "This is a test message sent from the Herald console.",
        .html = in.html,
        .data = in.data,
        .params = in.params,
        .address = in.to,
        .attempt = 1,
    };
    notify_channel_send(c->api->chs, &row, &m, &c->res);
    return 0;
}

static void test_read(struct kit_job *j)
{
    struct actx *c = j->ctx;
    const struct store_rows *r = row_in_scope(j);
    if (r == NULL)
        return;
    snprintf(c->app, sizeof(c->app), "%s", store_rows_text(r, 0, C_APP));
    if (!notify_driver_kind_is_known(store_rows_text(r, 0, C_KIND))) {
        invalid(j->req, "kind", "this channel's kind is not known to this server");
        return;
    }
    kit_work(j, WORKPOOL_LOW, 0, test_work, test_sent);
}

static void test_granted(struct http_req *req, const char *operator_id, const char *apps_json,
                         void *ud)
{
    struct ch_in in;
    cJSON *body = kit_body(req, &test_table, &in);
    if (body != NULL)
        read_then(req, ud, operator_id, apps_json, body, test_read);
}

/* ---- routes */

#define ROUTE(fn, perm)                                                                            \
    static void fn##_h(struct http_req *req, void *ud)                                             \
    {                                                                                              \
        struct notify_channels_api *api = ud;                                                      \
        console_authorize(api->id, req, perm, fn##_granted, api);                                  \
    }

ROUTE(list, READ_PERM)
ROUTE(get, READ_PERM)
ROUTE(create, WRITE_PERM)
ROUTE(patch, WRITE_PERM)
ROUTE(delete, WRITE_PERM)
ROUTE(test, WRITE_PERM)

struct notify_channels_api *notify_channels_api_new(struct identity *id,
                                                    struct notify_channels *chs)
{
    struct workpool *wp = workpool_new(TEST_THREADS, TEST_QUEUE);
    if (wp == NULL)
        return NULL;
    struct notify_channels_api *api = xcalloc(1, sizeof(*api));
    api->id = id;
    api->chs = chs;
    api->work = wp;
    return api;
}

void notify_channels_register(struct notify_channels_api *api, struct router *r)
{
    router_add(r, HTTP_M_GET, "/api/v1/admin/channels", list_h, api);
    router_add(r, HTTP_M_POST, "/api/v1/admin/channels", create_h, api);
    router_add(r, HTTP_M_GET, "/api/v1/admin/channels/{id}", get_h, api);
    router_add(r, HTTP_M_PATCH, "/api/v1/admin/channels/{id}", patch_h, api);
    router_add(r, HTTP_M_DELETE, "/api/v1/admin/channels/{id}", delete_h, api);
    router_add(r, HTTP_M_POST, "/api/v1/admin/channels/{id}/test", test_h, api);
}

void notify_channels_api_stop(struct notify_channels_api *api)
{
    if (api == NULL)
        return;
    notify_drivers_abort(); /* a send under way ends now, not after its timeouts */
    workpool_stop(api->work, true);
}

void notify_channels_api_free(struct notify_channels_api *api)
{
    if (api == NULL)
        return;
    workpool_free(api->work);
    free(api);
}
