/*
 * End users of an app (docs/identity.md), under app authentication: create, list
 * (paged), read, update, delete, batch create-or-update, and minting a user
 * access token. Every query is filtered by the authenticated app, so another
 * app's user is 404. Handlers take the struct identity as ud.
 */
#ifndef HERALD_IDENTITY_USERS_H
#define HERALD_IDENTITY_USERS_H

struct http_req;

void identity_users_create(struct http_req *req, void *ud); /* POST /users */
void identity_users_list(struct http_req *req, void *ud);   /* GET /users */
void identity_users_get(struct http_req *req, void *ud);    /* GET /users/{id} */
void identity_users_patch(struct http_req *req, void *ud);  /* PATCH /users/{id} */
void identity_users_delete(struct http_req *req, void *ud); /* DELETE /users/{id} */
void identity_users_batch(struct http_req *req, void *ud);  /* POST /users/batch */
void identity_users_token(struct http_req *req, void *ud);  /* POST /users/{id}/tokens */

#endif
