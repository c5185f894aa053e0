/*
 * The HTTP request as handlers see it, and the calls that answer it. A request
 * lives in its own arena-like allocation from the first byte until the
 * response has been queued; everything a handler reads from it (method, path,
 * headers, body, path parameters) is borrowed until then.
 *
 * Every request must be answered exactly once with http_respond() or one of
 * its wrappers, on the loop thread that owns it. A handler may answer later
 * (after a store or worker completion); the connection reads no further
 * request until then, so pipelined responses stay in order. If the client
 * goes away first, the answer is discarded and the request freed. Until it
 * is answered, a request counts as in flight on its loop, and a loop does not
 * end (shutdown) while it has one: a completion posted for it always lands on
 * a live loop (docs/ARCHITECTURE.md, "Shutdown").
 */
#ifndef HERALD_NET_HTTP_H
#define HERALD_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_req;

enum http_method {
    HTTP_M_GET = 1 << 0,
    HTTP_M_HEAD = 1 << 1,
    HTTP_M_POST = 1 << 2,
    HTTP_M_PUT = 1 << 3,
    HTTP_M_PATCH = 1 << 4,
    HTTP_M_DELETE = 1 << 5,
    HTTP_M_OPTIONS = 1 << 6,
    HTTP_M_OTHER = 1 << 7,
};

/* Method bit of the request (HTTP_M_OTHER for methods Herald has no use for). */
int http_req_method(const struct http_req *req);
/* Method name as sent ("GET"). */
const char *http_req_method_name(const struct http_req *req);
/* Raw path, without the query string (percent-encoding kept). */
const char *http_req_path(const struct http_req *req);
/* Raw query string without '?', or "" when absent. */
const char *http_req_query(const struct http_req *req);
/*
 * Looks up a query parameter, percent-decoded, into out (size outlen).
 * Returns the decoded length, or -1 when absent or longer than outlen-1.
 */
int http_req_query_param(const struct http_req *req, const char *name, char *out, size_t outlen);
/* First header with this name (case-insensitive), or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);
/* True if a comma-separated header contains token (case-insensitive). */
bool http_req_header_has_token(const struct http_req *req, const char *name, const char *token);
/* Request body (NUL-terminated after len bytes; "" when there is none). */
const char *http_req_body(const struct http_req *req, size_t *len);
/* Path parameter captured by the router ("{id}"), percent-decoded, or NULL. */
const char *http_req_param(const struct http_req *req, const char *name);
/* The request id (echoed X-Request-Id or a generated one). */
const char *http_req_id(const struct http_req *req);
/* Client address as text (honours X-Forwarded-For when HERALD_TRUST_PROXY is on). */
const char *http_req_peer(const struct http_req *req);

/*
 * Runs fn(arg) on the loop thread that owns req; callable from any thread
 * (a worker or store thread that finished the request's work), also after the
 * client has gone. The handler still owns req and answers it from fn.
 */
void http_req_post(struct http_req *req, void (*fn)(void *arg), void *arg);

/* Adds a response header; name and value are copied. Call before http_respond(). */
void http_res_header(struct http_req *req, const char *name, const char *value);

/*
 * Queues the response and finishes the request: status, Content-Type (NULL:
 * none), body of len bytes (copied). Adds Date, Content-Length, Connection,
 * X-Request-Id and CORS headers; drops the body for HEAD. req is freed (or
 * handed back to the connection) before this returns: do not touch it again.
 */
void http_respond(struct http_req *req, int status, const char *content_type, const void *body,
                  size_t len);
/* http_respond with Content-Type application/json. */
void http_respond_json(struct http_req *req, int status, const char *json, size_t len);
/* The JSON error body {"error":{"code","message","field"?}}; field may be NULL. */
void http_respond_error(struct http_req *req, int status, const char *code, const char *message,
                        const char *field);
/* http_respond_error from an enum err (status and code from err_http_status/err_code). */
void http_respond_err(struct http_req *req, int err, const char *message, const char *field);

/* Reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
