/*
 * End-user authentication endpoints (docs/auth.md), under /api/v1/auth:
 * register (when the app allows it), login, refresh (rotating refresh tokens
 * in families; reuse of a rotated token revokes its family), logout, and
 * GET/PATCH me (profile and password change). The app is named by X-App-Key
 * (the default app when absent). Handlers' ud is the struct identity.
 * docs/auth.md has the request and response shapes.
 */
#ifndef HERALD_IDENTITY_ENDUSER_H
#define HERALD_IDENTITY_ENDUSER_H

struct http_req;

void identity_auth_register(struct http_req *req, void *ud);
void identity_auth_login(struct http_req *req, void *ud);
void identity_auth_refresh(struct http_req *req, void *ud);
void identity_auth_logout(struct http_req *req, void *ud);
void identity_auth_me(struct http_req *req, void *ud);
void identity_auth_me_patch(struct http_req *req, void *ud);

#endif
