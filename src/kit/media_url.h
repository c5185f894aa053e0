/*
 * Media URLs (docs/uploads.md, "URLs and HERALD_BASE_URL"): a file under DATA_DIR/media is
 * named by a relative path, "/media/...". What Herald stores (an avatar, a media message's
 * url) keeps such a path relative, and what it writes out gets the current HERALD_BASE_URL in
 * front, so changing the setting moves every URL. One place for the three rules: the path
 * check GET /media/... applies, the stored form of a URL given by a client, and the absolute
 * form written out.
 *
 * media_url_setup runs once at start, before the loops; everything else reads what it set
 * and is safe on any thread.
 */
#ifndef HERALD_KIT_MEDIA_URL_H
#define HERALD_KIT_MEDIA_URL_H

#include <stdbool.h>
#include <stddef.h>

struct http_req;

#define MEDIA_REL_MAX 255 /* bytes of a path after "/media/", as written (before decoding) */

/*
 * The path rule of GET /media/...: raw is "/media/" + at most MEDIA_REL_MAX bytes, which,
 * percent-decoded once, are segments of letters, digits, '.', '_', '-' separated by single
 * '/', none empty or starting with a dot (no "..", "%2e%2e", hidden temp file, backslash, NUL,
 * query or trailing '/'). rel (MEDIA_REL_MAX + 1 bytes, may be NULL) gets the decoded part
 * after "/media/".
 */
bool media_path_check(const char *raw, char *rel);

/* HERALD_BASE_URL ("" or NULL: none; copied) and HERALD_TRUST_PROXY. Start-up only: the
 * server, and the commands that write users (herald user import). */
void media_url_setup(const char *base, bool trust_proxy);

/* HERALD_BASE_URL, "" when unset. */
const char *media_url_base(void);

/* The relative path inside s when s is HERALD_BASE_URL + "/media/..." (a pointer into s);
 * NULL when there is no base or s is not under it. */
const char *media_url_under_base(const char *s);

/*
 * The stored form of a URL a client gives where a media path is allowed (an avatar): a
 * relative "/media/..." path as it is, HERALD_BASE_URL + "/media/..." as its relative path
 * (a pointer into s), anything else (an external URL) s itself. NULL when the path of either
 * media form fails media_path_check, or s starts with '/' without being "/media/...".
 */
const char *media_url_stored(const char *s);

/*
 * The absolute URL of a stored value s into out (outlen bytes): a "/media/..." path gets
 * HERALD_BASE_URL in front; without a base, the scheme and Host req came to
 * (X-Forwarded-Proto: https honoured with HERALD_TRUST_PROXY), or, with no request (a frame
 * published to many sockets), the path as stored. Anything else is copied as it is. Returns
 * 0, or -1 when it does not fit.
 */
int media_url_abs(struct http_req *req, const char *s, char *out, size_t outlen);

/* media_url_abs as a new string (free it); NULL when s is NULL. */
char *media_url_out(struct http_req *req, const char *s);

#endif
