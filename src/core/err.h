/*
 * Error codes shared by every module. Actions return 0 or a negative enum err;
 * err_http_status() and err_code() map them to an HTTP status and the API's
 * snake_case code in exactly one place.
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
    ERR_AGAIN = -6,     /* busy or rate limited; retry later */
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

/* The error body's "code" string for an error code; static storage. */
const char *err_code(int err);

/* Human text for an error code; static storage. */
const char *err_str(int err);

#endif
