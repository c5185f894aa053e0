/*
 * HERALD_REDIS_URL parsing; see redis_url.h.
 */
#include "core/redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/url.h"

static int fail(char *err, size_t errlen, const char *why)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", why);
    return -1;
}

/* The decimal number s[0..n) within [lo, hi] into *out. */
static int number(const char *s, size_t n, int lo, int hi, int *out)
{
    if (n == 0 || n > 6)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "rediss://", 9) == 0)
        return fail(err, errlen,
                    "TLS (rediss://) is not supported; use redis:// on a private "
                    "network or a local TLS tunnel");
    if (strncmp(url, "redis://", 8) != 0)
        return fail(err, errlen, "must start with redis://");
    const char *p = url + 8;
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at != NULL) { /* [USER]:PASSWORD or PASSWORD */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon != NULL ? colon + 1 : p;
        size_t ulen = colon != NULL ? (size_t)(colon - p) : 0;
        size_t plen = (size_t)(at - pw);
        if (ulen >= sizeof(out->user) || plen >= sizeof(out->pass) ||
            url_decode(p, ulen, out->user, false) < 0 || url_decode(pw, plen, out->pass, false) < 0)
            return fail(err, errlen, "the user or password is malformed or too long");
        p = at + 1;
    }
    const char *hend;
    const char *portp = NULL;
    if (*p == '[') { /* [IPv6] */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close == NULL)
            return fail(err, errlen, "an IPv6 host needs its closing ]");
        if ((size_t)(close - p - 1) >= sizeof(out->host) || close == p + 1)
            return fail(err, errlen, "the host is empty or too long");
        memcpy(out->host, p + 1, (size_t)(close - p - 1));
        hend = close + 1;
        if (hend < end && *hend != ':')
            return fail(err, errlen, "unexpected text after the IPv6 host");
        if (hend < end)
            portp = hend + 1;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon != NULL ? colon : end;
        if (hend == p || (size_t)(hend - p) >= sizeof(out->host))
            return fail(err, errlen, "the host is empty or too long");
        memcpy(out->host, p, (size_t)(hend - p));
        if (colon != NULL)
            portp = colon + 1;
    }
    if (portp != NULL && number(portp, (size_t)(end - portp), 1, 65535, &out->port) != 0)
        return fail(err, errlen, "the port must be a number from 1 to 65535");
    if (*end == '?' || *end == '#')
        return fail(err, errlen, "query strings and fragments are not supported");
    if (*end == '/' && end[1] != '\0' &&
        number(end + 1, strlen(end + 1), 0, 1000000, &out->db) != 0)
        return fail(err, errlen, "the database (after /) must be a number");
    return 0;
}
