/*
 * /admin/templates (issue 11, docs/notifications.md, "Templates (console)"): templates per
 * app, code, channel kind and locale ("" the default variant), each save a new numbered
 * version (made active unless "activate": false), the versions' list, one version, the line
 * diff of two versions, activating any version, and a preview that renders texts or a saved
 * version with sample parameters. Texts are checked with the template engine (template.h)
 * when saved: a syntax error is a 400 naming the field and the position. Reads and previews
 * need notifications:read, writes templates:write, on the template's app; writes are audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "net/http.h"
#include "notify/admin_kit.h"
#include "notify/template.h"
#include "notify/template_diff.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define PERM_READ "notifications:read"
#define PERM_WRITE "templates:write"

#define SUBJECT_MAX 1000        /* characters */
#define TEXT_MAX TPL_MAX_SOURCE /* bytes of a body or html */
#define PARAMS_MAX (64 * 1024)  /* bytes of a preview's params */
#define LOCALE_MAX 35
#define DIFF_CONTEXT 3

#define TPL_BOOLS ""
#define VERSION_BOOLS ""

/* ---- rules */

static bool code_ok(const char *s)
{
    return notify__code_is_valid(s);
}

static bool kind_ok(const char *s)
{
    return notify_kind_is_known(s);
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* "" (the default variant) or a language tag: 2-3 letters, then up to three parts of 1-8
 * letters or digits after '-' ("zh", "zh-CN", "zh-Hant-TW"). */
static bool locale_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return true;
    if (n > LOCALE_MAX)
        return false;
    size_t i = 0;
    while (i < n && s[i] != '-' && alnum(s[i]) && !(s[i] >= '0' && s[i] <= '9'))
        i++;
    if (i < 2 || i > 3)
        return false;
    int parts = 0;
    while (i < n) {
        if (s[i] != '-' || ++parts > 3)
            return false;
        size_t start = ++i;
        while (i < n && alnum(s[i]))
            i++;
        if (i - start < 1 || i - start > 8)
            return false;
    }
    return true;
}

/* Checks text (may be NULL) of field; false after answering. */
static bool text_check(struct http_req *req, const char *field, const char *text)
{
    if (text == NULL)
        return true;
    struct tpl_error e;
    memset(&e, 0, sizeof(e));
    int rc = tpl_check(text, strlen(text), &e);
    if (rc == ERR_TOOBIG) {
        notify__invalid(req, field, "must be at most 65536 bytes");
        return false;
    }
    if (rc != 0) {
        notify__tpl_syntax_error(req, field, &e);
        return false;
    }
    return true;
}

/* ---- the decoder */

struct tpl_in {
    const char *app_id, *code, *channel_kind, *locale, *subject, *body;
    const cJSON *html;
    int activate;
};

#define TEXT_FIELDS(body_flags)                                                                    \
    {.name = "subject",                                                                            \
     .kind = KIT_STRING,                                                                           \
     .max = SUBJECT_MAX,                                                                           \
     .at = KIT_AT(struct tpl_in, subject),                                                         \
     .message = "must be a string of at most 1000 characters"},                                    \
        {.name = "body",                                                                           \
         .kind = KIT_STRING,                                                                       \
         .flags = (body_flags) | KIT_BYTES,                                                        \
         .max = TEXT_MAX,                                                                          \
         .at = KIT_AT(struct tpl_in, body),                                                        \
         .message = "must be a string of at most 65536 bytes"},                                    \
        {.name = "html", .kind = KIT_JSON, .at = KIT_AT(struct tpl_in, html)},                     \
        {.name = "activate", .kind = KIT_BOOL, .at = KIT_AT(struct tpl_in, activate)},             \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const struct kit_field create_fields[] = {
    {.name = "app_id",
     .kind = KIT_NAME,
     .flags = KIT_REQUIRED,
     .max = KIT_ID_MAX,
     .at = KIT_AT(struct tpl_in, app_id),
     .message = "must be an app id"},
    {.name = "code",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .min = 1,
     .max = 64,
     .at = KIT_AT(struct tpl_in, code),
     .message = "must be 1-64 of [a-z0-9_.:-]"},
    {.name = "channel_kind",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .min = 1,
     .max = 32,
     .at = KIT_AT(struct tpl_in, channel_kind),
     .message = "must be a channel kind: " NOTIFY_KINDS_TEXT},
    {.name = "locale",
     .kind = KIT_STRING,
     .max = LOCALE_MAX,
     .at = KIT_AT(struct tpl_in, locale),
     .message = "must be \"\" or a language tag such as \"zh-CN\""},
    TEXT_FIELDS(KIT_REQUIRED)};
static const struct kit_table create_table = {.fields = create_fields};

static const struct kit_field save_fields[] = {
    {.name = "app_id", .kind = KIT_STRING, .flags = KIT_REFUSED},
    {.name = "code",
     .kind = KIT_STRING,
     .flags = KIT_REFUSED,
     .message = "cannot be changed: a template is keyed by app, code, channel kind and locale"},
    {.name = "channel_kind",
     .kind = KIT_STRING,
     .flags = KIT_REFUSED,
     .message = "cannot be changed: a template is keyed by app, code, channel kind and locale"},
    {.name = "locale",
     .kind = KIT_STRING,
     .flags = KIT_REFUSED,
     .message = "cannot be changed: a template is keyed by app, code, channel kind and locale"},
    TEXT_FIELDS(0)};
static const struct kit_table save_table = {.fields = save_fields};

/* The texts' checks the decoder cannot make: html null or a bounded string, and the syntax.
 * *html set (NULL: none). False after answering. */
static bool texts_check(struct http_req *req, const struct tpl_in *in, const char **html)
{
    *html = NULL;
    if (in->html != NULL && !cJSON_IsNull(in->html)) {
        if (!cJSON_IsString(in->html) || strlen(in->html->valuestring) > TEXT_MAX) {
            notify__invalid(req, "html", "must be null or a string of at most 65536 bytes");
            return false;
        }
        *html = in->html->valuestring;
    }
    return text_check(req, "subject", in->subject) && text_check(req, "body", in->body) &&
           text_check(req, "html", *html);
}

/* Appends the new version's steps (bump, add) and the audit to op. */
static void add_version(struct store_op *op, const struct nadm *c, const char *app, const char *id,
                        const struct tpl_in *in, const char *html, const char *action)
{
    int64_t now = clock_wall_ms();
    store_op_add(op, &SQL_TEMPLATES_BUMP);
    store_bind_text(op, app);
    store_bind_text(op, id);
    store_bind_int(op, in->activate != 0);
    store_bind_int(op, now);
    store_op_require_row(op);
    store_op_add(op, &SQL_TEMPLATE_VERSIONS_ADD);
    store_bind_text(op, id);
    store_bind_text(op, in->subject);
    store_bind_text(op, in->body);
    store_bind_text(op, html);
    store_bind_int(op, now);
    store_bind_text(op, c->op_id);
    store_bind_int(op, in->html != NULL);
    store_op_require_row(op);
    /* the audit keeps what changed, not the texts (they are in the version) */
    cJSON *d = cJSON_CreateObject();
    cJSON_AddBoolToObject(d, "subject", in->subject != NULL);
    cJSON_AddBoolToObject(d, "body", in->body != NULL);
    cJSON_AddBoolToObject(d, "html", in->html != NULL);
    cJSON_AddBoolToObject(d, "activate", in->activate != 0);
    notify__adm_audit(op, c, app, action, id, d);
    cJSON_Delete(d);
    store_op_add(op, &SQL_TEMPLATES_GET);
    store_bind_text(op, id);
}

static void tpl_done(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status == ERR_NOTFOUND && c->n1 == 201) { /* the insert's guard */
        static const struct nadm_why why = {&SQL_APPS_GET, 404, "no such app", "app_id",
                                            "an app has at most 10000 templates"};
        notify__adm_guard_failed(j, c->app_id, &why);
        return;
    }
    if (j->status == ERR_EXISTS) {
        http_respond_error(j->req, 409, "conflict",
                           "a template with this code, channel kind and locale exists", "code");
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, c->what ? c->what : "template", NULL);
        return;
    }
    if (c->n1 == 204) {
        http_respond(j->req, 204, NULL, "", 0);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, -1);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such template", NULL);
        return;
    }
    notify__respond(j->req, (int)c->n1, console_row_json(r, 0, TPL_BOOLS, NULL));
}

/* ---- POST /admin/templates */

static void tpl_create(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct tpl_in in;
    if (notify__adm_body(j, &create_table, &in) == NULL)
        return;
    if (!notify__adm_can(c, in.app_id)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    if (!notify__code_is_valid(in.code)) {
        notify__invalid(j->req, "code", "must be 1-64 of [a-z0-9_.:-]");
        return;
    }
    if (!notify_kind_is_known(in.channel_kind)) {
        notify__invalid(j->req, "channel_kind", "must be a channel kind: " NOTIFY_KINDS_TEXT);
        return;
    }
    if (in.locale && !locale_ok(in.locale)) {
        notify__invalid(j->req, "locale", "must be \"\" or a language tag such as \"zh-CN\"");
        return;
    }
    const char *html;
    if (!texts_check(j->req, &in, &html))
        return;
    if (in.subject == NULL)
        in.subject = "";
    char id[34] = "m";
    rand_hex(id + 1, 16);
    c->n1 = 201;
    snprintf(c->app_id, sizeof(c->app_id), "%s", in.app_id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATES_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, in.app_id);
    store_bind_text(op, in.code);
    store_bind_text(op, in.channel_kind);
    store_bind_text(op, in.locale ? in.locale : "");
    store_bind_int(op, clock_wall_ms());
    store_bind_int(op, NOTIFY_TEMPLATES_MAX);
    store_op_require_row(op);
    add_version(op, c, in.app_id, id, &in, html, "template.create");
    kit_store(j, op, KIT_WRITE, tpl_done);
}

/* ---- GET /admin/templates, GET /admin/templates/{id} */

static const struct notify_filter tpl_filters[] = {
    {.name = "code", .size = 80, .ok = code_ok},
    {.name = "channel_kind", .size = 48, .ok = kind_ok},
    {.name = "locale", .size = 48, .ok = locale_ok},
};

static void tpl_list(struct kit_job *j)
{
    notify__adm_list_filtered(j, &SQL_TEMPLATES_COUNT, &SQL_TEMPLATES_PAGE, tpl_filters,
                              sizeof(tpl_filters) / sizeof(tpl_filters[0]), TPL_BOOLS, NULL);
}

static void tpl_got(struct kit_job *j)
{
    notify__respond(j->req, 200,
                    console_row_json(store_result_step(j->res, 0), 0, TPL_BOOLS, NULL));
}

static void tpl_get(struct kit_job *j)
{
    notify__adm_load(j, &SQL_TEMPLATES_GET, "template", tpl_got);
}

/* ---- PUT/PATCH /admin/templates/{id}: a new version */

static void tpl_save_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct tpl_in in;
    if (notify__adm_body(j, &save_table, &in) == NULL)
        return;
    if (in.subject == NULL && in.body == NULL && in.html == NULL) {
        notify__invalid(j->req, "body", "give at least one of subject, body and html");
        return;
    }
    const char *html;
    if (!texts_check(j->req, &in, &html))
        return;
    c->n1 = 200;
    struct store_op *op = store_op_new();
    add_version(op, c, c->app_id, c->obj_id, &in, html, "template.save");
    kit_store(j, op, KIT_WRITE, tpl_done);
}

static void tpl_save(struct kit_job *j)
{
    notify__adm_load(j, &SQL_TEMPLATES_GET, "template", tpl_save_loaded);
}

/* ---- DELETE /admin/templates/{id} */

static void tpl_delete_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    kit_store(j, notify__adm_delete_op(c, &SQL_TEMPLATES_DELETE, "template.delete"), KIT_WRITE,
              tpl_done);
}

static void tpl_delete(struct kit_job *j)
{
    notify__adm_load(j, &SQL_TEMPLATES_GET, "template", tpl_delete_loaded);
}

/* ---- POST /admin/templates/{id}/activate */

struct activate_in {
    int64_t version;
};
static const struct kit_field activate_fields[] = {{.name = "version",
                                                    .kind = KIT_INT,
                                                    .flags = KIT_REQUIRED,
                                                    .min = 1,
                                                    .max = INT32_MAX,
                                                    .at = KIT_AT(struct activate_in, version),
                                                    .message = "must be a version number from 1"},
                                                   {.name = NULL}};
static const struct kit_table activate_table = {.fields = activate_fields};

static void tpl_activate_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct activate_in in;
    if (notify__adm_body(j, &activate_table, &in) == NULL)
        return;
    c->n1 = 200;
    c->what = "template version";
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATES_ACTIVATE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    store_bind_int(op, in.version);
    store_bind_int(op, clock_wall_ms());
    store_op_require_row(op);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "version", (double)in.version);
    notify__adm_audit(op, c, c->app_id, "template.activate", c->obj_id, d);
    cJSON_Delete(d);
    store_op_add(op, &SQL_TEMPLATES_GET);
    store_bind_text(op, c->obj_id);
    kit_store(j, op, KIT_WRITE, tpl_done);
}

static void tpl_activate(struct kit_job *j)
{
    notify__adm_load(j, &SQL_TEMPLATES_GET, "template", tpl_activate_loaded);
}

/* ---- versions */

static void versions_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    int64_t page, size;
    if (!notify__paging(j->req, &page, &size))
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATE_VERSIONS_COUNT);
    store_bind_text(op, c->obj_id);
    store_op_add(op, &SQL_TEMPLATE_VERSIONS_PAGE);
    store_bind_text(op, c->obj_id);
    store_bind_int(op, size);
    store_bind_int(op, (page - 1) * size);
    notify__adm_list(j, op, page, size, VERSION_BOOLS, NULL);
}

static void tpl_versions(struct kit_job *j)
{
    notify__adm_load(j, &SQL_TEMPLATES_GET, "template", versions_loaded);
}

/* The path's or query's version number n (1..); 0 after answering 404/422. */
static int64_t version_number(struct http_req *req, const char *text, const char *field)
{
    char *end = NULL;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (text == NULL || *text == '\0' || *end != '\0' || v < 1 || v > INT32_MAX) {
        if (field == NULL)
            http_respond_err(req, ERR_NOTFOUND, "no such template version", NULL);
        else
            notify__invalid(req, field, "must be a version number from 1");
        return 0;
    }
    return v;
}

static void version_got(struct kit_job *j)
{
    if (j->status != 0) {
        kit_fail_store(j, "template version", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such template version", NULL);
        return;
    }
    notify__respond(j->req, 200, console_row_json(r, 0, VERSION_BOOLS, NULL));
}

static void version_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    int64_t v = version_number(j->req, http_req_param(j->req, "n"), NULL);
    if (v == 0)
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATE_VERSIONS_GET);
    store_bind_text(op, c->obj_id);
    store_bind_int(op, v);
    kit_store(j, op, KIT_READ, version_got);
}

static void tpl_version(struct kit_job *j)
{
    notify__adm_load(j, &SQL_TEMPLATES_GET, "template", version_loaded);
}

/* ---- GET /admin/templates/{id}/diff?from=&to= */

/* {"lines": [{"op", "text"}], "unified": "..."} of one text of the two versions. */
static cJSON *diff_json(const char *a, const char *b, const char *name, int64_t from, int64_t to)
{
    struct notify_diff_line *l = NULL;
    size_t n = notify_diff_lines(a, b, &l);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "lines");
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        char op[2] = {l[i].op, '\0'};
        cJSON_AddStringToObject(e, "op", op);
        char *t = strndup(l[i].text, l[i].len);
        cJSON_AddStringToObject(e, "text", t);
        free(t);
        cJSON_AddItemToArray(arr, e);
    }
    char fl[96], tl[96];
    snprintf(fl, sizeof(fl), "v%lld/%s", (long long)from, name);
    snprintf(tl, sizeof(tl), "v%lld/%s", (long long)to, name);
    struct buf u;
    buf_init(&u);
    notify_diff_unified(l, n, fl, tl, DIFF_CONTEXT, &u);
    buf_putc(&u, '\0');
    cJSON_AddStringToObject(o, "unified", u.data);
    buf_release(&u);
    cJSON_AddBoolToObject(o, "changed", strcmp(a ? a : "", b ? b : "") != 0 || (!a) != (!b));
    free(l);
    return o;
}

static void diff_got(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status != 0) {
        kit_fail_store(j, "template version", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    int fi = -1, ti = -1;
    for (int i = 0; r && i < r->nrows; i++) {
        if (store_rows_int(r, i, 0) == c->n2)
            fi = i;
        if (store_rows_int(r, i, 0) == c->n3)
            ti = i;
    }
    if (fi < 0 || ti < 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such template version", fi < 0 ? "from" : "to");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "template_id", c->obj_id);
    cJSON_AddNumberToObject(o, "from", (double)c->n2);
    cJSON_AddNumberToObject(o, "to", (double)c->n3);
    static const char *const names[] = {"subject", "body", "html"};
    for (int k = 0; k < 3; k++)
        cJSON_AddItemToObject(o, names[k],
                              diff_json(store_rows_text(r, fi, 1 + k),
                                        store_rows_text(r, ti, 1 + k), names[k], c->n2, c->n3));
    notify__respond(j->req, 200, o);
}

static void diff_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    char fb[24], tb[24];
    int fl = http_req_query_param(j->req, "from", fb, sizeof(fb));
    int tl = http_req_query_param(j->req, "to", tb, sizeof(tb));
    if ((c->n2 = version_number(j->req, fl >= 0 && (size_t)fl < sizeof(fb) ? fb : NULL, "from")) ==
            0 ||
        (c->n3 = version_number(j->req, tl >= 0 && (size_t)tl < sizeof(tb) ? tb : NULL, "to")) == 0)
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATE_VERSIONS_PAIR);
    store_bind_text(op, c->obj_id);
    store_bind_int(op, c->n2);
    store_bind_int(op, c->n3);
    kit_store(j, op, KIT_READ, diff_got);
}

static void tpl_diff(struct kit_job *j)
{
    notify__adm_load(j, &SQL_TEMPLATES_GET, "template", diff_loaded);
}

/* ---- routes */

static struct nadm_route r_list = {PERM_READ, tpl_list, NULL};
static struct nadm_route r_create = {PERM_WRITE, tpl_create, NULL};
static struct nadm_route r_preview = {PERM_READ, notify__tpl_preview, NULL};
static struct nadm_route r_get = {PERM_READ, tpl_get, NULL};
static struct nadm_route r_save = {PERM_WRITE, tpl_save, NULL};
static struct nadm_route r_delete = {PERM_WRITE, tpl_delete, NULL};
static struct nadm_route r_versions = {PERM_READ, tpl_versions, NULL};
static struct nadm_route r_version = {PERM_READ, tpl_version, NULL};
static struct nadm_route r_diff = {PERM_READ, tpl_diff, NULL};
static struct nadm_route r_activate = {PERM_WRITE, tpl_activate, NULL};

void notify__templates_register(struct router *r, struct identity *id)
{
    const char *base = "/api/v1/admin/templates";
    notify__adm_add(r, id, HTTP_M_GET, base, &r_list);
    notify__adm_add(r, id, HTTP_M_POST, base, &r_create);
    notify__adm_add(r, id, HTTP_M_POST, "/api/v1/admin/templates/preview", &r_preview);
    notify__adm_add(r, id, HTTP_M_POST, "/api/v1/admin/templates/{id}/preview", &r_preview);
    notify__adm_add(r, id, HTTP_M_GET, "/api/v1/admin/templates/{id}", &r_get);
    notify__adm_add(r, id, HTTP_M_PUT | HTTP_M_PATCH, "/api/v1/admin/templates/{id}", &r_save);
    notify__adm_add(r, id, HTTP_M_DELETE, "/api/v1/admin/templates/{id}", &r_delete);
    notify__adm_add(r, id, HTTP_M_GET, "/api/v1/admin/templates/{id}/versions", &r_versions);
    notify__adm_add(r, id, HTTP_M_GET, "/api/v1/admin/templates/{id}/versions/{n}", &r_version);
    notify__adm_add(r, id, HTTP_M_GET, "/api/v1/admin/templates/{id}/diff", &r_diff);
    notify__adm_add(r, id, HTTP_M_POST, "/api/v1/admin/templates/{id}/activate", &r_activate);
}
