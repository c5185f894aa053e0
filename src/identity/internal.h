/*
 * Helpers shared inside src/identity/ only: the context an identity request carries across
 * the steps of its kit job (kit/job.h), and the JSON helpers of the identity handlers.
 */
#ifndef HERALD_IDENTITY_INTERNAL_H
#define HERALD_IDENTITY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "auth/jwt.h"
#include "kit/decode.h"
#include "kit/job.h" /* the id and e-mail rules: kit_id_is_valid, kit_email_is_valid */

struct http_req;
struct identity;
struct store_op;
struct store_result;
struct store_rows;
struct user_principal;

/*
 * The state an identity request carries across its steps: the context of its kit job
 * (kit/job.h), read with identity__ctx(j). A handler with more state embeds it first.
 */
struct idctx {
    struct identity *id;          /* borrowed */
    char app_id[JWT_APP_MAX + 1]; /* the authenticated app, "" before */
    int64_t n1, n2;               /* handler data (page, counts, a status to answer) */
    char *text;                   /* owned handler data */
    void (*cont)(struct http_req *req, const char *app_id, void *ud); /* auth continuation */
    void (*ucont)(struct http_req *req, const struct user_principal *p, void *ud); /* user auth */
    void *cont_ud;
};

/* A kit job for req (the identity's store and worker pool) with a zeroed struct idctx; app_id
 * may be NULL. Loop thread. */
struct kit_job *identity__job_new(struct http_req *req, struct identity *id, const char *app_id);

/* Fills c for id and app_id (may be NULL) and a kit job around it, freed with ctx_free. */
struct kit_job *identity__job_with(struct http_req *req, struct identity *id, const char *app_id,
                                   struct idctx *c, void (*ctx_free)(void *ctx));

/* Releases what c owns (not c). */
void identity__ctx_release(struct idctx *c);

/* The struct idctx of a job made by identity__job_new or identity__job_with. */
static inline struct idctx *identity__ctx(const struct kit_job *j)
{
    return j->ctx;
}

/* Answers status with the unformatted JSON of v (not freed). */
void identity__respond_cjson(struct http_req *req, int status, const cJSON *v);

/*
 * Login throttling at the door: when account (and the client's IP) may try a password now,
 * takes one token from both (login_guard_take) and returns true: the caller gives it back
 * with login_guard_refund when the password is right or is never checked. Otherwise answers
 * 429 rate_limited with Retry-After and returns false. Loop thread.
 */
bool identity__login_allowed(struct identity *id, struct http_req *req, const char *account);

/* Answers a failed store op through the one mapper (request_fail_store): "no such user",
 * 409 naming "id", 422, 503 + Retry-After... */
void identity__respond_store_err(struct http_req *req, int status);

/* ---- user fields (user_fields.c) ---- */

#define USER_NAME_MAX 128             /* characters */
#define USER_AVATAR_MAX 1024          /* characters */
#define USER_KIND_MAX 32              /* characters */
#define USER_METADATA_MAX (64 * 1024) /* bytes of compact JSON */
#define USER_BATCH_MAX 1000
#define USER_PASSWORD_MIN 8 /* bytes of a password set through the API */

enum user_mode {
    USER_CREATE, /* id required; every field may be given */
    USER_PATCH,  /* id and privileged fields refused */
};

/* The fields of a user body; strings borrowed from the cJSON, JSON texts owned. */
struct user_fields {
    const char *id, *name, *avatar, *kind; /* NULL: not given */
    char *contacts, *metadata;             /* compact JSON, NULL: not given */
    int disabled;                          /* -1: not given, else 0/1 */
};

/* Whether id->profile is set and a change of f touches what it tells (name, avatar, kind,
 * metadata). */
bool identity__profile_changes(const struct identity *id, const struct user_fields *f);

/*
 * Validates a user object into f with the kit's decoder. path names the object in error
 * fields ("" or "users[3]"). Returns 0, or ERR_INVAL with the JSON path and a message in err.
 * Release f with identity__user_fields_release either way.
 */
int identity__user_fields_parse(const cJSON *obj, enum user_mode mode, const char *path,
                                struct user_fields *f, struct kit_error *err);

void identity__user_fields_release(struct user_fields *f);

/*
 * Appends to op a create-or-update of user f (f->id set) in app_id: given
 * fields overwrite, missing ones are kept (the /users/batch statement).
 */
struct store_op;
void identity__user_upsert_add(struct store_op *op, const char *app_id, const struct user_fields *f,
                               int64_t now);
/* Appends to op the insert of user f (f->id set) in app_id: an existing id fails the op
 * (409). */
void identity__user_insert_add(struct store_op *op, const char *app_id, const struct user_fields *f,
                               int64_t now);

/*
 * Appends to op a revocation of every live refresh token of user_id in app_id (logout,
 * password change, disabling, deletion: a refresh token must not outlive what ended the
 * sessions). The _many form takes a JSON array of user ids. enduser.c.
 */
void identity__refresh_revoke_add(struct store_op *op, const char *app_id, const char *user_id,
                                  int64_t now);
void identity__refresh_revoke_many_add(struct store_op *op, const char *app_id,
                                       const char *ids_json, int64_t now);

/* A new JSON object for row i of r (columns SQL_USERS_COLS, store/sql.h). No password hash.
 * A "/media/..." avatar is written absolute for req (kit/media_url.h: media_url_out). */
cJSON *identity__user_json(const struct store_rows *r, int i, struct http_req *req);

#endif
