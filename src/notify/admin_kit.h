/*
 * Shared by the notification configuration's console files (types.c, templates.c,
 * subscriptions.c, nodes.c): the operator check through console_authorize (an app-scoped
 * permission: the handler checks each object's app with notify__adm_can, another app's object
 * is a 404), the request context on the kit job, the load-then-check step for /{id} routes,
 * audit rows, paging and JSON helpers. Loop thread unless said otherwise.
 */
#ifndef HERALD_NOTIFY_ADMIN_KIT_H
#define HERALD_NOTIFY_ADMIN_KIT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "console/console.h" /* console_row_json, console_page_json */
#include "notify/driver.h"   /* notify_kind_is_known */
#include "kit/decode.h"
#include "kit/job.h"

struct http_req;
struct identity;
struct router;
struct store_op;
struct store_rows;
struct store_sql;
struct nadm_why;

#define NOTIFY_TYPES_MAX 1000      /* message types per app */
#define NOTIFY_PAIRS_MAX 64        /* channel pairs per message type */
#define NOTIFY_TEMPLATES_MAX 10000 /* templates per app (every variant counts) */
#define NOTIFY_SUBS_MAX 1000       /* explicit subscription choices per user */

/* The rule of message type and template codes: 1-64 of [a-z0-9_.:-]. */
bool notify__code_is_valid(const char *s);
/* Channel kinds: notify_kind_is_known and NOTIFY_KINDS_TEXT (notify/driver.h). */

/* A console route: its handler runs as the first step of a kit job whose context is a
 * struct nadm, after the operator was found to hold perm on at least one app. */
struct nadm_route {
    const char *perm;
    kit_fn fn;
    struct identity *id; /* set by notify__adm_add */
};

/* What a console request carries across its steps. */
struct nadm {
    struct identity *id;        /* borrowed */
    char op_id[40];             /* the operator */
    char ip[64];                /* its address, for the audit */
    char *apps_json;            /* owned: the apps it may use perm on; NULL: all */
    cJSON *apps;                /* owned: the same, parsed (NULL: all) */
    char app_id[130];           /* the app of the object (notify__adm_load) */
    char obj_id[130];           /* the path's {id} */
    const char *what;           /* the object's name for a 404 ("message type") */
    kit_fn then;                /* after notify__adm_load */
    cJSON *body;                /* owned: the decoded request body */
    cJSON *extra;               /* owned: handler JSON */
    char *text;                 /* owned: handler text */
    int64_t n1, n2, n3;         /* handler numbers */
    const char *bools, *jsons;  /* notify__adm_list: the columns' JSON types */
    const struct nadm_why *why; /* notify__adm_guard_failed */
    bool app_named;             /* a list narrowed by ?app_id=: its last step reads the app */
};

static inline struct nadm *notify__adm(const struct kit_job *j)
{
    return j->ctx;
}

/* Adds the route (method, pattern) for rt (static storage; its id is set to id). */
void notify__adm_add(struct router *r, struct identity *id, int method, const char *pattern,
                     struct nadm_route *rt);

/* Why an insert's guard kept it out: the parent read with sql (?1 the parent's id) is missing
 * or not in c->app_id (then missing_status with missing_msg naming missing_field), or it is
 * there and full (409 limit_msg). */
struct nadm_why {
    const struct store_sql *sql;
    int missing_status;
    const char *missing_msg, *missing_field, *limit_msg;
};

/* Finds out and answers why the guarded insert of an op failed with ERR_NOTFOUND (w static). */
void notify__adm_guard_failed(struct kit_job *j, const char *parent_id, const struct nadm_why *w);

/* Whether the operator may use the route's permission on app_id. */
bool notify__adm_can(const struct nadm *c, const char *app_id);

/*
 * The /{id} step: copies the path's {id} into c->obj_id (404 when it is not id-like), reads
 * sql (?1 the id; its result has an app_id column) and, when the row exists and its app is in
 * scope, sets c->app_id and runs next with the row in store_result_step(j->res, 0); otherwise
 * answers 404 "no such <what>".
 */
void notify__adm_load(struct kit_job *j, const struct store_sql *sql, const char *what,
                      kit_fn next);

/* The app a list is filtered on: the query's app_id (NULL when absent). False after answering
 * (422 when malformed, 404 when out of scope). */
bool notify__adm_app_filter(struct kit_job *j, const char **app_id, char *buf, size_t n);

/* The optional query filter name (NULL when absent) of at most max bytes passing ok (NULL: any);
 * false after answering 422 naming it. */
bool notify__query_text(struct http_req *req, const char *name, char *buf, size_t n,
                        bool (*ok)(const char *), const char **out);

/* An audit_log row for the operator's action in op. detail may be NULL. */
void notify__adm_audit(struct store_op *op, const struct nadm *c, const char *app_id,
                       const char *action, const char *target, const cJSON *detail);

/* The write of a DELETE /admin/.../{id} whose object notify__adm_load found: sql (bound with
 * the app and c->obj_id, a required row) and its audit row `action`; answered 204 (c->n1).
 * The caller may add steps, then submits it. */
struct store_sql;
struct store_op *notify__adm_delete_op(struct nadm *c, const struct store_sql *sql,
                                       const char *action);

/* page and page_size from the query (1.., 1..100, default 20); false after answering 422. */
bool notify__paging(struct http_req *req, int64_t *page, int64_t *page_size);

/* Rows become JSON with console_row_json and console_page_json (console/console.h). */

/* Runs op (a count step, then a page step) and answers {"count","results","page","page_size"}
 * with the columns named in bools and jsons (static strings) typed as in console_row_json. */
void notify__adm_list(struct kit_job *j, struct store_op *op, int64_t page, int64_t page_size,
                      const char *bools, const char *jsons);

/* One optional query filter of a console list: a text (bound as text, NULL when absent) of
 * fewer than size bytes passing ok (NULL: any), or with boolean set "true"/"false" (bound as
 * 1/0, -1 when absent). */
struct notify_filter {
    const char *name;
    size_t size;
    bool (*ok)(const char *);
    bool boolean;
};
#define NOTIFY_FILTERS_MAX 6

/*
 * A console list (GET /admin/…): reads the app filter, the n filters f and the paging, answering
 * 422 naming the first bad one; then count and page_sql (each bound with the operator's apps,
 * the app, then the filters in order; page_sql also with the limit and the offset) run as
 * notify__adm_list does.
 */
void notify__adm_list_filtered(struct kit_job *j, const struct store_sql *count,
                               const struct store_sql *page_sql, const struct notify_filter *f,
                               size_t n, const char *bools, const char *jsons);

/* Answers v (freed) as JSON. */
void notify__respond(struct http_req *req, int status, cJSON *v);
/* 422 validation_failed naming field. */
void notify__invalid(struct http_req *req, const char *field, const char *message);
/* A body decoded against t, or NULL after answering; stored in c->body. */
cJSON *notify__adm_body(struct kit_job *j, const struct kit_table *t, void *out);

/* Templates (templates.c, template_preview.c): answers a syntax error of field as 400
 * invalid_template with the message and the position (offset, line, column). */
struct tpl_error;
void notify__tpl_syntax_error(struct http_req *req, const char *field, const struct tpl_error *e);
/* POST /admin/templates/preview, the first step of its job. */
void notify__tpl_preview(struct kit_job *j);

/* Route registration of each file (notify.c calls them). */
void notify__types_register(struct router *r, struct identity *id);
void notify__templates_register(struct router *r, struct identity *id);
void notify__subscriptions_register(struct router *r, struct identity *id);
void notify__nodes_register(struct router *r, struct identity *id);

#endif
