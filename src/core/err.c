/*
 * The one mapping from enum err to HTTP statuses, error codes and Retry-After (see err.h).
 */
#include "err.h"

int err_http_status(int err)
{
    switch (err) {
    case ERR_OK:
        return 200;
    case ERR_INVAL:
        return 422;
    case ERR_NOTFOUND:
        return 404;
    case ERR_EXISTS:
        return 409;
    case ERR_DENIED:
        return 403;
    case ERR_TOOBIG:
        return 413;
    case ERR_AGAIN:
        return 503;
    case ERR_UNAUTH:
        return 401;
    case ERR_JSON:
        return 400;
    case ERR_MEDIA:
        return 415;
    case ERR_UNAVAIL:
        return 503;
    case ERR_NOMETHOD:
        return 405;
    default:
        return 500;
    }
}

const char *err_code(int err)
{
    switch (err) {
    case ERR_OK:
        return "ok";
    case ERR_INVAL:
        return "validation_failed";
    case ERR_NOTFOUND:
        return "not_found";
    case ERR_EXISTS:
        return "conflict";
    case ERR_DENIED:
        return "forbidden";
    case ERR_TOOBIG:
        return "payload_too_large";
    case ERR_AGAIN:
        return "unavailable";
    case ERR_UNAUTH:
        return "unauthorized";
    case ERR_JSON:
        return "invalid_json";
    case ERR_MEDIA:
        return "unsupported_media_type";
    case ERR_UNAVAIL:
        return "unavailable";
    case ERR_NOMETHOD:
        return "method_not_allowed";
    default:
        return "internal_error";
    }
}

int err_retry_after(int err)
{
    return err == ERR_AGAIN ? 1 : 0;
}

const char *err_str(int err)
{
    switch (err) {
    case ERR_OK:
        return "ok";
    case ERR_INVAL:
        return "validation failed";
    case ERR_NOTFOUND:
        return "not found";
    case ERR_EXISTS:
        return "already exists";
    case ERR_DENIED:
        return "forbidden";
    case ERR_TOOBIG:
        return "payload too large";
    case ERR_AGAIN:
        return "busy; retry later";
    case ERR_IO:
        return "i/o error";
    case ERR_BACKEND:
        return "backend error";
    case ERR_UNAUTH:
        return "unauthorized";
    case ERR_JSON:
        return "invalid json";
    case ERR_MEDIA:
        return "unsupported media type";
    case ERR_UNAVAIL:
        return "unavailable";
    case ERR_NOMETHOD:
        return "method not allowed";
    default:
        return "internal error";
    }
}
