/*
 * Shared inside src/console/: the operator principal, permission checks, the
 * request context on the kit job (kit/job.h), audit entries and JSON helpers.
 */
#ifndef HERALD_CONSOLE_INTERNAL_H
#define HERALD_CONSOLE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "auth/jwt.h"
#include "console/console.h" /* console_row_json, console_page_json */
#include "kit/decode.h"      /* the name rule: kit_name_is_valid */
#include "kit/job.h"

struct http_req;
struct identity;
struct store_op;
struct store_sql;
struct store_result;
struct store_rows;

#define OPERATOR_NAME_MAX 64
#define ROLE_NAME_MAX 64
#define ROLE_DESC_MAX 512
#define CONSOLE_ROLES_MAX 32 /* roles per operator, apps per role */

/* The permission names (docs/admin.md); "*" (superadmin) grants all. NULL-terminated. */
extern const char *const console_permissions[];

/* One role of an operator. */
struct console_role {
    char id[33];
    cJSON *perms; /* owned: array of strings */
    bool all_apps;
    cJSON *apps; /* owned: array of app ids (when !all_apps) */
};

/* Who is calling, with what rights. */
struct console_op {
    char id[33];
    char name[OPERATOR_NAME_MAX + 1];
    char ip[64];
    int nroles;
    struct console_role roles[CONSOLE_ROLES_MAX];
};

/* True when op may use perm on app_id (NULL: on every app, i.e. a global right). */
bool console__can(const struct console_op *op, const char *perm, const char *app_id);

/* The apps op may use perm on, as a JSON array text for `IN (SELECT value FROM json_each(?))`;
 * NULL when every app. Caller frees. */
char *console__apps_json(const struct console_op *op, const char *perm);

typedef void (*console_fn)(struct http_req *req, const struct console_op *op, void *ud);

/*
 * Defines fn##_h, the route handler of fn for a right that must come from a role covering
 * every app (managing operators and roles, creating apps, the audit log): it authenticates,
 * answers 403 naming perm when the right is missing or only app-scoped, then calls fn.
 */
#define CONSOLE_GLOBAL(fn, perm)                                                                   \
    static void fn##_global(struct http_req *req, const struct console_op *who, void *ud)          \
    {                                                                                              \
        if (!console__can(who, perm, NULL)) {                                                      \
            http_respond_error(req, 403, "forbidden", "this needs the permission on every app",    \
                               perm);                                                              \
            return;                                                                                \
        }                                                                                          \
        fn(req, who, ud);                                                                          \
    }                                                                                              \
    static void fn##_h(struct http_req *req, void *ud)                                             \
    {                                                                                              \
        console__auth(ud, req, perm, fn##_global, ud);                                             \
    }

/*
 * Authenticates req as an operator (bearer operator token, not revoked, not
 * disabled), loads its roles and checks perm on every app (perm NULL: any
 * valid operator). Calls fn on the loop thread, or answers 401/403 itself.
 */
void console__auth(struct identity *id, struct http_req *req, const char *perm, console_fn fn,
                   void *ud);

/* ---- the request context: what a console request carries across its kit job's steps */

struct cctx {
    struct identity *id;  /* borrowed */
    struct console_op op; /* the caller (a copy: roles duplicated) */
    char text[160];       /* handler data (an id, a name) */
    const char *secret;   /* a secret shown once: a job secret (kit_secret_dup), wiped */
    const char *password; /* a job secret, wiped */
    char *hash;           /* owned */
    cJSON *body;          /* owned */
    cJSON *extra;         /* owned handler JSON (a role's permissions) */
    int64_t n1, n2;
    const struct console_shape *shape; /* a list's (console__page_job) */
};

/* A kit job for req (the identity's store and worker pool) with a struct cctx holding a copy
 * of op (may be NULL). Loop thread. */
struct kit_job *console__job_new(struct http_req *req, struct identity *id,
                                 const struct console_op *op);

/* The struct cctx of a job made by console__job_new. */
static inline struct cctx *console__ctx(const struct kit_job *j)
{
    return j->ctx;
}

/* A worker step hashing the context's password into its hash; next runs with j->status. */
bool console__job_hash(struct kit_job *j, kit_fn next);

/* Appends an audit_log row to op. detail may be NULL. */
void console__audit(struct store_op *op, const struct console_op *who, const char *app_id,
                    const char *action, const char *target, const cJSON *detail, int64_t now);

/* ---- JSON helpers */

/* page and page_size from the query (1.., 1..100, default 20); false after answering 422. */
bool console__paging(struct http_req *req, int64_t *page, int64_t *page_size);

/* How a console object is written: its name in errors ("operator") and its boolean and JSON
 * columns (console_row_json). */
struct console_shape {
    const char *what, *bools, *jsons;
};

/*
 * A list: the page and page_size of req (false after answering 422), then a job and an op
 * for it. The caller adds the COUNT step and the PAGE step, binding the PAGE step's last two
 * parameters with console__bind_page, and runs kit_store(j, op, KIT_READ,
 * console__finish_page): {"count","results","page","page_size"} with shape's columns.
 */
bool console__page_job(struct http_req *req, struct identity *id, const struct console_op *who,
                       const struct console_shape *shape, struct kit_job **j, struct store_op **op);
void console__bind_page(struct kit_job *j, struct store_op *op);
void console__finish_page(struct kit_job *j);
#define CONSOLE_Q_MAX 64 /* bytes of a list's ?q= search */
/* ?q= as a LIKE pattern %q% with % _ \ escaped into *out (freed by the caller): NULL when
 * absent or empty; 0, or -1 after answering 422 (too long). */
int console__search_pattern(struct http_req *req, char **out);
/* console__page_job with a COUNT statement taking ?q='s pattern (console__search_pattern; NULL:
 * no search) and a PAGE statement taking it, then the paging. */
void console__list(struct http_req *req, struct identity *id, const struct console_op *who,
                   const struct console_shape *shape, const struct store_sql *count,
                   const struct store_sql *page);
/* Answers a store error through the one mapper (request_fail_store); what names the object
 * ("operator"), a 409 names the field "name". */
void console__respond_store_err(struct http_req *req, int status, const char *what);
void console__respond(struct http_req *req, int status, const cJSON *v);
void console__invalid(struct http_req *req, const char *field, const char *message);
struct router;
/* Route registration of the console's files (console.c calls them). */
void console__auth_register(struct router *r, struct identity *id);
void console__operators_register(struct router *r, struct identity *id);
void console__roles_register(struct router *r, struct identity *id);
void console__users_register(struct router *r, struct identity *id);
void console__apps_register(struct router *r, struct identity *id);
void console__quick_replies_register(struct router *r, struct identity *id);

/* ---- request bodies: the kit's decoder (kit/decode.h) with these shared descriptors */

/* An element of an id list ("roles", "app_ids"): a name of at most 64 characters. */
extern const struct kit_field console__id_elem;

/* A decoder field: member n, an array of at most CONSOLE_ROLES_MAX ids, at type.member. */
#define CONSOLE_ID_LIST(n, type, member)                                                           \
    {                                                                                              \
        .name = n, .kind = KIT_ARRAY, .max = CONSOLE_ROLES_MAX, .at = KIT_AT(type, member),        \
        .elem = &console__id_elem, .message = "must be an array of at most 32 ids"                 \
    }

/* The path's {id} when id-like, else NULL after answering 404. */
const char *console__path_id(struct http_req *req, const char *what);

/* ---- escalation guard: nobody grants or touches rights they do not hold */

/* Roles from rows (columns id, permissions, all_apps) and their apps (role_id, app_id);
 * returns how many were filled (at most max). Release each with console__role_release. */
int console__roles_parse(const struct store_rows *roles, const struct store_rows *apps,
                         struct console_role *out, int max);
void console__role_release(struct console_role *r);
/* True when who holds every permission of r on every app r covers ("*": all of them). */
bool console__covers(const struct console_op *who, const struct console_role *r);
#endif
