/*
 * Response writing: the status line and headers (Date, Content-Length,
 * Connection, X-Request-Id, CORS), whole answers (http_respond and the JSON
 * error bodies), the CORS preflight, and the end of a request (metrics, access
 * log, then close or go on with the next request). Streamed responses
 * (http_stream.c) share the head and the end.
 */
#include "net/http_internal.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "metrics/metrics.h"

static const char *date_header(struct loop *l)
{
    static _Thread_local char date[64];
    static _Thread_local time_t last;
    (void)l;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return date;
}

const char *http_status_text(int s)
{
    switch (s) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

bool net__origin_listed(const char *list, const char *origin)
{
    if (list == NULL || list[0] == '\0' || origin == NULL)
        return false;
    if (strcmp(list, "*") == 0)
        return true;
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == olen && strncasecmp(p, origin, len) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* Allowed CORS origin for this request, or NULL. */
static const char *cors_origin(const struct http_req *r)
{
    const char *origin = http_req_header(r, "Origin");
    return net__origin_listed(r->loop->srv->opts.cfg->cors_origins, origin) ? origin : NULL;
}

void net__http_finish(struct http_req *r, int status, size_t body_len)
{
    struct loop *l = r->loop;
    uint64_t us = clock_mono_us() - r->start_us;
    metrics_http_request(l->metrics, r->route_id, r->method, status, us);
    log_access(http_req_method_name(r), r->path ? r->path : "-", status,
               (unsigned long long)body_len, (unsigned long long)us,
               r->conn ? http_req_peer(r) : "-", r->id);
}

void http_res_header(struct http_req *r, const char *name, const char *value)
{
    buf_printf(&r->res_headers, "%s: %s\r\n", name, value);
}

/* Writes the status line and headers to c->out; returns whether the connection stays open. */
bool net__http_write_head(struct http_req *r, struct conn *c, int status, const char *ctype,
                          uint64_t len)
{
    /* an answer before the whole body arrived (a streamed one) leaves the framing behind */
    bool keep = r->keep_alive && r->complete && !c->loop->stopping && len != HTTP_RES_OPEN_ENDED &&
                status != 400 && status != 408 && status != 413 && status != 414 && status != 431 &&
                status != 101;
    struct buf *o = &c->out;
    /* built with puts, not printf: this is the hottest path of a busy server */
    buf_puts(o, "HTTP/1.1 ");
    buf_put_uint(o, (unsigned)status);
    buf_putc(o, ' ');
    buf_puts(o, http_status_text(status));
    buf_puts(o, "\r\nDate: ");
    buf_puts(o, date_header(c->loop));
    buf_puts(o, "\r\n");
    if (ctype) {
        buf_puts(o, "Content-Type: ");
        buf_puts(o, ctype);
        buf_puts(o, "\r\n");
    }
    if (status != 204 && status != 304 && status >= 200 && len != HTTP_RES_OPEN_ENDED) {
        buf_puts(o, "Content-Length: ");
        buf_put_uint(o, len);
        buf_puts(o, "\r\n");
    }
    if (status != 101)
        buf_puts(o, keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    buf_puts(o, "X-Request-Id: ");
    buf_puts(o, r->id);
    buf_puts(o, "\r\n");
    const char *cfg_cors = c->loop->srv->opts.cfg->cors_origins;
    const char *origin = cors_origin(r);
    if (origin) {
        buf_puts(o, "Access-Control-Allow-Origin: ");
        buf_puts(o, strcmp(c->loop->srv->opts.cfg->cors_origins, "*") == 0 ? "*" : origin);
        buf_puts(o, "\r\nVary: Origin\r\nAccess-Control-Expose-Headers: X-Request-Id, "
                    "Retry-After, Idempotency-Replay\r\n");
    } else if (cfg_cors != NULL && cfg_cors[0] != '\0' && strcmp(cfg_cors, "*") != 0) {
        /* the answer depends on the Origin: a cache must not give this copy to another one */
        buf_puts(o, "Vary: Origin\r\n");
    }
    if (r->res_headers.len)
        buf_append(o, r->res_headers.data, r->res_headers.len);
    buf_puts(o, "\r\n");
    return keep;
}

/* The request is answered: free it, then close or go on with the next one. */
void net__http_respond_done(struct conn *c, struct http_req *r, int status, bool keep)
{
    bool was_paused = c->u.http.paused;
    c->u.http.req = NULL;
    c->u.http.paused = false;
    c->u.http.streaming = false;
    c->u.http.body_hold = false;
    net__http_req_free(r);
    if (status == 101)
        return;
    if (!keep) {
        net__conn_close_after_flush(c);
        return;
    }
    c->since = net__now(c->loop);
    if (was_paused)
        net__http_resume(c);
}

void http_respond(struct http_req *r, int status, const char *ctype, const void *body, size_t len)
{
    struct conn *c = r->conn;
    net__http_finish(r, status, len);
    if (c == NULL || c->state != CONN_OPEN) {
        net__http_req_free(r);
        return;
    }
    bool keep = net__http_write_head(r, c, status, ctype, len);
    if (r->method != HTTP_M_HEAD && status != 204 && status != 304 && len)
        buf_append(&c->out, body, len);
    /* net__conn_send does the dirty-list bookkeeping; append nothing more */
    net__conn_send(c, "", 0);
    net__http_respond_done(c, r, status, keep);
}

void http_respond_json(struct http_req *r, int status, const char *json, size_t len)
{
    http_respond(r, status, "application/json", json, len);
}

static void error_body(struct buf *b, const char *code, const char *message, const char *field)
{
    buf_puts(b, "{\"error\":{\"code\":");
    buf_json_str(b, code);
    buf_puts(b, ",\"message\":");
    buf_json_str(b, message);
    if (field != NULL && field[0] != '\0') { /* "": the body as a whole, no member */
        buf_puts(b, ",\"field\":");
        buf_json_str(b, field);
    }
    buf_puts(b, "}}");
}

void http_respond_error(struct http_req *r, int status, const char *code, const char *message,
                        const char *field)
{
    struct buf b = BUF_INIT;
    error_body(&b, code, message, field);
    http_respond_json(r, status, b.data, b.len);
    buf_release(&b);
}

void http_respond_err(struct http_req *r, int err, const char *message, const char *field)
{
    http_respond_error(r, err_http_status(err), err_code(err), message ? message : err_str(err),
                       field);
}

/* A CORS preflight: the allowed methods and headers, or 403 for an origin not listed. */
void net__http_preflight(struct http_req *r)
{
    const char *origin = cors_origin(r);
    if (origin == NULL) {
        http_respond_error(r, 403, "forbidden", "origin not allowed", NULL);
        return;
    }
    const char *req_hdrs = http_req_header(r, "Access-Control-Request-Headers");
    http_res_header(r, "Access-Control-Allow-Methods",
                    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    http_res_header(r, "Access-Control-Allow-Headers",
                    req_hdrs ? req_hdrs
                             : "Authorization, Content-Type, X-App-Key, X-App-Secret, "
                               "X-Request-Id, Idempotency-Key");
    http_res_header(r, "Access-Control-Max-Age", "600");
    http_respond(r, 204, NULL, NULL, 0);
}
