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
/* Whether the raw query names the parameter, with a value or not (http_req_query_param's -1
 * is both "absent" and "too long for the buffer"). */
bool http_req_has_query_param(const struct http_req *req, const char *name);
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

/* ---- streamed request bodies (routes added with router_add_stream, docs/adr/0009) */

/*
 * What a handler does with a body that arrives in pieces. Every call is on the request's
 * loop thread. on_data gets the decoded body bytes (chunked framing removed), borrowed for
 * the call: copy what you keep. It must not answer the request; it returns 0 for more, or
 * non-zero to take no more (the rest is read and dropped; answer when ready). on_end: the
 * whole body has arrived. on_abort: it never will (the client went away, sent a malformed
 * body, stopped sending for HERALD_IDLE_TIMEOUT, or the server is shutting down); the
 * handler still owns req and must answer it (into the void). on_end and on_abort may answer
 * at once. After on_data refused, neither is called.
 */
struct http_body_sink {
    int (*on_data)(struct http_req *req, const char *data, size_t len, void *ud);
    void (*on_end)(struct http_req *req, void *ud);
    void (*on_abort)(struct http_req *req, void *ud);
};

/*
 * Starts the body of a streaming route's request flowing to sink (borrowed; static) with
 * ud. Call once, from the handler or later (reading waits until then). For a request that
 * has no body, on_end runs at once.
 */
void http_req_body_stream(struct http_req *req, const struct http_body_sink *sink, void *ud);
/* Back-pressure: stop reading the body (the current read still arrives) / read again. */
void http_req_body_pause(struct http_req *req);
void http_req_body_resume(struct http_req *req);
/* The request's Content-Length, or -1 when it has none (chunked). */
int64_t http_req_content_length(const struct http_req *req);
/* False once the client has gone (the answer will be discarded). */
bool http_req_has_client(const struct http_req *req);

/* ---- streamed responses (files) */

/*
 * Sends the head of a response whose body (len bytes) follows with http_res_write: status,
 * Content-Type, Content-Length: len and the usual headers. The request stays in flight until
 * http_res_end. For HEAD no body is sent: call http_res_end next.
 */
void http_res_begin(struct http_req *req, int status, const char *content_type, uint64_t len);
/* Queues n body bytes (copied). Returns the bytes the connection has queued and not sent. */
size_t http_res_write(struct http_req *req, const void *p, size_t n);
/*
 * Calls fn(req, ud) once, on the loop, when the queued output of the connection has dropped
 * to at most low bytes (at once, from a later loop turn, when it already has), or when the
 * client has gone (http_req_has_client false).
 */
void http_res_when_drained(struct http_req *req, size_t low, void (*fn)(struct http_req *, void *),
                           void *ud);
/* Finishes a response begun with http_res_begin; frees req. Fewer bytes than announced
 * close the connection. */
void http_res_end(struct http_req *req);

/* The libuv loop (uv_loop_t *) that owns req, for uv_fs_* work on the request's behalf. */
void *http_req_uv_loop(const struct http_req *req);

/* The index of the loop that owns req (bus subscriptions are per loop). */
int http_req_loop(const struct http_req *req);

/* True once the server is shutting down: a response that never ends (an event stream) ends now. */
bool http_req_is_stopping(const struct http_req *req);

/* http_res_begin's len for a body without an end known in advance (an event stream): no
 * Content-Length, Connection: close; http_res_end closes the connection. */
#define HTTP_RES_OPEN_ENDED UINT64_MAX

/* Reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
