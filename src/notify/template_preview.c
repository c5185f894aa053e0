/*
 * POST /admin/templates/preview (docs/notifications.md, "Templates (console)"): renders the
 * texts given, or a saved template's active or named version (template_id, or the {id} of
 * POST /admin/templates/{id}/preview), with sample parameters, and
 * saves nothing: subject and body without escaping, html with HTML escaping. Syntax errors
 * answer 400 with the field and the position (notify__tpl_syntax_error, also used on save).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "net/http.h"
#include "notify/admin_kit.h"
#include "notify/template.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define SUBJECT_MAX 1000        /* characters */
#define TEXT_MAX TPL_MAX_SOURCE /* bytes of a body or html */
#define PARAMS_MAX (64 * 1024)  /* bytes of a preview's params */

/* Answers a syntax error of field: 400 invalid_template with the position. */
void notify__tpl_syntax_error(struct http_req *req, const char *field, const struct tpl_error *e)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "template syntax error at line %u, column %u: %s", e->line, e->col,
             e->message);
    cJSON *o = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(err, "code", "invalid_template");
    cJSON_AddStringToObject(err, "message", msg);
    cJSON_AddStringToObject(err, "field", field);
    cJSON *pos = cJSON_AddObjectToObject(err, "position");
    cJSON_AddNumberToObject(pos, "offset", (double)e->offset);
    cJSON_AddNumberToObject(pos, "line", e->line);
    cJSON_AddNumberToObject(pos, "column", e->col);
    notify__respond(req, 400, o);
}

/* ---- POST /admin/templates/preview */

struct preview_in {
    const char *template_id, *subject, *body, *channel_kind;
    const cJSON *html, *params;
    int64_t version;
};
static const struct kit_field preview_fields[] = {
    {.name = "template_id",
     .kind = KIT_NAME,
     .max = KIT_ID_MAX,
     .at = KIT_AT(struct preview_in, template_id),
     .message = "must be a template id"},
    {.name = "version",
     .kind = KIT_INT,
     .min = 1,
     .max = INT32_MAX,
     .at = KIT_AT(struct preview_in, version),
     .message = "must be a version number from 1"},
    {.name = "subject",
     .kind = KIT_STRING,
     .max = SUBJECT_MAX,
     .at = KIT_AT(struct preview_in, subject),
     .message = "must be a string of at most 1000 characters"},
    {.name = "body",
     .kind = KIT_STRING,
     .flags = KIT_BYTES,
     .max = TEXT_MAX,
     .at = KIT_AT(struct preview_in, body),
     .message = "must be a string of at most 65536 bytes"},
    {.name = "html", .kind = KIT_JSON, .at = KIT_AT(struct preview_in, html)},
    {.name = "params",
     .kind = KIT_OBJECT,
     .max = PARAMS_MAX,
     .at = KIT_AT(struct preview_in, params),
     .message = "must be an object of at most 65536 bytes"},
    {.name = "channel_kind",
     .kind = KIT_STRING,
     .min = 1,
     .max = 32,
     .at = KIT_AT(struct preview_in, channel_kind),
     .message = "must be a channel kind"},
    {.name = NULL}};
static const struct kit_table preview_table = {.fields = preview_fields};

/* Renders text (NULL: null) of field into o[field]; false after answering. */
static bool render_into(struct http_req *req, cJSON *o, const char *field, const char *text,
                        const cJSON *params, enum tpl_escape esc)
{
    if (text == NULL) {
        cJSON_AddNullToObject(o, field);
        return true;
    }
    struct tpl *t = NULL;
    struct tpl_error e;
    memset(&e, 0, sizeof(e));
    int rc = tpl_compile(text, strlen(text), &t, &e);
    if (rc == ERR_TOOBIG) {
        notify__invalid(req, field, "must be at most 65536 bytes");
        return false;
    }
    if (rc != 0) {
        notify__tpl_syntax_error(req, field, &e);
        return false;
    }
    struct buf out;
    buf_init(&out);
    rc = tpl_render(t, params, esc, TPL_MAX_OUTPUT, &out);
    tpl_free(t);
    if (rc != 0) {
        buf_release(&out);
        notify__invalid(req, "params", "the rendering is over 256 KiB or too much work");
        return false;
    }
    buf_putc(&out, '\0');
    cJSON_AddStringToObject(o, field, out.data);
    buf_release(&out);
    return true;
}

/* Answers the rendering of subject, body (no escaping) and html (HTML escaping). */
static void preview_respond(struct kit_job *j, const char *subject, const char *body,
                            const char *html, const cJSON *params)
{
    cJSON *o = cJSON_CreateObject();
    if (!render_into(j->req, o, "subject", subject, params, TPL_ESCAPE_NONE) ||
        !render_into(j->req, o, "body", body, params, TPL_ESCAPE_NONE) ||
        !render_into(j->req, o, "html", html, params, TPL_ESCAPE_HTML)) {
        cJSON_Delete(o);
        return;
    }
    notify__respond(j->req, 200, o);
}

static void preview_loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status != 0) {
        kit_fail_store(j, "template", NULL);
        return;
    }
    const struct store_rows *t = store_result_step(j->res, 0);
    int app_col = t ? store_rows_col(t, "app_id") : -1;
    if (t == NULL || t->nrows == 0 || app_col < 0 ||
        !notify__adm_can(c, store_rows_text(t, 0, app_col))) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such template", "template_id");
        return;
    }
    const struct store_rows *v = t;
    int row = 0, base = store_rows_col(t, "subject");
    if (c->n2 > 0) { /* a given version */
        v = store_result_step(j->res, 1);
        base = 1;
        if (v == NULL || v->nrows == 0) {
            http_respond_err(j->req, ERR_NOTFOUND, "no such template version", "version");
            return;
        }
    } else if (store_rows_int(t, 0, store_rows_col(t, "active_version")) == 0) {
        notify__invalid(j->req, "version", "the template has no active version: name one");
        return;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(c->body, "params");
    preview_respond(j, store_rows_text(v, row, base), store_rows_text(v, row, base + 1),
                    store_rows_text(v, row, base + 2), params);
}

void notify__tpl_preview(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    struct preview_in in;
    if (notify__adm_body(j, &preview_table, &in) == NULL)
        return;
    if (in.channel_kind && !notify_kind_is_known(in.channel_kind)) {
        notify__invalid(j->req, "channel_kind", "must be a channel kind: " NOTIFY_KINDS_TEXT);
        return;
    }
    const char *path_id = http_req_param(j->req, "id"); /* POST /admin/templates/{id}/preview */
    if (path_id != NULL) {
        if (in.template_id != NULL && strcmp(in.template_id, path_id) != 0) {
            notify__invalid(j->req, "template_id", "differs from the template of the path");
            return;
        }
        in.template_id = path_id;
    }
    bool texts = in.subject != NULL || in.body != NULL || in.html != NULL;
    if (in.template_id == NULL) {
        if (!texts) {
            notify__invalid(j->req, "body",
                            "give template_id or at least one of subject, body "
                            "and html");
            return;
        }
        if (in.version != KIT_INT_ABSENT) {
            notify__invalid(j->req, "version", "needs template_id");
            return;
        }
        const char *html = NULL;
        if (in.html != NULL && !cJSON_IsNull(in.html)) {
            if (!cJSON_IsString(in.html) || strlen(in.html->valuestring) > TEXT_MAX) {
                notify__invalid(j->req, "html", "must be null or a string of at most 65536 bytes");
                return;
            }
            html = in.html->valuestring;
        }
        preview_respond(j, in.subject, in.body, html, in.params);
        return;
    }
    if (texts) {
        notify__invalid(j->req, "template_id", "give either template_id or the texts, not both");
        return;
    }
    c->n2 = in.version == KIT_INT_ABSENT ? 0 : in.version;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TEMPLATES_GET);
    store_bind_text(op, in.template_id);
    if (c->n2 > 0) {
        store_op_add(op, &SQL_TEMPLATE_VERSIONS_GET);
        store_bind_text(op, in.template_id);
        store_bind_int(op, c->n2);
    }
    kit_store(j, op, KIT_READ, preview_loaded);
}
