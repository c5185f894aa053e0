/*
 * Error codes shared by every module. Actions return 0 or a negative enum err;
 * err_http_status(), err_code() and err_retry_after() map them to an HTTP status, the
 * snake_case error code and a Retry-After in exactly one place (router/request.h answers
 * with them). A client-caused error is never a 5xx.
 *
 * Back-pressure: ERR_AGAIN means a queue of this server is full (the store's op queue, the
 * password worker pool, a database that stayed locked): 503 `unavailable` with
 * `Retry-After: 1`. It is not a rate limit: limits on a client (per app, per login
 * account or address) answer 429 `rate_limited` with their own Retry-After where they are
 * enforced, and never travel as ERR_AGAIN.
 */
#ifndef HERALD_CORE_ERR_H
#define HERALD_CORE_ERR_H

enum err {
    ERR_OK = 0,
    ERR_INVAL = -1,     /* validation failed */
    ERR_NOTFOUND = -2,  /* no such object (also: another tenant's object) */
    ERR_EXISTS = -3,    /* conflict with an existing object */
    ERR_DENIED = -4,    /* authenticated but not allowed */
    ERR_TOOBIG = -5,    /* over a size limit */
    ERR_AGAIN = -6,     /* a queue is full (back-pressure); retry later: 503 */
    ERR_IO = -7,        /* operating-system I/O failure */
    ERR_BACKEND = -8,   /* store, bus or provider failure */
    ERR_UNAUTH = -9,    /* missing or bad credentials */
    ERR_JSON = -10,     /* body is not valid JSON */
    ERR_MEDIA = -11,    /* unsupported media type */
    ERR_UNAVAIL = -12,  /* not ready / shutting down */
    ERR_NOMETHOD = -13, /* route exists, method does not */
};

/* HTTP status for an error code (500 for unknown codes). */
int err_http_status(int err);

/* Error code string for an error code ("not_found"); static storage. */
const char *err_code(int err);

/* Seconds for a Retry-After header with this error, or 0 for none (ERR_AGAIN: 1). */
int err_retry_after(int err);

/* Human text for an error code; static storage. */
const char *err_str(int err);

#endif
