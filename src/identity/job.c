/*
 * The identity handlers' request jobs and JSON helpers (see internal.h): the
 * one place where a store completion hops from its store thread back to the
 * loop thread that owns the request.
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

struct idjob *identity__job_new(struct http_req *req, struct identity *id, const char *app_id)
{
    struct idjob *j = xcalloc(1, sizeof(*j));
    j->req = req;
    j->id = id;
    if (app_id != NULL)
        snprintf(j->app_id, sizeof(j->app_id), "%s", app_id);
    return j;
}

void identity__job_free(struct idjob *j)
{
    if (j == NULL)
        return;
    store_result_free(j->res);
    free(j->text);
    free(j);
}

/* Loop thread: the op is done. */
static void job_on_loop(void *arg)
{
    struct idjob *j = arg;
    j->finish(j);
    identity__job_free(j);
}

/* Store thread: keep the result and hop back to the request's loop. */
static void job_done(int status, struct store_result *res, void *ud)
{
    struct idjob *j = ud;
    j->status = status;
    j->res = res;
    http_req_post(j->req, job_on_loop, j);
}

void identity__job_submit(struct idjob *j, struct store_op *op, bool write, idjob_fn finish)
{
    j->finish = finish;
    int rc = write ? store_write(j->id->store, op, job_done, j)
                   : store_read(j->id->store, op, job_done, j);
    if (rc != 0) {
        identity__respond_store_err(j->req, rc);
        identity__job_free(j);
    }
}

cJSON *identity__body_json(struct http_req *req)
{
    return request_body_json(req);
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
