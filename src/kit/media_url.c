/*
 * Media URLs: the /media/ path rule, stored and absolute forms (see media_url.h).
 */
#include "media_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/url.h"
#include "core/xalloc.h"
#include "net/http.h"

#define MEDIA_PREFIX "/media/"
#define MEDIA_PREFIX_LEN (sizeof(MEDIA_PREFIX) - 1)

static char base_url[2048]; /* written once at start (media_url_setup), then read-only */
static bool trust_proxy;

bool media_path_check(const char *raw, char *rel)
{
    char buf[MEDIA_REL_MAX + 1];
    char *out = rel != NULL ? rel : buf;
    size_t n = strlen(raw);
    if (n <= MEDIA_PREFIX_LEN || strncmp(raw, MEDIA_PREFIX, MEDIA_PREFIX_LEN) != 0 ||
        n - MEDIA_PREFIX_LEN > MEDIA_REL_MAX)
        return false;
    long len = url_decode(raw + MEDIA_PREFIX_LEN, n - MEDIA_PREFIX_LEN, out, false);
    if (len <= 0)
        return false;
    bool seg_start = true;
    for (long i = 0; i < len; i++) {
        char c = out[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '/';
        if (!ok || (seg_start && (c == '.' || c == '/')))
            return false;
        seg_start = c == '/';
    }
    return !seg_start; /* no trailing '/' */
}

void media_url_setup(const char *base, bool trust)
{
    snprintf(base_url, sizeof(base_url), "%s", base != NULL ? base : "");
    trust_proxy = trust;
}

const char *media_url_base(void)
{
    return base_url;
}

const char *media_url_under_base(const char *s)
{
    size_t blen = strlen(base_url);
    if (blen == 0 || strncmp(s, base_url, blen) != 0 ||
        strncmp(s + blen, MEDIA_PREFIX, MEDIA_PREFIX_LEN) != 0)
        return NULL;
    return s + blen;
}

const char *media_url_stored(const char *s)
{
    const char *rel = media_url_under_base(s);
    if (rel == NULL && s[0] != '/')
        return s; /* an external URL (or none): as given */
    if (rel == NULL)
        rel = s;
    return media_path_check(rel, NULL) ? rel : NULL;
}

int media_url_abs(struct http_req *req, const char *s, char *out, size_t outlen)
{
    int n;
    if (strncmp(s, MEDIA_PREFIX, MEDIA_PREFIX_LEN) != 0 || (base_url[0] == '\0' && req == NULL)) {
        n = snprintf(out, outlen, "%s", s);
    } else if (base_url[0] != '\0') {
        n = snprintf(out, outlen, "%s%s", base_url, s);
    } else {
        const char *scheme = "http";
        const char *proto = trust_proxy ? http_req_header(req, "X-Forwarded-Proto") : NULL;
        if (proto != NULL && strcasecmp(proto, "https") == 0)
            scheme = "https";
        const char *host = http_req_header(req, "Host");
        n = snprintf(out, outlen, "%s://%s%s", scheme, host ? host : "localhost", s);
    }
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

char *media_url_out(struct http_req *req, const char *s)
{
    if (s == NULL)
        return NULL;
    const char *host = req != NULL ? http_req_header(req, "Host") : NULL;
    size_t n = strlen(base_url) + strlen(s) + (host != NULL ? strlen(host) : 9) + 16;
    char *out = xmalloc(n);
    if (media_url_abs(req, s, out, n) != 0) /* cannot happen: n covers every form */
        snprintf(out, n, "%s", s);
    return out;
}
