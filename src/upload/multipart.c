/*
 * The streaming multipart/form-data parser (see multipart.h). The body is read as if it
 * started with CRLF, so every delimiter, the first included, is "\r\n--" + boundary. A
 * boundary holds no CR (RFC 2046 bchars), so CR occurs in the delimiter only at its start:
 * when a partial match fails, every byte held so far is data (they are the delimiter's
 * prefix, re-emitted from the delimiter itself) and only the failing byte is looked at
 * again. Data runs between CRs are found with memchr and passed on without copying.
 */
#include "upload/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/xalloc.h"

#define HELD_NONE SIZE_MAX
#define PAD_MAX 64 /* transport padding (blanks) after a delimiter */

enum state {
    ST_PREAMBLE, /* before the first delimiter: discarded */
    ST_AFTER,    /* right after a delimiter: "--" or padding then CRLF */
    ST_AFTER_DASH,
    ST_AFTER_CR,
    ST_HEADERS, /* a part's header block, up to the empty line */
    ST_BODY,
    ST_EPILOGUE, /* after the closing delimiter: discarded */
};

struct multipart {
    struct multipart_cb cb;
    void *ud;
    struct multipart_limits lim;
    char delim[4 + MULTIPART_BOUNDARY_MAX + 1];
    size_t dlen;
    size_t match; /* delimiter bytes matched and held back */
    size_t pad;
    size_t nparts;
    enum state st;
    int err;
    const char *why;
    struct buf hdr; /* the header block being read */
};

static bool is_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

static bool boundary_is_valid(const char *b, size_t n)
{
    if (n == 0 || n > MULTIPART_BOUNDARY_MAX || b[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_bchar(b[i]))
            return false;
    return true;
}

/* ---- header parameters: token or quoted-string values (RFC 9110 5.6) */

/* Skips blanks. */
static const char *blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/*
 * Reads one "; name=value" parameter at p into name (lowercased) and val (unquoted),
 * both buffers of cap bytes; returns the position after it, or NULL at the end or on a
 * malformed one.
 */
static const char *param_next(const char *p, char *name, char *val, size_t cap, bool *bad)
{
    p = blanks(p);
    if (*p == '\0')
        return NULL;
    if (*p != ';') {
        *bad = true;
        return NULL;
    }
    p = blanks(p + 1);
    size_t n = 0;
    while (*p && *p != '=' && *p != ';' && *p != ' ' && *p != '\t') {
        if (n + 1 >= cap) {
            *bad = true;
            return NULL;
        }
        char c = *p++;
        name[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    name[n] = '\0';
    p = blanks(p);
    if (*p != '=' || n == 0) {
        *bad = true;
        return NULL;
    }
    p = blanks(p + 1);
    n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"') {
            /* browsers send a backslash as it is (and '"' as %22): only \" and \\ are
             * escapes, so a Windows path keeps its separators */
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                p++;
            if (n + 1 >= cap) {
                *bad = true;
                return NULL;
            }
            val[n++] = *p++;
        }
        if (*p != '"') {
            *bad = true;
            return NULL;
        }
        p++;
    } else {
        while (*p && *p != ';' && *p != ' ' && *p != '\t') {
            if (n + 1 >= cap) {
                *bad = true;
                return NULL;
            }
            val[n++] = *p++;
        }
    }
    val[n] = '\0';
    return p;
}

int multipart_boundary(const char *ct, char *out)
{
    static const char type[] = "multipart/form-data";
    if (ct == NULL)
        return -1;
    ct = blanks(ct);
    if (strncasecmp(ct, type, sizeof(type) - 1) != 0)
        return -1;
    const char *p = ct + sizeof(type) - 1;
    char name[MULTIPART_BOUNDARY_MAX + 2],
        val[MULTIPART_BOUNDARY_MAX + 2]; /* param_next: both cap */
    bool bad = false;
    int found = -1;
    while ((p = param_next(p, name, val, sizeof(val), &bad)) != NULL) {
        if (strcmp(name, "boundary") == 0) {
            if (found == 0 || !boundary_is_valid(val, strlen(val)))
                return -1; /* twice, or not a boundary */
            memcpy(out, val, strlen(val) + 1);
            found = 0;
        }
    }
    return bad ? -1 : found;
}

/* ---- the parser */

struct multipart *multipart_new(const char *boundary, const struct multipart_limits *lim,
                                const struct multipart_cb *cb, void *ud)
{
    size_t n = boundary ? strlen(boundary) : 0;
    if (!boundary_is_valid(boundary ? boundary : "", n) || lim->max_parts < 1 ||
        lim->max_header_bytes < 64)
        return NULL;
    struct multipart *m = xcalloc(1, sizeof(*m));
    m->cb = *cb;
    m->ud = ud;
    m->lim = *lim;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary, n + 1);
    m->dlen = 4 + n;
    m->match = 2; /* the body starts as if after a CRLF */
    m->st = ST_PREAMBLE;
    m->why = "";
    buf_init(&m->hdr);
    return m;
}

void multipart_free(struct multipart *m)
{
    if (m == NULL)
        return;
    buf_release(&m->hdr);
    free(m);
}

static int fail(struct multipart *m, int err, const char *why)
{
    m->err = err;
    m->why = why;
    return err;
}

/* Passes part data on (nothing outside a part's body). */
static int emit(struct multipart *m, const void *p, size_t n)
{
    if (n == 0 || m->st != ST_BODY || m->cb.on_part_data == NULL)
        return 0;
    if (m->cb.on_part_data(p, n, m->ud) != 0)
        return fail(m, MULTIPART_STOPPED, "stopped by the receiver");
    return 0;
}

/* Percent-decodes an RFC 8187 ext-value "UTF-8''%e2%82%ac.txt" in place; false if invalid. */
static bool ext_value_decode(char *v, size_t *len)
{
    char *q = strchr(v, '\'');
    if (q == NULL || (size_t)(q - v) != 5 || strncasecmp(v, "utf-8", 5) != 0)
        return false;
    char *r = strchr(q + 1, '\'');
    if (r == NULL)
        return false;
    const char *s = r + 1;
    size_t n = 0;
    while (*s) {
        if (*s == '%') {
            int hi = s[1], lo = hi ? s[2] : 0;
            char tmp[3] = {(char)hi, (char)lo, 0};
            char *end;
            if (hi == 0 || lo == 0 || strchr("0123456789abcdefABCDEF", hi) == NULL ||
                strchr("0123456789abcdefABCDEF", lo) == NULL)
                return false;
            v[n++] = (char)strtol(tmp, &end, 16);
            s += 3;
        } else {
            v[n++] = *s++;
        }
    }
    v[n] = '\0';
    *len = n;
    return true;
}

/* Parses the header block in m->hdr (CRLF lines, ending with an empty one) and begins the part. */
static int headers_done(struct multipart *m)
{
    char *blk = m->hdr.data;
    size_t cap = m->hdr.len + 1;
    char *name = xcalloc(1, cap), *filename = xcalloc(1, cap), *filename_ext = xcalloc(1, cap),
         *ctype = xcalloc(1, cap), *pn = xmalloc(cap), *pv = xmalloc(cap);
    bool has_cd = false, has_fn = false, has_fn_ext = false, has_ct = false;
    size_t fn_len = 0, fn_ext_len = 0;
    int rc = 0;
    char *line = blk;
    for (;;) {
        char *end = strstr(line, "\r\n");
        if (end == NULL || end == line)
            break; /* the empty line */
        *end = '\0';
        if (strchr(line, '\r') || strchr(line, '\n')) {
            rc = fail(m, MULTIPART_SYNTAX, "bare CR or LF in a part header");
            goto out;
        }
        char *colon = strchr(line, ':');
        if (colon == NULL || colon == line) {
            rc = fail(m, MULTIPART_SYNTAX, "malformed part header");
            goto out;
        }
        *colon = '\0';
        const char *val = blanks(colon + 1);
        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (has_cd) {
                rc = fail(m, MULTIPART_SYNTAX, "repeated Content-Disposition");
                goto out;
            }
            has_cd = true;
            const char *p = val;
            while (*p && *p != ';' && *p != ' ' && *p != '\t')
                p++;
            if ((size_t)(p - val) != 9 || strncasecmp(val, "form-data", 9) != 0) {
                rc = fail(m, MULTIPART_SYNTAX, "a part's Content-Disposition must be form-data");
                goto out;
            }
            bool bad = false;
            while ((p = param_next(p, pn, pv, cap, &bad)) != NULL) {
                if (strcmp(pn, "name") == 0) {
                    strcpy(name, pv);
                } else if (strcmp(pn, "filename") == 0) {
                    strcpy(filename, pv);
                    fn_len = strlen(pv);
                    has_fn = true;
                } else if (strcmp(pn, "filename*") == 0) {
                    strcpy(filename_ext, pv);
                    has_fn_ext = ext_value_decode(filename_ext, &fn_ext_len);
                }
            }
            if (bad) {
                rc = fail(m, MULTIPART_SYNTAX, "malformed Content-Disposition parameters");
                goto out;
            }
        } else if (strcasecmp(line, "Content-Type") == 0) {
            strcpy(ctype, val);
            has_ct = true;
        }
        line = end + 2;
    }
    if (!has_cd) {
        rc = fail(m, MULTIPART_SYNTAX, "a part has no Content-Disposition");
        goto out;
    }
    m->st = ST_BODY;
    struct multipart_part part = {
        .name = name,
        .filename = has_fn_ext ? filename_ext
                    : has_fn   ? filename
                               : NULL,
        .filename_len = has_fn_ext ? fn_ext_len : fn_len,
        .content_type = has_ct ? ctype : NULL,
    };
    if (m->cb.on_part_begin && m->cb.on_part_begin(&part, m->ud) != 0)
        rc = fail(m, MULTIPART_STOPPED, "stopped by the receiver");
out:
    free(name);
    free(filename);
    free(filename_ext);
    free(ctype);
    free(pn);
    free(pv);
    buf_release(&m->hdr);
    buf_init(&m->hdr);
    return rc;
}

/* A whole delimiter was matched: end the part in progress. */
static int delimiter_found(struct multipart *m)
{
    if (m->st == ST_BODY && m->cb.on_part_end && m->cb.on_part_end(m->ud) != 0)
        return fail(m, MULTIPART_STOPPED, "stopped by the receiver");
    m->st = ST_AFTER;
    m->pad = 0;
    return 0;
}

/* Scans the preamble or a body for the delimiter; returns bytes used or a negative error. */
static long scan(struct multipart *m, const uint8_t *d, size_t len)
{
    size_t i = 0, run = 0, held = HELD_NONE; /* held: where the match began in d */
    while (i < len) {
        if (m->match == 0) {
            const uint8_t *cr = memchr(d + i, '\r', len - i);
            if (cr == NULL) {
                i = len;
                break;
            }
            i = (size_t)(cr - d);
            held = i;
            m->match = 1;
            i++;
            continue;
        }
        if (d[i] == (uint8_t)m->delim[m->match]) {
            m->match++;
            i++;
            if (m->match == m->dlen) {
                m->match = 0;
                if (held != HELD_NONE && emit(m, d + run, held - run))
                    return m->err;
                if (delimiter_found(m))
                    return m->err;
                return (long)i;
            }
            continue;
        }
        /* mismatch: what was held is data; d[i] is looked at again */
        if (held == HELD_NONE) {
            if (emit(m, m->delim, m->match))
                return m->err;
            run = i;
        }
        held = HELD_NONE;
        m->match = 0;
    }
    size_t end = m->match > 0 ? (held != HELD_NONE ? held : run) : len;
    if (end > run && emit(m, d + run, end - run))
        return m->err;
    return (long)len;
}

int multipart_feed(struct multipart *m, const uint8_t *d, size_t len)
{
    if (m->err)
        return m->err;
    size_t i = 0;
    while (i < len) {
        switch (m->st) {
        case ST_PREAMBLE:
        case ST_BODY: {
            long used = scan(m, d + i, len - i);
            if (used < 0)
                return (int)used;
            i += (size_t)used;
            break;
        }
        case ST_AFTER:
        case ST_AFTER_DASH:
        case ST_AFTER_CR: {
            char c = (char)d[i++];
            if (m->st == ST_AFTER_DASH) {
                if (c != '-')
                    return fail(m, MULTIPART_SYNTAX, "malformed delimiter");
                m->st = ST_EPILOGUE;
            } else if (m->st == ST_AFTER_CR) {
                if (c != '\n')
                    return fail(m, MULTIPART_SYNTAX, "malformed delimiter line");
                if (++m->nparts > m->lim.max_parts)
                    return fail(m, MULTIPART_PARTS, "too many parts");
                m->st = ST_HEADERS;
            } else if (c == '-' && m->pad == 0) {
                m->st = ST_AFTER_DASH;
            } else if (c == '\r') {
                m->st = ST_AFTER_CR;
            } else if ((c == ' ' || c == '\t') && ++m->pad <= PAD_MAX) {
                /* transport padding */
            } else {
                return fail(m, MULTIPART_SYNTAX, "malformed delimiter line");
            }
            break;
        }
        case ST_HEADERS: {
            /* up to the empty line: the block is "\r\n" alone or ends with "\r\n\r\n" */
            size_t start = i;
            bool done = false;
            while (i < len && !done) {
                char c = (char)d[i++];
                if (c == '\0')
                    return fail(m, MULTIPART_SYNTAX, "NUL in a part header");
                size_t n = m->hdr.len + (i - start);
                if (n > m->lim.max_header_bytes)
                    return fail(m, MULTIPART_HEADERS, "part headers too large");
                if (c != '\n')
                    continue;
                buf_append(&m->hdr, d + start, i - start);
                start = i;
                const char *h = m->hdr.data;
                size_t hl = m->hdr.len;
                done = (hl == 2 && h[0] == '\r') ||
                       (hl >= 4 && memcmp(h + hl - 4, "\r\n\r\n", 4) == 0);
            }
            if (!done) {
                buf_append(&m->hdr, d + start, i - start);
                break;
            }
            buf_putc(&m->hdr, '\0');
            m->hdr.len--;
            if (headers_done(m))
                return m->err;
            break;
        }
        case ST_EPILOGUE:
            return 0; /* ignored, whatever its length (the caller bounds the body) */
        }
    }
    return 0;
}

int multipart_finish(struct multipart *m)
{
    if (m->err)
        return m->err;
    if (m->st != ST_EPILOGUE)
        return fail(m, MULTIPART_TRUNCATED, "the body ended before the closing delimiter");
    return 0;
}

const char *multipart_why(const struct multipart *m)
{
    return m->why;
}

size_t multipart_nparts(const struct multipart *m)
{
    return m->nparts;
}
