/*
 * What every handler does with a request the same way: read its JSON body, and answer an
 * error code. One body reader (the media type, the strict JSON check of core/json_check, then
 * cJSON) and one error mapper (core/err.h: status, code and Retry-After) so that identity,
 * console and later feature handlers cannot drift apart. Loop thread, like the request.
 */
#ifndef HERALD_ROUTER_REQUEST_H
#define HERALD_ROUTER_REQUEST_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct http_req;

#define REQUEST_JSON_DEPTH 32 /* containers nested in a request body or a frame */

/*
 * Reads the request body as JSON. The Content-Type must be application/json (any case,
 * parameters allowed), else 415 unsupported_media_type. The text must pass json_check (RFC
 * 8259 grammar, one value and nothing after it, UTF-8, no raw control characters, no key
 * twice in an object, at most REQUEST_JSON_DEPTH deep), else 400 invalid_json naming the
 * problem (and the path in field where there is one). A string holding \u0000 is 422
 * validation_failed with the path of the value in field ("name", "contacts.email",
 * "users[3].id"): no C string holds it, and a cut value must never be stored.
 * Returns the parsed value (the caller frees it with cJSON_Delete), or NULL after answering.
 */
cJSON *request_body_json(struct http_req *req);

/*
 * Answers err with the one mapping of core/err.h: status, code, Retry-After (ERR_AGAIN: 503
 * unavailable, Retry-After: 1). message NULL: err_str(err). field may be NULL.
 */
void request_fail(struct http_req *req, int err, const char *message, const char *field);

/*
 * Answers a failed store op or worker step with request_fail: 404 "no such <what>", 409
 * "a <what> with this <field> exists" naming conflict_field (may be NULL), 422 for a value
 * the store refused, 503 + Retry-After for back-pressure and a closing store, 500 for the
 * rest (logged where it happened).
 */
void request_fail_store(struct http_req *req, int err, const char *what,
                        const char *conflict_field);

#endif
