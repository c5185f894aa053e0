/*
 * The one JSON body reader and the one error mapper (see request.h).
 */
#include "request.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/json_check.h"
#include "net/http.h"

/* True when the parameters after a media type (";" and the rest, or "") name no charset but
 * UTF-8 (RFC 8259 §8.1: JSON is UTF-8; "utf-8" or "utf8" in any case, quoted or not). */
static bool charset_is_utf8(const char *p)
{
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "charset=", 8) != 0)
            continue;
        p += 8;
        size_t n = strcspn(p, "; \t");
        if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
            p++;
            n -= 2;
        }
        if (!((n == 5 && strncasecmp(p, "utf-8", 5) == 0) ||
              (n == 4 && strncasecmp(p, "utf8", 4) == 0)))
            return false;
    }
    return true;
}

/* True when the Content-Type is application/json, in any case, with or without parameters,
 * and names no charset other than UTF-8. */
static bool is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    size_t end = n;
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == sizeof(want) - 1 && strncasecmp(ct, want, n) == 0 && charset_is_utf8(ct + end);
}

cJSON *request_body_json(struct http_req *req)
{
    if (!is_json_type(http_req_header(req, "Content-Type"))) {
        request_fail(req, ERR_MEDIA,
                     "the body must be JSON in UTF-8 (Content-Type: application/json)", NULL);
        return NULL;
    }
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    struct json_check_result r;
    int rc = json_check(body, len, REQUEST_JSON_DEPTH, &r);
    if (rc == ERR_INVAL) {
        request_fail(req, ERR_INVAL, r.message, r.path);
        return NULL;
    }
    if (rc != 0) {
        char msg[224];
        snprintf(msg, sizeof(msg), "the body is not valid JSON: %s", r.message);
        request_fail(req, ERR_JSON, msg, r.path[0] ? r.path : NULL);
        return NULL;
    }
    cJSON *v = cJSON_ParseWithLength(body, len);
    if (v == NULL) /* checked above; cJSON's own nesting limit is far higher */
        request_fail(req, ERR_JSON, "the body is not valid JSON", NULL);
    return v;
}

void request_fail(struct http_req *req, int err, const char *message, const char *field)
{
    int wait = err_retry_after(err);
    if (wait > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", wait);
        http_res_header(req, "Retry-After", v);
    }
    http_respond_error(req, err_http_status(err), err_code(err), message ? message : err_str(err),
                       field);
}

void request_fail_store(struct http_req *req, int err, const char *what, const char *conflict_field)
{
    char msg[128];
    switch (err) {
    case ERR_NOTFOUND:
        snprintf(msg, sizeof(msg), "no such %s", what);
        request_fail(req, err, msg, NULL);
        break;
    case ERR_EXISTS:
        if (conflict_field != NULL) /* "an operator", "a user" (a "u" sounds like "you") */
            snprintf(msg, sizeof(msg), "%s %s with this %s exists",
                     strchr("aeio", what[0]) != NULL && what[0] != '\0' ? "an" : "a", what,
                     conflict_field);
        else
            snprintf(msg, sizeof(msg), "the %s exists", what);
        request_fail(req, err, msg, conflict_field);
        break;
    case ERR_INVAL:
        request_fail(req, err, "a value is out of range", NULL);
        break;
    case ERR_AGAIN:
        request_fail(req, err, "the server is busy; retry", NULL);
        break;
    case ERR_UNAVAIL:
        request_fail(req, err, "the store is closing", NULL);
        break;
    case ERR_DENIED:
    case ERR_TOOBIG:
        request_fail(req, err, NULL, NULL);
        break;
    default:
        request_fail(req, ERR_BACKEND, "internal error", NULL);
        break;
    }
}
