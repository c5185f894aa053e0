/*
 * End users of an app (docs/identity.md), under app authentication: create, list
 * (paged), read, update, delete, batch create-or-update, and minting a user
 * access token. Every query is filtered by the authenticated app, so another
 * app's user is 404. Handlers take the struct identity as ud.
 */
#ifndef HERALD_IDENTITY_USERS_H
#define HERALD_IDENTITY_USERS_H

#include <stdint.h>

struct http_req;
struct identity;
struct store_op;

void identity_users_create(struct http_req *req, void *ud); /* POST /users */
void identity_users_list(struct http_req *req, void *ud);   /* GET /users */
void identity_users_get(struct http_req *req, void *ud);    /* GET /users/{id} */
void identity_users_patch(struct http_req *req, void *ud);  /* PATCH /users/{id} */
void identity_users_delete(struct http_req *req, void *ud); /* DELETE /users/{id} */
void identity_users_batch(struct http_req *req, void *ud);  /* POST /users/batch */
void identity_users_token(struct http_req *req, void *ud);  /* POST /users/{id}/tokens */

/*
 * Someone else's write on a user: the console's audit row. add appends its statements to
 * the one write op of the change, after the user's update, so they commit together; free
 * (may be NULL) releases ud when the request ends, whatever happened.
 */
struct identity_user_audit {
    void (*add)(struct store_op *op, const char *app_id, const char *uid, void *ud);
    void (*free)(void *ud);
    void *ud;
};

/*
 * PATCH /users/{id} on app_id's user uid for a caller other than the app (the console,
 * docs/admin.md): the same body, checks, token revocation and answer, plus audit's rows in
 * the same write. The caller has checked its right on app_id; uid is checked here (404).
 * audit is copied; its free runs in every case. Loop thread.
 */
void identity_users_patch_as(struct http_req *req, struct identity *id, const char *app_id,
                             const char *uid, const struct identity_user_audit *audit);

/* ---- the console's import (users_import.c; docs/admin.md, "Importing users") */

#define IDENTITY_IMPORT_PASSWORDS_MAX 100 /* rows with a password in one import */

enum identity_import_mode {
    IMPORT_FAIL,   /* an existing id is a 409 naming users[i].id; nothing is written */
    IMPORT_SKIP,   /* existing users are left as they are */
    IMPORT_UPDATE, /* existing users get the given fields (missing ones are kept) */
};

const char *identity_import_mode_name(enum identity_import_mode m);

/* What an import did (known before its write; the audit row carries it). */
struct identity_import_counts {
    int64_t count, created, updated, skipped;
};

/* The caller's audit row of an import, appended to its one write (as identity_user_audit). */
struct identity_import_audit {
    void (*add)(struct store_op *op, const char *app_id, const struct identity_import_counts *n,
                void *ud);
    void (*free)(void *ud);
    void *ud;
};

/*
 * Imports the body's users into app_id for a caller other than the app (the console): body
 * {"users":[POST /users objects, password included], "on_conflict"?: "fail"|"skip"|"update"}
 * (fail by default), 1 to 1,000 users, at most IDENTITY_IMPORT_PASSWORDS_MAX with a password.
 * Every row is validated first (422 listing up to 100 errors, each naming users[i].field),
 * then the app (404) and the existing ids are read, passwords hashed on the worker pool, and
 * one write creates or updates them with audit's row. Answers {"count","created","updated",
 * "skipped","on_conflict"}. The caller has checked its right on app_id; audit is copied and
 * its free runs in every case. Loop thread.
 */
void identity_users_import_as(struct http_req *req, struct identity *id, const char *app_id,
                              const struct identity_import_audit *audit);

#endif
