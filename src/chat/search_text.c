/*
 * Message search's text handling (search_text.h): UTF-8 decoding, the character classes
 * (separator, word, CJK), case folding, the index terms, the query and its expression, and
 * the snippet. Written once for both store backends, so SQLite and PostgreSQL index and query
 * the same terms (docs/chat.md, "Search").
 */
#include "chat/search_text.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"

enum cls { C_SEP, C_WORD, C_CJK };

#define SNIPPET_CHARS 80   /* characters of a snippet, without the marks and ellipses */
#define SNIPPET_BEFORE 20  /* of which at most this many come before the first hit */
#define SNIPPET_SCAN 20000 /* characters of a text the snippet looks at */

/* The code point at s[*i] (len bytes), advancing *i; -1 for an invalid byte (skipped). */
static long next_cp(const unsigned char *s, size_t len, size_t *i)
{
    unsigned c = s[*i];
    int n;
    unsigned long cp, min;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if ((c & 0xE0) == 0xC0) {
        n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3, cp = c & 0x07, min = 0x10000;
    } else {
        (*i)++;
        return -1;
    }
    if (*i + (size_t)n >= len) {
        (*i)++;
        return -1;
    }
    for (int k = 1; k <= n; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return -1;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return -1;
    }
    *i += (size_t)n + 1;
    return (long)cp;
}

long search_utf8_chars(const char *s, size_t len)
{
    long n = 0;
    for (size_t i = 0; i < len; n++) {
        if (next_cp((const unsigned char *)s, len, &i) < 0)
            return -1;
    }
    return n;
}

static enum cls cls_of(uint32_t c)
{
    if (c < 0x80) {
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            return C_WORD;
        return C_SEP;
    }
    if ((c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
        (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3FFFF) ||
        (c >= 0x3040 && c <= 0x30FF && c != 0x30FB) || (c >= 0x31F0 && c <= 0x31FF) ||
        (c >= 0xFF66 && c <= 0xFF9F) || c == 0x3005)
        return C_CJK;
    if (c <= 0xBF || c == 0xD7 || c == 0xF7 || (c >= 0x2000 && c <= 0x2BFF) ||
        (c >= 0x3000 && c <= 0x303F) || c == 0x30FB || (c >= 0xFE00 && c <= 0xFE0F) ||
        (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF0F) ||
        (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
        (c >= 0xFF5B && c <= 0xFF65) || (c >= 0xFFE0 && c <= 0xFFFF) ||
        (c >= 0x1F000 && c <= 0x1FAFF) || c == 0xFEFF || (c >= 0xE0000 && c <= 0xE007F))
        return C_SEP;
    return C_WORD;
}

/* Lower case for ASCII, Latin-1, Greek and Cyrillic; full-width ASCII letters and digits
 * become ASCII. */
static uint32_t fold(uint32_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c < 0x80)
        return c;
    if (c >= 0xFF21 && c <= 0xFF3A)
        return 'a' + (c - 0xFF21);
    if (c >= 0xFF41 && c <= 0xFF5A)
        return 'a' + (c - 0xFF41);
    if (c >= 0xFF10 && c <= 0xFF19)
        return '0' + (c - 0xFF10);
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
        (c >= 0x410 && c <= 0x42F))
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    return c;
}

static void put_cp(struct buf *b, uint32_t c)
{
    char o[4];
    size_t n;
    if (c < 0x80) {
        o[0] = (char)c, n = 1;
    } else if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3F)), n = 2;
    } else if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F)), n = 3;
    } else {
        o[0] = (char)(0xF0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((c >> 6) & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F)), n = 4;
    }
    buf_append(b, o, n);
}

/* Writes the code points cps[0..n) as one quoted term: "…" (FTS5) or '…' (tsquery and
 * tsvector), the quote doubled inside, a backslash doubled for PostgreSQL. */
static void put_term(struct buf *b, const uint32_t *cps, int n, enum search_dialect d)
{
    char q = d == SEARCH_FTS5 ? '"' : '\'';
    buf_putc(b, q);
    for (int k = 0; k < n; k++) {
        if (cps[k] == (uint32_t)q || (d == SEARCH_TSVECTOR && cps[k] == '\\'))
            buf_putc(b, (char)cps[k]);
        put_cp(b, cps[k]);
    }
    buf_putc(b, q);
}

/* The text as folded code points with their classes; returns the count. */
struct cpv {
    uint32_t *cp;
    unsigned char *cls;
    size_t *off; /* byte offset of each code point, and one past the last (may be NULL) */
    int n;
};

static void decode(struct cpv *v, const char *text, size_t len, size_t max, bool offsets)
{
    size_t cap = len < max ? len : max;
    v->cp = xmalloc((cap + 1) * sizeof(*v->cp));
    v->cls = xmalloc(cap + 1);
    v->off = offsets ? xmalloc((cap + 1) * sizeof(*v->off)) : NULL;
    v->n = 0;
    size_t i = 0;
    while (i < len && (size_t)v->n < cap) {
        size_t at = i;
        long c = next_cp((const unsigned char *)text, len, &i);
        if (v->off != NULL)
            v->off[v->n] = at;
        v->cp[v->n] = c < 0 ? ' ' : fold((uint32_t)c);
        v->cls[v->n] = c < 0 ? C_SEP : (unsigned char)cls_of((uint32_t)c);
        v->n++;
    }
    if (v->off != NULL)
        v->off[v->n] = i;
}

static void cpv_free(struct cpv *v)
{
    free(v->cp);
    free(v->cls);
    free(v->off);
}

/* One term of the index: a space before all but the first; for a tsvector its position. */
static void index_term(struct buf *b, const uint32_t *cps, int n, enum search_dialect d, int *pos)
{
    if (*pos > 0)
        buf_putc(b, ' ');
    (*pos)++;
    if (d == SEARCH_FTS5) {
        for (int k = 0; k < n; k++)
            put_cp(b, cps[k]);
    } else {
        put_term(b, cps, n, d);
        buf_printf(b, ":%d", *pos < 16383 ? *pos : 16383);
    }
}

char *search_index_terms(const char *text, size_t len, enum search_dialect d)
{
    struct cpv v;
    decode(&v, text, len, len, false);
    struct buf b;
    buf_init(&b);
    int pos = 0;
    for (int i = 0; i < v.n;) {
        int j = i;
        while (j < v.n && v.cls[j] == v.cls[i])
            j++;
        if (v.cls[i] == C_WORD) {
            index_term(&b, v.cp + i, j - i < SEARCH_WORD_MAX ? j - i : SEARCH_WORD_MAX, d, &pos);
        } else if (v.cls[i] == C_CJK) {
            for (int k = i; k + 1 < j; k++)
                index_term(&b, v.cp + k, 2, d, &pos);
            index_term(&b, v.cp + j - 1, 1, d, &pos);
        }
        i = j;
    }
    cpv_free(&v);
    return buf_detach(&b, NULL);
}

bool search_query_parse(struct search_query *out, const char *q, size_t len)
{
    struct cpv v;
    decode(&v, q, len, SEARCH_Q_MAX_CHARS, false);
    out->ncps = 0;
    out->npieces = 0;
    for (int i = 0; i < v.n;) {
        int j = i;
        while (j < v.n && v.cls[j] == v.cls[i])
            j++;
        if (v.cls[i] != C_SEP) {
            int n = j - i;
            if (v.cls[i] == C_WORD && n > SEARCH_WORD_MAX)
                n = SEARCH_WORD_MAX;
            struct search_piece *p = &out->pieces[out->npieces++];
            p->cjk = v.cls[i] == C_CJK;
            p->start = out->ncps;
            p->len = n;
            memcpy(out->cps + out->ncps, v.cp + i, (size_t)n * sizeof(uint32_t));
            out->ncps += n;
        }
        i = j;
    }
    cpv_free(&v);
    return out->npieces > 0;
}

char *search_query_expr(const struct search_query *q, enum search_dialect d)
{
    struct buf b;
    buf_init(&b);
    bool fts = d == SEARCH_FTS5;
    for (int i = 0; i < q->npieces; i++) {
        const struct search_piece *p = &q->pieces[i];
        const uint32_t *c = q->cps + p->start;
        if (i > 0)
            buf_puts(&b, fts ? " AND " : " & ");
        if (!p->cjk) {
            put_term(&b, c, p->len, d);
        } else if (p->len == 1) {
            put_term(&b, c, 1, d);
            buf_puts(&b, fts ? " *" : ":*");
        } else if (fts) { /* one phrase of the bigrams */
            buf_putc(&b, '"');
            for (int k = 0; k + 1 < p->len; k++) {
                if (k > 0)
                    buf_putc(&b, ' ');
                put_cp(&b, c[k]);
                put_cp(&b, c[k + 1]);
            }
            buf_putc(&b, '"');
        } else { /* the bigrams one after the other */
            if (p->len > 2)
                buf_putc(&b, '(');
            for (int k = 0; k + 1 < p->len; k++) {
                if (k > 0)
                    buf_puts(&b, " <-> ");
                put_term(&b, c + k, 2, d);
            }
            if (p->len > 2)
                buf_putc(&b, ')');
        }
    }
    return buf_detach(&b, NULL);
}

/* Whether piece p of q occurs in v at i (a word only as a whole word). */
static bool occurs(const struct search_query *q, const struct search_piece *p, const struct cpv *v,
                   int i)
{
    if (i + p->len > v->n ||
        memcmp(v->cp + i, q->cps + p->start, (size_t)p->len * sizeof(uint32_t)) != 0)
        return false;
    if (p->cjk)
        return true;
    return (i == 0 || v->cls[i - 1] != C_WORD) &&
           (i + p->len == v->n || v->cls[i + p->len] != C_WORD);
}

int search_term_counts(const struct search_query *q, const char *text, size_t len, int *tf)
{
    struct cpv v;
    decode(&v, text, len, SNIPPET_SCAN, false);
    for (int k = 0; k < q->npieces; k++) {
        tf[k] = 0;
        for (int i = 0; i < v.n; i++)
            if (occurs(q, &q->pieces[k], &v, i))
                tf[k]++;
    }
    int n = v.n;
    cpv_free(&v);
    return n;
}

static void put_escaped(struct buf *b, const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        switch (s[k]) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&#39;");
            break;
        default:
            buf_putc(b, s[k]);
        }
    }
}

char *search_snippet(const struct search_query *q, const char *text, size_t len)
{
    struct cpv v;
    decode(&v, text, len, SNIPPET_SCAN, true);
    unsigned char *mark = xcalloc((size_t)v.n + 1, 1);
    int first = -1;
    for (int i = 0; i < v.n; i++) {
        for (int k = 0; k < q->npieces; k++) {
            const struct search_piece *p = &q->pieces[k];
            if (occurs(q, p, &v, i)) {
                memset(mark + i, 1, (size_t)p->len);
                if (first < 0)
                    first = i;
            }
        }
    }
    int start = first > SNIPPET_BEFORE ? first - SNIPPET_BEFORE : 0;
    int end = start + SNIPPET_CHARS < v.n ? start + SNIPPET_CHARS : v.n;
    if (end - start < SNIPPET_CHARS)
        start = end > SNIPPET_CHARS ? end - SNIPPET_CHARS : 0;
    struct buf b;
    buf_init(&b);
    if (start > 0)
        buf_puts(&b, "\xE2\x80\xA6");
    for (int i = start; i < end;) {
        int j = i;
        while (j < end && mark[j] == mark[i])
            j++;
        if (mark[i])
            buf_puts(&b, "<mark>");
        put_escaped(&b, text + v.off[i], v.off[j] - v.off[i]);
        if (mark[i])
            buf_puts(&b, "</mark>");
        i = j;
    }
    if (end < v.n || v.off[v.n] < len)
        buf_puts(&b, "\xE2\x80\xA6");
    free(mark);
    cpv_free(&v);
    return buf_detach(&b, NULL);
}
