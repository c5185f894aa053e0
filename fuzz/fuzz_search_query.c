/*
 * libFuzzer target for message search's text handling (chat/search_text.c), which reads the
 * untrusted q parameter and message texts: the query parse, both match expressions, the index
 * terms of both backends, the term counts that rank hits and the snippet. Checked: nothing crashes
 * or leaks; every output is valid UTF-8 (json_utf8_is_valid) whatever the input; a parsed query has
 * terms within its bounds; the snippet of a text (without NUL) holds no raw '<' outside the marks
 * it adds (HTML escaped); and a query's own text gives a snippet with a mark (its terms occur in
 * it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/search_text.h"
#include "core/json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void utf8_or_abort(const char *s)
{
    if (!json_utf8_is_valid(s, strlen(s)))
        abort();
}

/* Only <mark> and </mark> open an angle bracket. */
static void escaped_or_abort(const char *s)
{
    for (const char *p = strchr(s, '<'); p != NULL; p = strchr(p + 1, '<'))
        if (strncmp(p, "<mark>", 6) != 0 && strncmp(p, "</mark>", 7) != 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    /* the first half is the query, the rest the text */
    size_t qn = size / 2;
    struct search_query q;
    bool ok = search_query_parse(&q, s, qn);
    if (q.npieces < 0 || q.npieces > SEARCH_Q_MAX_CHARS || q.ncps > SEARCH_Q_MAX_CHARS)
        abort();
    for (int i = 0; i < q.npieces; i++)
        if (q.pieces[i].len < 1 || q.pieces[i].start + q.pieces[i].len > q.ncps)
            abort();
    char *t1 = search_index_terms(s + qn, size - qn, SEARCH_FTS5);
    char *t2 = search_index_terms(s + qn, size - qn, SEARCH_TSVECTOR);
    utf8_or_abort(t1);
    utf8_or_abort(t2);
    if (ok) {
        char *e1 = search_query_expr(&q, SEARCH_FTS5);
        char *e2 = search_query_expr(&q, SEARCH_TSVECTOR);
        utf8_or_abort(e1);
        utf8_or_abort(e2);
        free(e1);
        free(e2);
        /* a text made of the query itself shows a mark, when the query is valid UTF-8 and
         * none of its terms was cut (past 100 characters, or a word past SEARCH_WORD_MAX) */
        bool whole = memchr(s, 0, qn) == NULL && search_utf8_chars(s, qn) >= 0 &&
                     search_utf8_chars(s, qn) <= SEARCH_Q_MAX_CHARS;
        for (int i = 0; i < q.npieces; i++)
            if (!q.pieces[i].cjk && q.pieces[i].len >= SEARCH_WORD_MAX)
                whole = false;
        if (whole) {
            char *own = search_snippet(&q, s, qn);
            utf8_or_abort(own);
            escaped_or_abort(own);
            if (strstr(own, "<mark>") == NULL)
                abort();
            free(own);
        }
        int tf[SEARCH_Q_MAX_CHARS];
        int chars = search_term_counts(&q, s + qn, size - qn, tf);
        for (int i = 0; i < q.npieces; i++)
            if (tf[i] < 0 || tf[i] > chars)
                abort();
        if (memchr(s + qn, 0, size - qn) == NULL && search_utf8_chars(s + qn, size - qn) >= 0) {
            char *sn = search_snippet(&q, s + qn, size - qn);
            utf8_or_abort(sn);
            escaped_or_abort(sn);
            free(sn);
        }
    }
    free(t1);
    free(t2);
    return 0;
}
