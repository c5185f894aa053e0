/*
 * The checks of a request head that llhttp, even in its strict mode, leaves to
 * us (docs/adr/0003 lists every case and its answer): the line syntax, scanned
 * before llhttp sees the bytes, and the Host and Transfer-Encoding fields,
 * checked once the head is complete. Pure functions of the bytes and fields.
 */
#include "net/http_internal.h"

#include <string.h>
#include <strings.h>

/* A Host value: uri-host [":" port], possibly empty (RFC 9112 3.2, RFC 3986 3.2.2). */
static bool host_is_valid(const char *h)
{
    for (; *h; h++) {
        char ch = *h;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') ||
                  (ch != '\0' && strchr("-._~%!$&'()*+,;=:[]", ch) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

/* Exactly one valid Host in HTTP/1.1, at most one in HTTP/1.0. */
bool net__http_host_is_sane(const struct http_req *r)
{
    int n = 0;
    for (int i = 0; i < r->nhdrs; i++) {
        if (strcasecmp(net__http_hdr_name(r, i), "Host") != 0)
            continue;
        if (++n > 1 || !host_is_valid(net__http_hdr_val(r, i)))
            return false;
    }
    return n == 1 || (n == 0 && r->http_minor == 0);
}

/*
 * The transfer codings of every Transfer-Encoding line, in order (RFC 9112
 * 6.1): absent is fine; otherwise they must end with the only chunked (else
 * the body length is unknown: 400), and chunked must be all there is (we
 * decode nothing else: 501). HTTP/1.0 has no transfer codings (400).
 */
enum why net__http_transfer_codings_check(const struct http_req *r, int *status)
{
    bool any = false, last_chunked = false, other = false;
    int nchunked = 0;
    for (int i = 0; i < r->nhdrs; i++) {
        if (strcasecmp(net__http_hdr_name(r, i), "Transfer-Encoding") != 0)
            continue;
        any = true;
        for (const char *v = net__http_hdr_val(r, i);;) {
            while (*v == ' ' || *v == '\t')
                v++;
            const char *s = v;
            while (*v != '\0' && *v != ',')
                v++;
            const char *e = v;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > s) { /* empty list elements are allowed */
                last_chunked = e - s == 7 && strncasecmp(s, "chunked", 7) == 0;
                nchunked += last_chunked;
                other |= !last_chunked;
            }
            if (*v == '\0')
                break;
            v++;
        }
    }
    *status = 400;
    if (!any)
        return WHY_LLHTTP;
    if (r->http_minor == 0)
        return WHY_TE_HTTP10;
    if (!last_chunked || nchunked != 1)
        return WHY_TE_FINAL;
    if (other) {
        *status = 501;
        return WHY_TE_CODING;
    }
    return WHY_LLHTTP;
}

/* Scans data; returns NULL, or why the head is refused. */
const char *net__http_head_scan(struct conn *c, const char *data, size_t len)
{
    uint8_t st = c->u.http.head_scan;
    const char *p = data, *end = data + len;
    const char *why = NULL;
    for (; p < end && st != HS_DONE && why == NULL; p++) {
        char ch = *p;
        switch (st) {
        case HS_START:
            if (ch == '\r')
                st = HS_START_CR;
            else if (ch == '\n')
                why = "bare LF before the request line";
            else
                st = ch == ' ' ? HS_LINE_SP : HS_LINE;
            break;
        case HS_START_CR:
        case HS_LINE_CR:
        case HS_FIELD_CR:
            if (ch != '\n')
                why = "bare CR in the request head";
            else
                st = st == HS_START_CR ? HS_START : HS_FIELD_START;
            break;
        case HS_LINE:
        case HS_LINE_SP:
            if (ch == '\n')
                why = "bare LF in the request line";
            else if (ch == ' ' && st == HS_LINE_SP)
                why = "more than one space in the request line";
            else
                st = ch == '\r' ? HS_LINE_CR : ch == ' ' ? HS_LINE_SP : HS_LINE;
            break;
        case HS_FIELD_START:
            if (ch == ' ' || ch == '\t')
                why = "obsolete line folding (obs-fold) in a header";
            else if (ch == ':')
                why = "empty header name";
            else if (ch == '\n')
                why = "bare LF in the request head";
            else
                st = ch == '\r' ? HS_END_CR : HS_FIELD;
            break;
        case HS_FIELD: {
            /* llhttp refuses a bare LF inside a field line; find its end fast */
            const char *cr = memchr(p, '\r', (size_t)(end - p));
            if (cr == NULL) {
                p = end - 1;
                break;
            }
            p = cr;
            st = HS_FIELD_CR;
            break;
        }
        case HS_END_CR:
            if (ch != '\n')
                why = "bare CR in the request head";
            st = HS_DONE;
            break;
        default:
            break;
        }
    }
    c->u.http.head_scan = st;
    return why;
}
