/*
 * The identity handlers' request context on the kit job (kit/job.h) and their JSON helpers
 * (see internal.h).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login_guard.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "net/http.h"
#include "router/request.h"
#include "store/store.h"

static void ctx_free(void *ctx)
{
    identity__ctx_release(ctx);
    free(ctx);
}

void identity__ctx_release(struct idctx *c)
{
    free(c->text);
    c->text = NULL;
}

struct kit_job *identity__job_with(struct http_req *req, struct identity *id, const char *app_id,
                                   struct idctx *c, void (*free_fn)(void *ctx))
{
    c->id = id;
    if (app_id != NULL)
        snprintf(c->app_id, sizeof(c->app_id), "%s", app_id);
    return kit_job_new(req, id->store, id->work, c, free_fn);
}

struct kit_job *identity__job_new(struct http_req *req, struct identity *id, const char *app_id)
{
    return identity__job_with(req, id, app_id, xcalloc(1, sizeof(struct idctx)), ctx_free);
}

void identity__respond_cjson(struct http_req *req, int status, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    if (s == NULL) {
        http_respond_err(req, ERR_BACKEND, "cannot encode the response", NULL);
        return;
    }
    http_respond_json(req, status, s, strlen(s));
    cJSON_free(s);
}

bool identity__login_allowed(struct identity *id, struct http_req *req, const char *account)
{
    uint64_t wait = login_guard_take(id->guard, http_req_peer(req), account, clock_mono_ms());
    if (wait == 0)
        return true;
    char v[24];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)wait);
    http_res_header(req, "Retry-After", v);
    http_respond_error(req, 429, "rate_limited", "too many failed logins; retry later", NULL);
    return false;
}

void identity__respond_store_err(struct http_req *req, int status)
{
    request_fail_store(req, status, "user", "id");
}
