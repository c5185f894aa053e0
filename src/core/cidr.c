/*
 * IP addresses and CIDR blocks; see cidr.h. inet_pton does the parsing, so
 * the accepted address forms are exactly the C library's (no octal or short
 * IPv4 forms such as "10.1").
 */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_v4(const uint8_t addr[16])
{
    return memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0;
}

bool cidr_addr_parse(const char *s, size_t n, uint8_t addr[16])
{
    char tmp[CIDR_ADDR_TEXT];
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET, tmp, addr + 12) == 1) {
        memcpy(addr, v4_mapped, sizeof(v4_mapped));
        return true;
    }
    return inet_pton(AF_INET6, tmp, addr) == 1;
}

void cidr_addr_format(const uint8_t addr[16], char *out)
{
    if (is_v4(addr))
        inet_ntop(AF_INET, addr + 12, out, CIDR_ADDR_TEXT);
    else
        inet_ntop(AF_INET6, addr, out, CIDR_ADDR_TEXT);
}

bool cidr_contains(const struct cidr *block, const uint8_t addr[16])
{
    unsigned full = block->bits / 8, rest = block->bits % 8;
    if (memcmp(block->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (addr[full] & mask) == block->addr[full];
}

bool cidr_list_contains(const struct cidr *blocks, size_t n, const uint8_t addr[16])
{
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&blocks[i], addr))
            return true;
    return false;
}

/* One item of n bytes (no blanks around it) into *b; on error, why goes to err. */
static int parse_one(const char *s, size_t n, struct cidr *b, char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    if (!cidr_addr_parse(s, alen, b->addr)) {
        snprintf(err, errlen,
                 "invalid address \"%.*s\" (use an IPv4 or IPv6 address or CIDR block)",
                 (int)(alen > 60 ? 60 : alen), s);
        return -1;
    }
    unsigned max = memchr(s, ':', alen) == NULL ? 32 : 128, prefix = max; /* as written */
    if (slash) {
        const char *p = slash + 1, *end = s + n;
        if (p == end || end - p > 3)
            prefix = 999;
        else
            for (prefix = 0; p < end; p++)
                prefix = *p >= '0' && *p <= '9' ? prefix * 10 + (unsigned)(*p - '0') : 999;
        if (prefix > max) {
            snprintf(err, errlen, "invalid prefix length in \"%.*s\" (0 to %u)",
                     (int)(n > 60 ? 60 : n), s, max);
            return -1;
        }
    }
    b->bits = (uint8_t)(prefix + 128 - max);
    struct cidr masked = *b;
    for (unsigned i = b->bits; i < 128; i++)
        masked.addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
    if (memcmp(masked.addr, b->addr, 16) != 0) {
        char a[CIDR_ADDR_TEXT];
        cidr_addr_format(masked.addr, a);
        snprintf(err, errlen, "\"%.*s\" has host bits set (did you mean %s/%u?)",
                 (int)(n > 60 ? 60 : n), s, a, prefix);
        return -1;
    }
    return 0;
}

int cidr_list_parse(const char *list, struct cidr **out, char **text, char *err, size_t errlen)
{
    struct cidr *v = NULL;
    size_t n = 0;
    struct buf canon = BUF_INIT;
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        const char *s = p, *e = comma ? comma : p + strlen(p);
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (s == e) {
            snprintf(err, errlen, "empty entry in the list");
            goto out_fail;
        }
        v = xrealloc(v, (n + 1) * sizeof(*v));
        if (parse_one(s, (size_t)(e - s), &v[n], err, errlen) != 0)
            goto out_fail;
        char a[CIDR_ADDR_TEXT];
        cidr_addr_format(v[n].addr, a);
        buf_printf(&canon, "%s%s/%u", n ? "," : "", a,
                   is_v4(v[n].addr) ? v[n].bits - 96u : (unsigned)v[n].bits);
        n++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *out = v;
    if (text)
        *text = buf_detach(&canon, NULL);
    buf_release(&canon);
    return (int)n;

out_fail:
    free(v);
    buf_release(&canon);
    return -1;
}
