/*
 * The identity handlers' request jobs and JSON helpers (see internal.h): the
 * one place where a store completion hops from its store thread back to the
 * loop thread that owns the request.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/login_guard.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "net/http.h"
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
    const char *ct = http_req_header(req, "Content-Type");
    size_t n = ct ? strcspn(ct, ";") : 0;
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (ct == NULL || n != strlen("application/json") ||
        strncasecmp(ct, "application/json", n) != 0) {
        http_respond_error(req, 415, "unsupported_media_type",
                           "the body must be JSON (Content-Type: application/json)", NULL);
        return NULL;
    }
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(body, len, &end, false);
    while (v != NULL && end < body + len &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (v != NULL && end != body + len) { /* trailing bytes after the value */
        cJSON_Delete(v);
        v = NULL;
    }
    if (v == NULL) {
        http_respond_error(req, 400, "invalid_json", "the body is not valid JSON", NULL);
        return NULL;
    }
    return v;
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
    switch (status) {
    case ERR_NOTFOUND:
        http_respond_err(req, status, "no such user", NULL);
        break;
    case ERR_EXISTS:
        http_respond_err(req, status, "a user with this id exists", "id");
        break;
    case ERR_AGAIN:
        http_res_header(req, "Retry-After", "1");
        http_respond_error(req, 503, "unavailable", "the store is busy; retry", NULL);
        break;
    case ERR_UNAVAIL:
        http_respond_err(req, status, "the store is closing", NULL);
        break;
    default:
        http_respond_err(req, ERR_BACKEND, "internal error", NULL);
        break;
    }
}

bool identity__user_id_is_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '@' || c == ':' || c == '-';
        if (!ok || n >= 64)
            return false;
    }
    return n >= 1;
}
