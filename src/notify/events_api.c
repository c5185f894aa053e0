/*
 * The console's event webhooks (docs/notifications.md, "Event webhooks"):
 * /api/v1/admin/event-webhooks — list (?app_id=), create, get, update, delete; permission
 * apps:write (app-scoped, another app's webhook is a 404); every write audited. The secret is
 * sealed at rest (auth/secretbox under HERALD_ENCRYPTION_KEY) and masked when read; every
 * write reads back the enabled webhooks' events so this node's per-app flags (events.c) change
 * with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/secretbox.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "kit/paging.h"
#include "net/http.h"
#include "notify/admin_kit.h"
#include "notify/events.h"
#include "notify/http_out.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define PERM "apps:write"
#define EWH_MAX 10 /* webhooks per app */
#define SECRET_MIN 16
#define SECRET_MAX 256

/* the module (one server per process; set at registration) */
static struct notify_events *the_ev;

struct ewh_in {
    const char *app_id, *url, *secret;
    struct kit_array events;
    int enabled;
};

static const struct kit_field event_elem = {
    .kind = KIT_STRING, .min = 1, .max = 64, .message = "must be an event name"};

#define EWH_FIELDS(req)                                                                            \
    {.name = "url",                                                                                \
     .kind = KIT_STRING,                                                                           \
     .flags = req,                                                                                 \
     .min = 1,                                                                                     \
     .max = HTTP_OUT_URL_MAX,                                                                      \
     .at = KIT_AT(struct ewh_in, url),                                                             \
     .message = "must be an http(s) URL"},                                                         \
        {.name = "secret",                                                                         \
         .kind = KIT_STRING,                                                                       \
         .flags = req,                                                                             \
         .min = SECRET_MIN,                                                                        \
         .max = SECRET_MAX,                                                                        \
         .at = KIT_AT(struct ewh_in, secret),                                                      \
         .message = "must be a string of 16 to 256 characters"},                                   \
        {.name = "events",                                                                         \
         .kind = KIT_ARRAY,                                                                        \
         .flags = req,                                                                             \
         .min = 1,                                                                                 \
         .max = 3,                                                                                 \
         .at = KIT_AT(struct ewh_in, events),                                                      \
         .elem = &event_elem,                                                                      \
         .message = "must be an array of 1 to 3 event names"},                                     \
        {.name = "enabled", .kind = KIT_BOOL, .at = KIT_AT(struct ewh_in, enabled)},               \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const struct kit_field create_fields[] = {{.name = "app_id",
                                                  .kind = KIT_NAME,
                                                  .flags = KIT_REQUIRED,
                                                  .max = KIT_ID_MAX,
                                                  .at = KIT_AT(struct ewh_in, app_id),
                                                  .message = "must be an app id"},
                                                 EWH_FIELDS(KIT_REQUIRED)};
static const struct kit_table create_table = {.fields = create_fields};
static const struct kit_field patch_fields[] = {
    {.name = "app_id",
     .kind = KIT_STRING,
     .flags = KIT_REFUSED,
     .message = "cannot be changed: a webhook stays in its app"},
    EWH_FIELDS(0)};
static const struct kit_table patch_table = {.fields = patch_fields};

static const char *const known_events[] = {"message.created", "conversation.created",
                                           "delivery.status_changed"};

/* Checks the URL and the events; *events_text is the events as a JSON array (owned; NULL when
 * not given). False after answering. */
static bool ewh_check(struct http_req *req, const struct ewh_in *in, char **events_text)
{
    *events_text = NULL;
    char msg[160];
    if (in->url != NULL && !http_out_url_check(in->url, msg, sizeof(msg))) {
        notify__invalid(req, "url", msg);
        return false;
    }
    if (in->events.json == NULL)
        return true;
    cJSON *out = cJSON_CreateArray();
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, in->events.json)
    {
        bool known = false;
        for (size_t k = 0; k < sizeof(known_events) / sizeof(known_events[0]); k++)
            known = known || strcmp(e->valuestring, known_events[k]) == 0;
        bool dup = false;
        const cJSON *o;
        cJSON_ArrayForEach(o, out) dup = dup || strcmp(o->valuestring, e->valuestring) == 0;
        if (!known || dup) {
            char field[32];
            snprintf(field, sizeof(field), "events[%d]", i);
            notify__invalid(req, field,
                            dup ? "is listed twice"
                                : "must be message.created, conversation.created or "
                                  "delivery.status_changed");
            cJSON_Delete(out);
            return false;
        }
        cJSON_AddItemToArray(out, cJSON_CreateString(e->valuestring));
        i++;
    }
    *events_text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    return true;
}

/* The sealed secret (owned) or NULL after answering 500. */
static char *seal(struct kit_job *j, const char *secret)
{
    char *sealed = NULL;
    if (secretbox_seal(notify__events_key(the_ev), secret, strlen(secret), &sealed) != 0) {
        http_respond_err(j->req, ERR_BACKEND, "sealing the secret failed", NULL);
        return NULL;
    }
    return sealed;
}

/* Row i as JSON, the secret masked. */
static cJSON *ewh_json(const struct store_rows *r, int i)
{
    cJSON *o = console_row_json(r, i, "enabled", "events");
    cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "secret");
    char mask[SECRET_MASK_SIZE] = "****";
    uint8_t *plain = NULL;
    size_t n = 0;
    if (cJSON_IsString(s) &&
        secretbox_open(notify__events_key(the_ev), s->valuestring, &plain, &n) == 0) {
        secret_mask((const char *)plain, mask);
        free(plain);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(o, "secret", cJSON_CreateString(mask));
    return o;
}

static void ewh_done(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status == ERR_NOTFOUND && c->n1 == 201) { /* the insert's guard */
        static const struct nadm_why why = {&SQL_APPS_GET, 404, "no such app", "app_id",
                                            "an app has at most 10 event webhooks"};
        notify__adm_guard_failed(j, c->app_id, &why);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "event webhook", NULL);
        return;
    }
    /* the flags of this node follow the change at once */
    notify__events_flags_set(the_ev, store_result_step(j->res, c->n1 == 204 ? -1 : -2));
    if (c->n1 == 204) {
        http_respond(j->req, 204, NULL, "", 0);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, -1);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such event webhook", NULL);
        return;
    }
    notify__respond(j->req, (int)c->n1, ewh_json(r, 0));
}

static void flags_and_get(struct store_op *op, const char *id)
{
    store_op_add(op, &SQL_EVENT_WEBHOOKS_FLAGS);
    if (id != NULL) {
        store_op_add(op, &SQL_EVENT_WEBHOOKS_GET);
        store_bind_text(op, id);
    }
}

/* the audit detail: the body without its secret */
static cJSON *audit_detail(const struct nadm *c)
{
    cJSON *d = cJSON_Duplicate(c->body, true);
    if (cJSON_GetObjectItemCaseSensitive(d, "secret") != NULL)
        cJSON_ReplaceItemInObjectCaseSensitive(d, "secret", cJSON_CreateString("****"));
    return d;
}

static void ewh_create(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct ewh_in in;
    if (notify__adm_body(j, &create_table, &in) == NULL)
        return;
    if (!notify__adm_can(c, in.app_id)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    char *events;
    if (!ewh_check(j->req, &in, &events))
        return;
    char *sealed = seal(j, in.secret);
    if (sealed == NULL) {
        free(events);
        return;
    }
    char id[34] = "w";
    rand_hex(id + 1, 16);
    int64_t now = clock_wall_ms();
    c->n1 = 201;
    snprintf(c->app_id, sizeof(c->app_id), "%s", in.app_id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_EVENT_WEBHOOKS_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, in.app_id);
    store_bind_text(op, in.url);
    store_bind_text(op, sealed);
    store_bind_text(op, events);
    store_bind_int(op, in.enabled == 0 ? 0 : 1);
    store_bind_int(op, now);
    store_bind_int(op, EWH_MAX);
    store_op_require_row(op);
    cJSON *detail = audit_detail(c);
    notify__adm_audit(op, c, in.app_id, "event_webhook.create", id, detail);
    cJSON_Delete(detail);
    flags_and_get(op, id);
    free(sealed);
    free(events);
    kit_store(j, op, KIT_WRITE, ewh_done);
}

static void ewh_listed(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status != 0) {
        kit_fail_store(j, "event webhook", NULL);
        return;
    }
    const struct store_rows *count = store_result_step(j->res, 0);
    const struct store_rows *rows = store_result_step(j->res, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON *a =
        kit_page_envelope(o, count && count->nrows ? store_rows_int(count, 0, 0) : 0, c->n2, c->n3);
    for (int i = 0; rows != NULL && i < rows->nrows; i++)
        cJSON_AddItemToArray(a, ewh_json(rows, i));
    notify__respond(j->req, 200, o);
}

static void ewh_list(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    char abuf[80];
    const char *app;
    int64_t page, size;
    if (!notify__adm_app_filter(j, &app, abuf, sizeof(abuf)) ||
        !notify__paging(j->req, &page, &size))
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_EVENT_WEBHOOKS_COUNT);
    store_bind_text(op, c->apps_json);
    store_bind_text(op, app);
    store_op_add(op, &SQL_EVENT_WEBHOOKS_PAGE);
    store_bind_text(op, c->apps_json);
    store_bind_text(op, app);
    store_bind_int(op, size);
    store_bind_int(op, (page - 1) * size);
    c->n2 = page;
    c->n3 = size;
    kit_store(j, op, KIT_READ, ewh_listed);
}

static void ewh_got(struct kit_job *j)
{
    notify__respond(j->req, 200, ewh_json(store_result_step(j->res, 0), 0));
}

static void ewh_get(struct kit_job *j)
{
    notify__adm_load(j, &SQL_EVENT_WEBHOOKS_GET, "event webhook", ewh_got);
}

static void ewh_patch_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct ewh_in in;
    if (notify__adm_body(j, &patch_table, &in) == NULL)
        return;
    char *events;
    if (!ewh_check(j->req, &in, &events))
        return;
    char *sealed = NULL;
    if (in.secret != NULL && (sealed = seal(j, in.secret)) == NULL) {
        free(events);
        return;
    }
    c->n1 = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_EVENT_WEBHOOKS_UPDATE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    store_bind_text(op, in.url);
    store_bind_text(op, sealed);
    store_bind_text(op, events);
    store_bind_int(op, in.enabled);
    store_bind_int(op, clock_wall_ms());
    store_op_require_row(op);
    cJSON *detail = audit_detail(c);
    notify__adm_audit(op, c, c->app_id, "event_webhook.update", c->obj_id, detail);
    cJSON_Delete(detail);
    flags_and_get(op, c->obj_id);
    free(sealed);
    free(events);
    kit_store(j, op, KIT_WRITE, ewh_done);
}

static void ewh_patch(struct kit_job *j)
{
    notify__adm_load(j, &SQL_EVENT_WEBHOOKS_GET, "event webhook", ewh_patch_loaded);
}

static void ewh_delete_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct store_op *op =
        notify__adm_delete_op(c, &SQL_EVENT_WEBHOOKS_DELETE, "event_webhook.delete");
    flags_and_get(op, NULL);
    kit_store(j, op, KIT_WRITE, ewh_done);
}

static void ewh_delete(struct kit_job *j)
{
    notify__adm_load(j, &SQL_EVENT_WEBHOOKS_GET, "event webhook", ewh_delete_loaded);
}

static struct nadm_route r_list = {PERM, ewh_list, NULL};
static struct nadm_route r_create = {PERM, ewh_create, NULL};
static struct nadm_route r_get = {PERM, ewh_get, NULL};
static struct nadm_route r_patch = {PERM, ewh_patch, NULL};
static struct nadm_route r_delete = {PERM, ewh_delete, NULL};

void notify_events_register(struct notify_events *ev, struct router *r, struct identity *id)
{
    the_ev = ev;
    const char *p = "/api/v1/admin/event-webhooks", *pi = "/api/v1/admin/event-webhooks/{id}";
    notify__adm_add(r, id, HTTP_M_GET, p, &r_list);
    notify__adm_add(r, id, HTTP_M_POST, p, &r_create);
    notify__adm_add(r, id, HTTP_M_GET, pi, &r_get);
    notify__adm_add(r, id, HTTP_M_PATCH, pi, &r_patch);
    notify__adm_add(r, id, HTTP_M_DELETE, pi, &r_delete);
}
