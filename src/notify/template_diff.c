/*
 * The line diff of template versions (template_diff.h): common head and tail first, then an
 * LCS table over the middle (bounded by NOTIFY_DIFF_MAX_CELLS), then unified hunks.
 */
#include "notify/template_diff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"

struct line {
    const char *p;
    size_t n;
};

/* The lines of s (NULL: none); *count set; free() the result. */
static struct line *split(const char *s, size_t *count)
{
    size_t n = 0, cap = 16;
    struct line *v = xmalloc(cap * sizeof(*v));
    while (s != NULL && *s != '\0') {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[n].p = s;
        v[n++].n = len;
        s = e ? e + 1 : s + len;
    }
    *count = n;
    return v;
}

static int same(const struct line *a, const struct line *b)
{
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

static void push(struct notify_diff_line *out, size_t *k, char op, const struct line *l)
{
    out[*k].op = op;
    out[*k].text = l->p;
    out[*k].len = l->n;
    (*k)++;
}

size_t notify_diff_lines(const char *a, const char *b, struct notify_diff_line **out)
{
    size_t na, nb;
    struct line *la = split(a, &na), *lb = split(b, &nb);
    struct notify_diff_line *r = xmalloc((na + nb + 1) * sizeof(*r));
    size_t k = 0, head = 0, tail = 0;
    while (head < na && head < nb && same(&la[head], &lb[head]))
        head++;
    while (tail < na - head && tail < nb - head && same(&la[na - 1 - tail], &lb[nb - 1 - tail]))
        tail++;
    for (size_t i = 0; i < head; i++)
        push(r, &k, ' ', &la[i]);
    size_t m = na - head - tail, n = nb - head - tail;
    const struct line *ma = la + head, *mb = lb + head;
    if (m > 0 && n > 0 && (uint64_t)(m + 1) * (n + 1) <= NOTIFY_DIFF_MAX_CELLS) {
        /* t[i][j]: the LCS length of ma[i..] and mb[j..]; at most min(m, n) <= 2048 */
        size_t w = n + 1;
        uint16_t *t = xcalloc((m + 1) * w, sizeof(*t));
        for (size_t i = m; i-- > 0;)
            for (size_t j = n; j-- > 0;)
                t[i * w + j] = same(&ma[i], &mb[j]) ? (uint16_t)(t[(i + 1) * w + j + 1] + 1)
                               : t[(i + 1) * w + j] >= t[i * w + j + 1] ? t[(i + 1) * w + j]
                                                                        : t[i * w + j + 1];
        size_t i = 0, j = 0;
        while (i < m && j < n) {
            if (same(&ma[i], &mb[j])) {
                push(r, &k, ' ', &ma[i++]);
                j++;
            } else if (t[(i + 1) * w + j] >= t[i * w + j + 1]) {
                push(r, &k, '-', &ma[i++]);
            } else {
                push(r, &k, '+', &mb[j++]);
            }
        }
        while (i < m)
            push(r, &k, '-', &ma[i++]);
        while (j < n)
            push(r, &k, '+', &mb[j++]);
        free(t);
    } else {
        for (size_t i = 0; i < m; i++)
            push(r, &k, '-', &ma[i]);
        for (size_t j = 0; j < n; j++)
            push(r, &k, '+', &mb[j]);
    }
    for (size_t i = na - tail; i < na; i++)
        push(r, &k, ' ', &la[i]);
    free(la);
    free(lb);
    *out = r;
    return k;
}

void notify_diff_unified(const struct notify_diff_line *l, size_t n, const char *from,
                         const char *to, int context, struct buf *out)
{
    size_t c = context < 0 ? 0 : (size_t)context;
    int any = 0;
    for (size_t i = 0; i < n && !any; i++)
        any = l[i].op != ' ';
    if (!any)
        return;
    buf_printf(out, "--- %s\n+++ %s\n", from, to);
    /* old and new line numbers (1-based) of each script line */
    size_t *oldno = xmalloc((n + 1) * sizeof(size_t)), *newno = xmalloc((n + 1) * sizeof(size_t));
    size_t o = 1, w = 1;
    for (size_t i = 0; i < n; i++) {
        oldno[i] = o;
        newno[i] = w;
        o += l[i].op != '+';
        w += l[i].op != '-';
    }
    size_t i = 0;
    while (i < n) {
        while (i < n && l[i].op == ' ')
            i++;
        if (i == n)
            break;
        size_t start = i > c ? i - c : 0, end = i; /* end: one past the last change */
        for (;;) {
            while (end < n && l[end].op != ' ')
                end++;
            size_t next = end;
            while (next < n && l[next].op == ' ')
                next++;
            if (next < n && next - end <= 2 * c)
                end = next;
            else
                break;
        }
        size_t stop = end + c < n ? end + c : n;
        size_t olen = 0, nlen = 0;
        for (size_t k = start; k < stop; k++) {
            olen += l[k].op != '+';
            nlen += l[k].op != '-';
        }
        size_t ostart = olen ? oldno[start] : oldno[start] - 1;
        size_t nstart = nlen ? newno[start] : newno[start] - 1;
        buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n", ostart, olen, nstart, nlen);
        for (size_t k = start; k < stop; k++) {
            buf_putc(out, l[k].op);
            buf_append(out, l[k].text, l[k].len);
            buf_putc(out, '\n');
        }
        i = stop;
    }
    free(oldno);
    free(newno);
}
