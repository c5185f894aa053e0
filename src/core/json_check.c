/*
 * The strict JSON check (see json_check.h): a recursive-descent scanner that builds nothing.
 * Object keys are unescaped onto a stack (with their byte ranges) while their object is open;
 * when the object closes, its keys are sorted and neighbours compared, so a repeat costs
 * O(n log n) whatever the number of members, and the stack is cut back to the parent's keys.
 */
#include "json_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/xalloc.h"

#define INLINE_KEYS 32
#define INLINE_BYTES 512

struct key {
    size_t off, len; /* unescaped bytes in ck->bytes */
    size_t pos;      /* offset of the key in the text */
};

struct seg {
    bool is_index;
    size_t index;    /* array element */
    size_t off, len; /* object member: its key in ck->bytes */
};

struct checker {
    const unsigned char *s;
    size_t len, pos;
    int max_depth, depth;
    int nsegs; /* segs[0..nsegs) is the path of the value being read */
    /* unescaped keys of the open objects */
    struct key *keys;
    size_t nkeys, capkeys;
    char *bytes;
    size_t nbytes, capbytes;
    /* the first \u0000 or number too large for a double, kept until the whole text has proved
       valid */
    bool nul_seen;
    enum json_check_kind nul_kind; /* JSON_CHECK_NUL or JSON_CHECK_RANGE */
    size_t nul_offset;
    struct json_check_result *out;
    /* from here on: not cleared (written before read) */
    char nul_path[JSON_CHECK_PATH_MAX];
    struct seg segs[JSON_CHECK_DEPTH_MAX];
    struct key inline_keys[INLINE_KEYS];
    char inline_bytes[INLINE_BYTES];
};

/* ---- growing the key stacks (inline first) */

static void bytes_put(struct checker *ck, const void *p, size_t n)
{
    if (ck->nbytes + n > ck->capbytes) {
        size_t cap = ck->capbytes * 2;
        while (cap < ck->nbytes + n)
            cap *= 2;
        if (ck->bytes == ck->inline_bytes) {
            char *heap = xmalloc(cap);
            memcpy(heap, ck->bytes, ck->nbytes);
            ck->bytes = heap;
        } else {
            ck->bytes = xrealloc(ck->bytes, cap);
        }
        ck->capbytes = cap;
    }
    memcpy(ck->bytes + ck->nbytes, p, n);
    ck->nbytes += n;
}

static void key_push(struct checker *ck, struct key k)
{
    if (ck->nkeys == ck->capkeys) {
        size_t cap = ck->capkeys * 2;
        if (ck->keys == ck->inline_keys) {
            struct key *heap = xmalloc(cap * sizeof(*heap));
            memcpy(heap, ck->keys, ck->nkeys * sizeof(*heap));
            ck->keys = heap;
        } else {
            ck->keys = xrealloc(ck->keys, cap * sizeof(*ck->keys));
        }
        ck->capkeys = cap;
    }
    ck->keys[ck->nkeys++] = k;
}

/* ---- paths and results */

/* The largest length <= max of the n bytes at p that does not split a UTF-8 character. */
static size_t utf8_cut(const char *p, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
        n--; /* p[n] would continue the character that starts before it */
    return n;
}

/* Appends n bytes of p to out (size JSON_CHECK_PATH_MAX), cutting at a character boundary. */
static void path_append(char *out, const char *p, size_t n)
{
    size_t have = strlen(out);
    n = utf8_cut(p, n, JSON_CHECK_PATH_MAX - 1 - have);
    memcpy(out + have, p, n);
    out[have + n] = '\0';
}

static void path_build(const struct checker *ck, int nsegs, char *out)
{
    out[0] = '\0';
    for (int i = 0; i < nsegs; i++) {
        const struct seg *g = &ck->segs[i];
        if (g->is_index) {
            char num[32];
            int n = snprintf(num, sizeof(num), "[%zu]", g->index);
            path_append(out, num, (size_t)n);
        } else {
            if (i > 0)
                path_append(out, ".", 1);
            /* a key holding \u0000 shows up to it: the path is a C string */
            const char *k = ck->bytes + g->off;
            path_append(out, k, strnlen(k, g->len));
        }
    }
}

static int fail(struct checker *ck, enum json_check_kind kind, size_t offset, const char *message)
{
    struct json_check_result *o = ck->out;
    o->kind = kind;
    o->offset = offset;
    path_build(ck, ck->nsegs, o->path);
    snprintf(o->message, sizeof(o->message), "%s at byte %zu", message, offset);
    return -1;
}

/* A problem at the current position; the end of the text is always a syntax error. */
static int fail_here(struct checker *ck, enum json_check_kind kind)
{
    if (ck->pos >= ck->len)
        return fail(ck, JSON_CHECK_SYNTAX, ck->len, "unexpected end of the text");
    switch (kind) {
    case JSON_CHECK_UTF8:
        return fail(ck, kind, ck->pos, "invalid UTF-8");
    case JSON_CHECK_CONTROL:
        return fail(ck, kind, ck->pos, "a raw control character in a string");
    default:
        return fail(ck, JSON_CHECK_SYNTAX, ck->pos, "unexpected character");
    }
}

/* ---- scanning */

static void skip_ws(struct checker *ck)
{
    while (ck->pos < ck->len) {
        unsigned char c = ck->s[ck->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ck->pos++;
    }
}

/* Length of the valid UTF-8 sequence at s (n bytes available, s[0] >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF: surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 (overlong ASCII), F5..FF */
    }
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return need;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(struct checker *ck, unsigned cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    bytes_put(ck, b, n);
}

/* A \u0000 (or a number out of range) at byte at: in a value, the path names the value; in a key,
 * its object. */
static void note_refusal(struct checker *ck, size_t at, enum json_check_kind kind)
{
    if (ck->nul_seen)
        return;
    ck->nul_seen = true;
    ck->nul_kind = kind;
    ck->nul_offset = at;
    path_build(ck, ck->nsegs, ck->nul_path);
}

/* A string at ck->pos (the opening quote); a key is unescaped onto the key bytes. */
static int scan_string(struct checker *ck, bool is_key)
{
    const unsigned char *s = ck->s;
    ck->pos++;            /* the quote */
    size_t run = ck->pos; /* start of bytes not yet copied (keys) */
    for (;;) {
        if (ck->pos >= ck->len)
            return fail_here(ck, JSON_CHECK_SYNTAX);
        unsigned char c = s[ck->pos];
        if (c == '"') {
            if (is_key)
                bytes_put(ck, s + run, ck->pos - run);
            ck->pos++;
            return 0;
        }
        if (c < 0x20)
            return fail_here(ck, JSON_CHECK_CONTROL);
        if (c >= 0x80) {
            size_t n = utf8_seq(s + ck->pos, ck->len - ck->pos);
            if (n == 0)
                return fail_here(ck, JSON_CHECK_UTF8);
            ck->pos += n;
            continue;
        }
        if (c != '\\') {
            ck->pos++;
            continue;
        }
        /* an escape */
        size_t at = ck->pos;
        if (is_key)
            bytes_put(ck, s + run, ck->pos - run);
        if (ck->pos + 1 >= ck->len)
            return fail(ck, JSON_CHECK_SYNTAX, ck->len, "unexpected end of the text");
        unsigned char e = s[ck->pos + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e != '\0' && simple != NULL) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            if (is_key)
                bytes_put(ck, &decoded[simple - "\"\\/bfnrt"], 1);
            ck->pos += 2;
            run = ck->pos;
            continue;
        }
        if (e != 'u') {
            ck->pos++;
            return fail_here(ck, JSON_CHECK_SYNTAX);
        }
        unsigned cp;
        if (ck->pos + 6 > ck->len || hex4(s + ck->pos + 2, &cp) != 0) {
            ck->pos += 2;
            return fail_here(ck, JSON_CHECK_SYNTAX);
        }
        ck->pos += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(ck, JSON_CHECK_UTF8, at, "a lone surrogate escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (ck->pos + 6 > ck->len || s[ck->pos] != '\\' || s[ck->pos + 1] != 'u' ||
                hex4(s + ck->pos + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                return fail(ck, JSON_CHECK_UTF8, at, "a lone surrogate escape");
            ck->pos += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0)
            note_refusal(ck, at, JSON_CHECK_NUL);
        if (is_key)
            put_utf8(ck, cp);
        run = ck->pos;
    }
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A number that a double cannot hold (1e999): it would be stored as null or infinity. Only long
 * numbers or those with an exponent can be; they are read with strtod. */
static void check_range(struct checker *ck, size_t start, bool exponent)
{
    size_t n = ck->pos - start;
    if (!exponent && n < 300)
        return;
    char small[64];
    char *t = n < sizeof(small) ? small : xmalloc(n + 1);
    memcpy(t, ck->s + start, n);
    t[n] = '\0';
    if (isinf(strtod(t, NULL)))
        note_refusal(ck, start, JSON_CHECK_RANGE);
    if (t != small)
        free(t);
}

static int scan_number(struct checker *ck)
{
    const unsigned char *s = ck->s;
    size_t start = ck->pos;
    bool exponent = false;
    if (ck->pos < ck->len && s[ck->pos] == '-')
        ck->pos++;
    if (ck->pos >= ck->len || !is_digit(s[ck->pos]))
        return fail_here(ck, JSON_CHECK_SYNTAX);
    if (s[ck->pos] == '0') {
        ck->pos++;
    } else {
        while (ck->pos < ck->len && is_digit(s[ck->pos]))
            ck->pos++;
    }
    if (ck->pos < ck->len && s[ck->pos] == '.') {
        ck->pos++;
        if (ck->pos >= ck->len || !is_digit(s[ck->pos]))
            return fail_here(ck, JSON_CHECK_SYNTAX);
        while (ck->pos < ck->len && is_digit(s[ck->pos]))
            ck->pos++;
    }
    if (ck->pos < ck->len && (s[ck->pos] == 'e' || s[ck->pos] == 'E')) {
        exponent = true;
        ck->pos++;
        if (ck->pos < ck->len && (s[ck->pos] == '+' || s[ck->pos] == '-'))
            ck->pos++;
        if (ck->pos >= ck->len || !is_digit(s[ck->pos]))
            return fail_here(ck, JSON_CHECK_SYNTAX);
        while (ck->pos < ck->len && is_digit(s[ck->pos]))
            ck->pos++;
    }
    check_range(ck, start, exponent);
    return 0;
}

static int scan_literal(struct checker *ck, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i < n; i++, ck->pos++)
        if (ck->pos >= ck->len || ck->s[ck->pos] != (unsigned char)word[i])
            return fail_here(ck, JSON_CHECK_SYNTAX);
    return 0;
}

static int key_cmp(const void *a, const void *b, void *arg)
{
    const struct key *x = a, *y = b;
    const char *bytes = arg;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(bytes + x->off, bytes + y->off, x->len);
    if (c != 0)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Keys [first, nkeys) are the members of the object that just closed. */
static int check_repeats(struct checker *ck, size_t first)
{
    size_t n = ck->nkeys - first;
    if (n < 2)
        return 0;
    struct key *k = ck->keys + first;
    const struct key *bad = NULL;
    if (n <= 8) { /* small objects, most of them: no sort */
        for (size_t i = 1; i < n && bad == NULL; i++)
            for (size_t j = 0; j < i; j++)
                if (k[i].len == k[j].len &&
                    memcmp(ck->bytes + k[i].off, ck->bytes + k[j].off, k[i].len) == 0) {
                    bad = &k[i]; /* keys are in text order: the first repeat */
                    break;
                }
    } else {
        qsort_r(k, n, sizeof(*k), key_cmp, ck->bytes);
        for (size_t i = 1; i < n; i++) {
            if (k[i].len == k[i - 1].len &&
                memcmp(ck->bytes + k[i].off, ck->bytes + k[i - 1].off, k[i].len) == 0 &&
                (bad == NULL || k[i].pos < bad->pos))
                bad = &k[i]; /* the later of the two, the first such in the text */
        }
    }
    if (bad == NULL)
        return 0;
    char name[68];
    const char *kb = ck->bytes + bad->off;
    size_t klen = utf8_cut(kb, strnlen(kb, bad->len), 64);
    memcpy(name, kb, klen);
    name[klen] = '\0';
    /* the path of the repeated member: the object's path and the key */
    struct json_check_result *o = ck->out;
    o->kind = JSON_CHECK_DUPLICATE;
    o->offset = bad->pos;
    path_build(ck, ck->nsegs, o->path);
    if (ck->nsegs > 0)
        path_append(o->path, ".", 1);
    path_append(o->path, name, strlen(name));
    snprintf(o->message, sizeof(o->message), "duplicate key \"%s\"", name);
    return -1;
}

static int scan_value(struct checker *ck);

static int scan_object(struct checker *ck)
{
    ck->pos++; /* { */
    size_t first_key = ck->nkeys, first_byte = ck->nbytes;
    skip_ws(ck);
    if (ck->pos < ck->len && ck->s[ck->pos] == '}') {
        ck->pos++;
        return 0;
    }
    for (;;) {
        skip_ws(ck);
        if (ck->pos >= ck->len || ck->s[ck->pos] != '"')
            return fail_here(ck, JSON_CHECK_SYNTAX);
        struct key k = {.off = ck->nbytes, .pos = ck->pos};
        if (scan_string(ck, true) != 0)
            return -1;
        k.len = ck->nbytes - k.off;
        key_push(ck, k);
        skip_ws(ck);
        if (ck->pos >= ck->len || ck->s[ck->pos] != ':')
            return fail_here(ck, JSON_CHECK_SYNTAX);
        ck->pos++;
        ck->segs[ck->nsegs++] = (struct seg){.off = k.off, .len = k.len};
        int rc = scan_value(ck);
        ck->nsegs--;
        if (rc != 0)
            return -1;
        skip_ws(ck);
        if (ck->pos < ck->len && ck->s[ck->pos] == ',') {
            ck->pos++;
            continue;
        }
        if (ck->pos < ck->len && ck->s[ck->pos] == '}') {
            ck->pos++;
            break;
        }
        return fail_here(ck, JSON_CHECK_SYNTAX);
    }
    if (check_repeats(ck, first_key) != 0)
        return -1;
    ck->nkeys = first_key; /* the parent's keys are on top again */
    ck->nbytes = first_byte;
    return 0;
}

static int scan_array(struct checker *ck)
{
    ck->pos++; /* [ */
    skip_ws(ck);
    if (ck->pos < ck->len && ck->s[ck->pos] == ']') {
        ck->pos++;
        return 0;
    }
    for (size_t i = 0;; i++) {
        ck->segs[ck->nsegs++] = (struct seg){.is_index = true, .index = i};
        int rc = scan_value(ck);
        ck->nsegs--;
        if (rc != 0)
            return -1;
        skip_ws(ck);
        if (ck->pos < ck->len && ck->s[ck->pos] == ',') {
            ck->pos++;
            continue;
        }
        if (ck->pos < ck->len && ck->s[ck->pos] == ']') {
            ck->pos++;
            return 0;
        }
        return fail_here(ck, JSON_CHECK_SYNTAX);
    }
}

static int scan_value(struct checker *ck)
{
    skip_ws(ck);
    if (ck->pos >= ck->len)
        return fail_here(ck, JSON_CHECK_SYNTAX);
    unsigned char c = ck->s[ck->pos];
    switch (c) {
    case '{':
    case '[': {
        if (ck->depth >= ck->max_depth) {
            char why[48];
            snprintf(why, sizeof(why), "containers nested deeper than %d", ck->max_depth);
            return fail(ck, JSON_CHECK_DEPTH_HIT, ck->pos, why);
        }
        ck->depth++;
        int rc = c == '{' ? scan_object(ck) : scan_array(ck);
        ck->depth--;
        return rc;
    }
    case '"':
        return scan_string(ck, false);
    case 't':
        return scan_literal(ck, "true");
    case 'f':
        return scan_literal(ck, "false");
    case 'n':
        return scan_literal(ck, "null");
    default:
        if (c == '-' || is_digit(c))
            return scan_number(ck);
        return fail_here(ck, JSON_CHECK_SYNTAX);
    }
}

int json_check(const char *s, size_t len, int max_depth, struct json_check_result *out)
{
    struct json_check_result scratch;
    struct checker ck; /* about 6 KiB: small texts allocate nothing */
    memset(&ck, 0, offsetof(struct checker, segs));
    ck.s = (const unsigned char *)s;
    ck.len = len;
    ck.max_depth = max_depth <= 0                     ? JSON_CHECK_DEPTH
                   : max_depth > JSON_CHECK_DEPTH_MAX ? JSON_CHECK_DEPTH_MAX
                                                      : max_depth;
    ck.keys = ck.inline_keys;
    ck.capkeys = INLINE_KEYS;
    ck.bytes = ck.inline_bytes;
    ck.capbytes = INLINE_BYTES;
    ck.out = out ? out : &scratch;
    ck.out->kind = JSON_CHECK_OK;
    ck.out->offset = 0;
    ck.out->path[0] = ck.out->message[0] = '\0';

    int rc = scan_value(&ck);
    if (rc == 0) {
        skip_ws(&ck);
        if (ck.pos < ck.len)
            rc = fail(&ck, JSON_CHECK_SYNTAX, ck.pos, "text after the value");
    }
    if (ck.keys != ck.inline_keys)
        free(ck.keys);
    if (ck.bytes != ck.inline_bytes)
        free(ck.bytes);
    if (rc != 0)
        return ERR_JSON;
    if (!ck.nul_seen)
        return 0;
    ck.out->kind = ck.nul_kind;
    ck.out->offset = ck.nul_offset;
    memcpy(ck.out->path, ck.nul_path, sizeof(ck.out->path));
    snprintf(ck.out->message, sizeof(ck.out->message), "%s",
             ck.nul_kind == JSON_CHECK_NUL ? "must not contain \\u0000"
                                           : "is a number too large to store");
    return ERR_INVAL;
}

bool json_utf8_is_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (p[i] == 0)
            return false;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}
