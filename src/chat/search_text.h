/*
 * Message search's text handling (docs/chat.md, "Search"), with no I/O: the index terms of a
 * message's text, the parsed query and its match expression, and the HTML snippet of a hit.
 * Both store backends index the same terms, made here: words (letters and digits, folded to
 * lower case) stay whole, and each run of Chinese or Japanese characters (Han, Hiragana,
 * Katakana) is cut into overlapping bigrams followed by its last character, so a query of one
 * or two CJK characters is answered from the index like a longer one. The query is cut the
 * same way: a word matches the word, a CJK run of two or more characters matches its bigrams
 * in a row (a phrase), a single CJK character matches the bigrams starting with it or a run's
 * last character (a prefix). Any thread.
 */
#ifndef HERALD_CHAT_SEARCH_TEXT_H
#define HERALD_CHAT_SEARCH_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the terms and the query expression are written for a backend. */
enum search_dialect {
    SEARCH_FTS5,     /* SQLite FTS5: tokens separated by spaces; a MATCH expression */
    SEARCH_TSVECTOR, /* PostgreSQL: a tsvector literal with positions; a tsquery literal */
};

#define SEARCH_Q_MAX_CHARS 100 /* characters of a query (the API's limit) */
#define SEARCH_WORD_MAX 64     /* characters of one word term; longer words are cut there */

struct search_piece {
    bool cjk;  /* a run of CJK characters, else a word */
    int start; /* first code point in the query's cps */
    int len;   /* code points */
};

/* A parsed query: its terms as folded code points. */
struct search_query {
    uint32_t cps[SEARCH_Q_MAX_CHARS];
    int ncps;
    struct search_piece pieces[SEARCH_Q_MAX_CHARS];
    int npieces;
};

/*
 * The index terms of text (len bytes of UTF-8; invalid bytes separate terms) for dialect d, as
 * a new string the caller frees: "" when the text holds no term.
 */
char *search_index_terms(const char *text, size_t len, enum search_dialect d);

/*
 * Parses the query q (len bytes) into out; terms past SEARCH_Q_MAX_CHARS characters are
 * dropped. Returns false when q holds no term (only spaces, punctuation, symbols).
 */
bool search_query_parse(struct search_query *out, const char *q, size_t len);

/*
 * The match expression of q for dialect d (every term required), as a new string the caller
 * frees: an FTS5 query over the terms column, or a tsquery literal.
 */
char *search_query_expr(const struct search_query *q, enum search_dialect d);

/*
 * A short excerpt of text (len bytes) around the first occurrence of one of q's terms, HTML
 * escaped, each occurrence wrapped in <mark>…</mark>, with "…" where it was cut. A new string
 * the caller frees. When no term occurs literally (a match through diacritics folding), the
 * beginning of the text, escaped.
 */
char *search_snippet(const struct search_query *q, const char *text, size_t len);

/*
 * How often each term of q occurs in text (len bytes), into tf[0..q->npieces) (a word as a
 * whole word, a CJK run anywhere, as the snippet marks them), for ranking. Returns the text's
 * length in characters (up to the 20,000 looked at).
 */
int search_term_counts(const struct search_query *q, const char *text, size_t len, int *tf);

/* Characters (code points) of s, len bytes; -1 when s is not valid UTF-8. */
long search_utf8_chars(const char *s, size_t len);

#endif
