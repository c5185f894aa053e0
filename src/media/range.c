/*
 * A strict, allocation-free parser of the Range header: "bytes=" then exactly one
 * byte-range-spec or suffix-range. Anything it cannot read is ignored (whole file), as
 * RFC 9110 allows; several ranges are also answered with the whole file, which keeps the
 * server out of multipart/byteranges.
 */
#include "media/range.h"

#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Digits in [p, e) as a number saturating at UINT64_MAX; false when empty or not all
 * digits. */
static bool parse_num(const char *p, const char *e, uint64_t *v)
{
    if (p == e)
        return false;
    uint64_t x = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
    }
    *v = x;
    return true;
}

/* One range-spec in [p, e), already trimmed. */
static int parse_spec(const char *p, const char *e, uint64_t size, uint64_t *start, uint64_t *end)
{
    const char *dash = p;
    while (dash < e && *dash != '-')
        dash++;
    if (dash == e)
        return 1;
    uint64_t first, last;
    if (dash == p) { /* suffix: the last n bytes */
        if (!parse_num(dash + 1, e, &last))
            return 1;
        if (last == 0 || size == 0)
            return -1;
        *start = last >= size ? 0 : size - last;
        *end = size - 1;
        return 0;
    }
    if (!parse_num(p, dash, &first))
        return 1;
    if (dash + 1 == e) {
        last = UINT64_MAX;
    } else {
        if (!parse_num(dash + 1, e, &last))
            return 1;
        if (last < first)
            return 1; /* invalid: ignored */
    }
    if (first >= size)
        return -1;
    *start = first;
    *end = last >= size ? size - 1 : last;
    return 0;
}

int http_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *end)
{
    if (header == NULL || start == NULL || end == NULL)
        return 1;
    const char *p = header;
    while (is_ows(*p))
        p++;
    if (strncasecmp(p, "bytes", 5) != 0)
        return 1;
    p += 5;
    while (is_ows(*p))
        p++;
    if (*p != '=')
        return 1;
    p++;
    /* The range set: elements separated by commas, empty elements allowed (RFC 9110 §5.6.1). */
    const char *spec = NULL, *spec_end = NULL;
    while (*p != '\0') {
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *q = p;
        while (*q != '\0' && *q != ',')
            q++;
        const char *t = q;
        while (t > p && is_ows(t[-1]))
            t--;
        if (spec != NULL)
            return 1; /* more than one range: serve the whole file */
        spec = p;
        spec_end = t;
        p = q;
    }
    if (spec == NULL)
        return 1;
    return parse_spec(spec, spec_end, size, start, end);
}
