/*
 * End-user authentication (see user_auth.h). A bearer token is checked on the
 * calling thread (signature, expiry, typ, then the in-memory revocation
 * table): no store read. Demo mode makes one store write per request (the
 * user is created when missing) through the usual request job.
 */
#include "user_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "net/http.h"
#include "store/sql.h"
#include "store/store.h"

#define IATM_CLAIM "iatm" /* issue time in ms: revocations are compared with it */
#define SID_CLAIM "sid"   /* the session (refresh family) the token belongs to */

static void unauthorized(struct http_req *req, const char *message)
{
    http_res_header(req, "WWW-Authenticate", "Bearer");
    http_respond_error(req, 401, "unauthorized", message, NULL);
}

int identity_user_token_mint(const struct identity *id, const char *app_id, const char *user_id,
                             char **out)
{
    char sid[IDENTITY_SESSION_LEN + 1];
    rand_hex(sid, IDENTITY_SESSION_LEN / 2);
    return identity_user_token_mint_session(id, app_id, user_id, sid, out);
}

int identity_user_token_mint_session(const struct identity *id, const char *app_id,
                                     const char *user_id, const char *session_id, char **out)
{
    int64_t now_ms = clock_wall_ms();
    cJSON *extra = cJSON_CreateObject(); /* never NULL: xalloc_json_hooks */
    cJSON_AddNumberToObject(extra, IATM_CLAIM, (double)revoke_issue_ms(id->revoke));
    cJSON_AddStringToObject(extra, SID_CLAIM, session_id);
    struct jwt_payload p = {.typ = JWT_TYP_USER,
                            .sub = user_id,
                            .app = app_id,
                            .iat = now_ms / 1000,
                            .exp = now_ms / 1000 + id->access_ttl_s,
                            .extra = extra};
    int rc = jwt_sign(id->jwt, &p, out);
    cJSON_Delete(extra);
    return rc;
}

/*
 * The "sid" claim into out: true when absent (a token from before sessions: out is "") or
 * well-formed (1..REVOKE_SESSION_MAX of [0-9a-f]); false otherwise (the token is refused).
 */
static bool session_of(const struct jwt_claims *c, char out[REVOKE_SESSION_MAX + 1])
{
    out[0] = '\0';
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(c->json, SID_CLAIM);
    if (s == NULL)
        return true;
    if (!cJSON_IsString(s))
        return false;
    size_t n = strlen(s->valuestring);
    if (n < 1 || n > REVOKE_SESSION_MAX || strspn(s->valuestring, "0123456789abcdef") != n)
        return false;
    memcpy(out, s->valuestring, n + 1);
    return true;
}

/* The "iatm" claim, else iat in ms. */
static int64_t issued_ms(const struct jwt_claims *c)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(c->json, IATM_CLAIM);
    if (cJSON_IsNumber(m) && m->valuedouble > 0 && m->valuedouble < 9e15)
        return (int64_t)m->valuedouble;
    return c->iat * 1000;
}

int identity_user_token_check(struct identity *id, const char *token, size_t len,
                              struct user_principal *p)
{
    struct jwt_claims c;
    memset(p, 0, sizeof(*p));
    if (jwt_verify(id->jwt, token, len, JWT_TYP_USER, clock_wall_ms() / 1000, &c, NULL) != 0) {
        jwt_claims_release(&c);
        return ERR_UNAUTH;
    }
    int rc = ERR_UNAUTH;
    char sid[REVOKE_SESSION_MAX + 1];
    if (c.app[0] != '\0' && kit_id_is_valid(c.sub) && session_of(&c, sid)) {
        int64_t iat_ms = issued_ms(&c);
        if (!revoke_is_revoked(id->revoke, REVOKE_USER, c.app, c.sub, iat_ms) &&
            !revoke_is_revoked(id->revoke, REVOKE_APP, "", c.app, iat_ms) &&
            (sid[0] == '\0' || !revoke_session_is_revoked(id->revoke, c.app, c.sub, sid))) {
            memcpy(p->session_id, sid, sizeof(p->session_id));
            memcpy(p->app_id, c.app, sizeof(p->app_id)); /* same sizes, NUL-terminated */
            memcpy(p->user_id, c.sub, sizeof(p->user_id));
            p->iat_ms = iat_ms;
            rc = 0;
        }
    }
    jwt_claims_release(&c);
    return rc;
}

/*
 * The token of a WebSocket handshake in Sec-WebSocket-Protocol: the item
 * "bearer.<token>" of a comma list. Sets *len; NULL when absent.
 */
static const char *protocol_token(const char *h, size_t *len)
{
    while (h && *h) {
        while (*h == ' ' || *h == '\t' || *h == ',')
            h++;
        const char *end = h;
        while (*end && *end != ',' && *end != ' ' && *end != '\t')
            end++;
        if ((size_t)(end - h) > 7 && strncasecmp(h, "bearer.", 7) == 0) {
            *len = (size_t)(end - h) - 7;
            return h + 7;
        }
        h = end;
    }
    return NULL;
}

/* Demo mode: the user row is there (created when missing). */
static void demo_done(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, -1);
    if (r == NULL || r->nrows == 0) {
        unauthorized(j->req, "demo mode needs the default app");
        return;
    }
    if (store_rows_int(r, 0, 1) != 0) {
        http_respond_error(j->req, 403, "forbidden", "the user is disabled", NULL);
        return;
    }
    struct user_principal p = {.demo = true};
    snprintf(p.app_id, sizeof(p.app_id), "%s", store_rows_text(r, 0, 0));
    snprintf(p.user_id, sizeof(p.user_id), "%s", c->text);
    c->ucont(j->req, &p, c->cont_ud);
}

const char *identity_demo_kind(const char *uid)
{
    switch (uid[0]) {
    case 'b':
        return "buyer";
    case 'm':
        return "merchant";
    case 'p':
        return "agent";
    case 'a':
        return "admin";
    default:
        return "";
    }
}

static void demo_auth(struct identity *id, struct http_req *req, const char *uid, user_auth_fn fn,
                      void *ud)
{
    if (!kit_id_is_valid(uid)) {
        http_respond_error(req, 422, "validation_failed",
                           "user_id must be 1-64 characters of A-Z a-z 0-9 _ . @ : -", "user_id");
        return;
    }
    if (kit_id_is_reserved(uid)) {
        http_respond_error(req, 422, "validation_failed",
                           "user_id is reserved: /users/online and /users/batch are routes",
                           "user_id");
        return;
    }
    struct kit_job *j = identity__job_new(req, id, NULL);
    struct idctx *c = identity__ctx(j);
    c->text = xstrdup(uid);
    c->ucont = fn;
    c->cont_ud = ud;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_DEMO_ENSURE);
    store_bind_text(op, uid);
    store_bind_text(op, identity_demo_kind(uid));
    store_bind_int(op, now);
    store_op_add(op, &SQL_USERS_DEMO_GET);
    store_bind_text(op, uid);
    kit_store(j, op, KIT_WRITE, demo_done);
}

bool identity_req_token(struct http_req *req, char *qtok, size_t qn, const char **tok, size_t *len)
{
    *tok = NULL;
    *len = 0;
    const char *authz = http_req_header(req, "Authorization");
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return false;
        *tok = authz + 7;
        while (**tok == ' ')
            (*tok)++;
        *len = strlen(*tok);
    } else if (http_req_query_param(req, "token", qtok, qn) >= 0) {
        *tok = qtok;
        *len = strlen(qtok);
    } else {
        *tok = protocol_token(http_req_header(req, "Sec-WebSocket-Protocol"), len);
    }
    return true;
}

void identity_user_auth(struct identity *id, struct http_req *req, user_auth_fn fn, void *ud)
{
    const char *tok = NULL;
    size_t len = 0;
    char qtok[JWT_MAX_LEN + 1];
    if (!identity_req_token(req, qtok, sizeof(qtok), &tok, &len)) {
        unauthorized(req, "use Authorization: Bearer <access token>");
        return;
    }
    if (tok != NULL) {
        struct user_principal p;
        if (identity_user_token_check(id, tok, len, &p) != 0) {
            unauthorized(req, "invalid, expired or revoked access token");
            return;
        }
        fn(req, &p, ud);
        return;
    }
    char uid[80];
    if (id->demo && http_req_query_param(req, "user_id", uid, sizeof(uid)) >= 0) {
        demo_auth(id, req, uid, fn, ud);
        return;
    }
    unauthorized(req, "an access token is required (Authorization: Bearer, ?token= or "
                      "Sec-WebSocket-Protocol bearer.<token>)");
}
