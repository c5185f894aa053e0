/*
 * The console's user import (users.h: identity_users_import_as; docs/admin.md, "Importing
 * users"): up to 1,000 users of the POST /users shape, every row validated before anything is
 * written (the errors of up to IMPORT_ERRORS_MAX rows answered together, each naming
 * users[i].field), one read of the app and of the ids that exist, passwords hashed on the
 * worker pool like the single create, then one write for the whole batch with the caller's
 * audit row: all or nothing.
 */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define IMPORT_ERRORS_MAX 100 /* row errors in one 422 */

/* The import in flight: the body's users, their passwords and hashes, what exists. */
struct import {
    struct idctx base; /* first: identity__ctx reads it */
    cJSON *body;       /* owns what fs borrows */
    int n;
    struct user_fields *fs;
    char **pw;   /* NULL or a password, wiped and freed with the import */
    char **hash; /* NULL or its hash */
    bool *exists;
    int *pstep; /* the first step of the profile hook's statements of row i, -1: none */
    enum identity_import_mode mode;
    struct identity_import_counts counts;
    struct identity_import_audit audit; /* add NULL: none */
    char *revoked; /* JSON array of the existing users whose sessions end, or NULL */
};

static void import_free(void *ctx)
{
    struct import *im = ctx;
    identity__ctx_release(&im->base);
    for (int i = 0; i < im->n; i++) {
        identity__user_fields_release(&im->fs[i]);
        if (im->pw[i]) {
            explicit_bzero(im->pw[i], strlen(im->pw[i]));
            free(im->pw[i]);
        }
        free(im->hash[i]);
    }
    free(im->fs);
    free(im->pw);
    free(im->hash);
    free(im->exists);
    free(im->pstep);
    free(im->revoked);
    cJSON_Delete(im->body);
    if (im->audit.free)
        im->audit.free(im->audit.ud);
    free(im);
}

const char *identity_import_mode_name(enum identity_import_mode m)
{
    return m == IMPORT_SKIP ? "skip" : m == IMPORT_UPDATE ? "update" : "fail";
}

/* ---- validation */

/* The errors of the rows, answered together as one 422 (the first is the error's field). */
struct row_errors {
    cJSON *list;
    int n;
};

static void row_error(struct row_errors *e, const char *field, const char *message)
{
    if (e->list == NULL)
        e->list = cJSON_CreateArray();
    if (e->n++ >= IMPORT_ERRORS_MAX)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "field", field);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddItemToArray(e->list, o);
}

static void respond_row_errors(struct http_req *req, struct row_errors *e)
{
    const cJSON *first = cJSON_GetArrayItem(e->list, 0);
    cJSON *o = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(o, "error");
    char msg[240];
    snprintf(msg, sizeof(msg), "%d invalid field%s; nothing was imported: %s", e->n,
             e->n == 1 ? "" : "s", cJSON_GetObjectItemCaseSensitive(first, "message")->valuestring);
    cJSON_AddStringToObject(err, "code", "validation_failed");
    cJSON_AddStringToObject(err, "message", msg);
    cJSON_AddStringToObject(err, "field",
                            cJSON_GetObjectItemCaseSensitive(first, "field")->valuestring);
    cJSON_AddItemToObject(err, "errors", e->list);
    e->list = NULL;
    identity__respond_cjson(req, 422, o);
    cJSON_Delete(o);
}

/* A password given with a user: bytes, as POST /users takes it. */
static const struct kit_field password_field = {.kind = KIT_STRING,
                                                .flags = KIT_BYTES,
                                                .min = USER_PASSWORD_MIN,
                                                .max = PASSWORD_MAX_LEN,
                                                .message = "must be a string of 8 to 511 bytes"};

/* Validates row i (u) into im; its first error goes to e. */
static void parse_row(struct import *im, int i, cJSON *u, int *npw, struct row_errors *e)
{
    char path[32], field[64];
    snprintf(path, sizeof(path), "users[%d]", i);
    struct kit_error err;
    const cJSON *pw = cJSON_IsObject(u) ? cJSON_GetObjectItemCaseSensitive(u, "password") : NULL;
    if (pw != NULL) {
        snprintf(field, sizeof(field), "%s.password", path);
        if (kit_check(pw, &password_field, field, &err) != 0) {
            row_error(e, err.field, err.message);
            return;
        }
        if (++*npw > IDENTITY_IMPORT_PASSWORDS_MAX) {
            row_error(e, field, "at most 100 users of one import may carry a password");
            return;
        }
        im->pw[i] = xstrdup(pw->valuestring);
        kit_wipe_member(u, "password"); /* the import holds its own copy */
    }
    if (identity__user_fields_parse(u, USER_CREATE, path, &im->fs[i], &err) != 0) {
        row_error(e, err.field, err.message);
        return;
    }
    for (int k = 0; k < i; k++) {
        if (im->fs[k].id && strcmp(im->fs[k].id, im->fs[i].id) == 0) {
            char msg[64];
            snprintf(field, sizeof(field), "%s.id", path);
            snprintf(msg, sizeof(msg), "appears twice in the import (users[%d])", k);
            row_error(e, field, msg);
            return;
        }
    }
}

/* The envelope: {"users":[...], "on_conflict"?: "fail"|"skip"|"update"}. */
struct import_in {
    struct kit_array users;
    const char *on_conflict;
};
static const struct kit_field import_fields[] = {
    {.name = "users",
     .kind = KIT_ARRAY,
     .flags = KIT_REQUIRED,
     .min = 1,
     .max = USER_BATCH_MAX,
     .at = KIT_AT(struct import_in, users),
     .message = "must be an array of 1 to 1000 users"},
    {.name = "on_conflict",
     .kind = KIT_STRING,
     .max = 8,
     .at = KIT_AT(struct import_in, on_conflict),
     .message = "must be fail, skip or update"},
    {.name = NULL},
};
static const struct kit_table import_table = {.fields = import_fields};

/* ---- the steps */

static void finish_write(struct kit_job *j)
{
    struct import *im = j->ctx;
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    /* existing users disabled or given a password: their access tokens and sockets go */
    cJSON *off = im->revoked ? cJSON_Parse(im->revoked) : NULL;
    const cJSON *u;
    cJSON_ArrayForEach(u, off)
    {
        if (cJSON_IsString(u))
            revoke_subject(im->base.id->revoke, REVOKE_USER, im->base.app_id, u->valuestring);
    }
    cJSON_Delete(off);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)im->counts.count);
    cJSON_AddNumberToObject(o, "created", (double)im->counts.created);
    cJSON_AddNumberToObject(o, "updated", (double)im->counts.updated);
    cJSON_AddNumberToObject(o, "skipped", (double)im->counts.skipped);
    cJSON_AddStringToObject(o, "on_conflict", identity_import_mode_name(im->mode));
    identity__respond_cjson(j->req, 200, o);
    cJSON_Delete(o);
}

/* On the writer thread, after the commit: existing users whose profile changed; their peers
 * get conversation.updated in commit order with chat's events (docs/chat.md, "Order"). */
static void write_committed(struct kit_job *j)
{
    struct import *im = j->ctx;
    for (int i = 0; i < im->n; i++) {
        if (im->pstep[i] >= 0)
            im->base.id->profile.done(j->res, im->pstep[i], im->base.app_id, im->fs[i].id,
                                      im->base.id->profile.ud);
    }
}

/* Whether row i is written: new rows always, existing ones only in update mode. */
static bool row_written(const struct import *im, int i)
{
    return !im->exists[i] || im->mode == IMPORT_UPDATE;
}

/* The one write (also when every user is skipped: the audit row): inserts (or upserts in update
 * mode), hashes, refresh-token revocations of existing users disabled or given a password, the
 * audit row. */
static void write_step(struct kit_job *j)
{
    struct import *im = j->ctx;
    if (j->status != 0) {
        http_respond_err(j->req, ERR_BACKEND, "cannot hash the passwords", NULL);
        return;
    }
    const char *app = im->base.app_id;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    cJSON *off = cJSON_CreateArray();
    for (int i = 0; i < im->n; i++) {
        if (!row_written(im, i))
            continue;
        if (im->mode == IMPORT_UPDATE) {
            identity__user_upsert_add(op, app, &im->fs[i], now);
            /* an existing user's profile shown elsewhere changed: the hook's statements commit
               with it, as PATCH /users/{id} does */
            if (im->exists[i] && identity__profile_changes(im->base.id, &im->fs[i])) {
                im->pstep[i] = (int)store_op_nsteps(op);
                im->base.id->profile.add(op, app, im->fs[i].id, im->base.id->profile.ud);
            }
        } else { /* a user created since the read makes this a 409: nothing is written */
            identity__user_insert_add(op, app, &im->fs[i], now);
        }
        if (im->hash[i]) {
            store_op_add(op, &SQL_USERS_SET_HASH);
            store_bind_text(op, app);
            store_bind_text(op, im->fs[i].id);
            store_bind_text(op, im->hash[i]);
        }
        if (im->exists[i] && (im->fs[i].disabled == 1 || im->hash[i]))
            cJSON_AddItemToArray(off, cJSON_CreateString(im->fs[i].id));
    }
    if (cJSON_GetArraySize(off) > 0) {
        im->revoked = cJSON_PrintUnformatted(off);
        identity__refresh_revoke_many_add(op, app, im->revoked, now);
    }
    cJSON_Delete(off);
    if (im->audit.add)
        im->audit.add(op, app, &im->counts, im->audit.ud);
    kit_store_committed(j, op, write_committed, finish_write);
}

/* Worker thread: the hashes of the passwords of the rows to be written, one after another. */
static int hash_work(struct kit_job *j)
{
    struct import *im = j->ctx;
    for (int i = 0; i < im->n; i++) {
        if (im->pw[i] && row_written(im, i) &&
            password_hash(im->pw[i], strlen(im->pw[i]), &im->hash[i]) != 0)
            return ERR_BACKEND;
    }
    return 0;
}

/* After the read of the app and of the existing ids: 404, 409 (fail mode), or on. */
static void after_read(struct kit_job *j)
{
    struct import *im = j->ctx;
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    const struct store_rows *app = store_result_step(j->res, 0);
    if (app == NULL || app->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", NULL);
        return;
    }
    const struct store_rows *ex = store_result_step(j->res, 1);
    for (int r = 0; ex && r < ex->nrows; r++) {
        const char *id = store_rows_text(ex, r, 0);
        for (int i = 0; id && i < im->n; i++) {
            if (strcmp(im->fs[i].id, id) == 0)
                im->exists[i] = true;
        }
    }
    bool hashes = false;
    im->counts.count = im->n;
    for (int i = 0; i < im->n; i++) {
        if (im->exists[i] && im->mode == IMPORT_FAIL) {
            char field[32];
            snprintf(field, sizeof(field), "users[%d].id", i);
            http_respond_error(j->req, 409, "conflict",
                               "the user exists (on_conflict: skip or update)", field);
            return;
        }
        if (!im->exists[i])
            im->counts.created++;
        else if (im->mode == IMPORT_UPDATE)
            im->counts.updated++;
        else
            im->counts.skipped++;
        hashes = hashes || (im->pw[i] && row_written(im, i));
    }
    if (hashes)
        kit_work(j, WORKPOOL_LOW, 0, hash_work, write_step);
    else
        write_step(j);
}

void identity_users_import_as(struct http_req *req, struct identity *id, const char *app_id,
                              const struct identity_import_audit *audit)
{
    struct import_in in;
    cJSON *body = kit_body(req, &import_table, &in);
    if (body == NULL) {
        if (audit && audit->free)
            audit->free(audit->ud);
        return;
    }
    struct import *im = xcalloc(1, sizeof(*im));
    if (audit)
        im->audit = *audit;
    im->body = body;
    struct kit_job *j = identity__job_with(req, id, app_id, &im->base, import_free);
    const char *oc = in.on_conflict ? in.on_conflict : "fail";
    if (strcmp(oc, "fail") == 0) {
        im->mode = IMPORT_FAIL;
    } else if (strcmp(oc, "skip") == 0) {
        im->mode = IMPORT_SKIP;
    } else if (strcmp(oc, "update") == 0) {
        im->mode = IMPORT_UPDATE;
    } else {
        http_respond_error(req, 422, "validation_failed", "must be fail, skip or update",
                           "on_conflict");
        kit_job_end(j);
        return;
    }
    int n = cJSON_GetArraySize(in.users.json);
    im->fs = xcalloc((size_t)n, sizeof(*im->fs));
    im->pw = xcalloc((size_t)n, sizeof(*im->pw));
    im->hash = xcalloc((size_t)n, sizeof(*im->hash));
    im->exists = xcalloc((size_t)n, sizeof(*im->exists));
    im->pstep = xmalloc((size_t)n * sizeof(*im->pstep));
    for (int k = 0; k < n; k++)
        im->pstep[k] = -1;
    im->n = n;
    struct row_errors e = {0};
    int npw = 0, i = 0;
    cJSON *u;
    cJSON_ArrayForEach(u, in.users.json)
    {
        parse_row(im, i++, u, &npw, &e);
    }
    if (e.n > 0) {
        respond_row_errors(req, &e);
        kit_job_end(j);
        return;
    }
    cJSON *ids = cJSON_CreateArray();
    for (i = 0; i < n; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateString(im->fs[i].id));
    char *ids_text = cJSON_PrintUnformatted(ids);
    cJSON_Delete(ids);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, app_id);
    store_op_add(op, &SQL_USERS_EXISTING);
    store_bind_text(op, app_id);
    store_bind_text(op, ids_text);
    free(ids_text);
    kit_store(j, op, KIT_READ, after_read);
}
