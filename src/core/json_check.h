/*
 * A strict RFC 8259 check of JSON text from outside (request bodies, WebSocket frames, import
 * lines), run before cJSON parses it. cJSON is lenient where it matters: it stops a string at a
 * raw NUL, keeps every member of a repeated key (readers then see the first or the last one),
 * and passes invalid UTF-8 through to stored data and to responses. json_check refuses all of
 * that, so what cJSON sees afterwards has one meaning:
 *
 *   - the grammar of RFC 8259 exactly: one value, whitespace around it, nothing after it;
 *   - strings of valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), no raw
 *     control characters (< 0x20), escaped surrogates only in high-low pairs;
 *   - no key twice in one object (keys compared after unescaping: "a" and "\u0061" are one);
 *   - containers nested at most max_depth deep;
 *   - an escaped NUL (\u0000) is valid JSON, but no C string holds it: it is reported apart,
 *     with the JSON path of the value, so that a handler answers 422 naming the field.
 *
 * No allocation for small texts; larger ones allocate in proportion to their keys.
 * Thread-safe (no shared state).
 */
#ifndef HERALD_CORE_JSON_CHECK_H
#define HERALD_CORE_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_CHECK_DEPTH 64      /* the default nesting limit */
#define JSON_CHECK_DEPTH_MAX 128 /* the largest limit a caller may ask for */
#define JSON_CHECK_PATH_MAX 160  /* bytes of a reported path, with its NUL */

enum json_check_kind {
    JSON_CHECK_OK = 0,
    JSON_CHECK_SYNTAX,    /* not JSON text */
    JSON_CHECK_UTF8,      /* a string is not valid UTF-8, or holds a lone surrogate escape */
    JSON_CHECK_CONTROL,   /* a raw control character inside a string */
    JSON_CHECK_DUPLICATE, /* a key repeated in one object */
    JSON_CHECK_DEPTH_HIT, /* containers nested deeper than the limit */
    JSON_CHECK_NUL,       /* valid JSON, but a string (or key) holds \u0000 */
    JSON_CHECK_RANGE,     /* valid JSON, but a number is too large for a double (1e999) */
};

struct json_check_result {
    enum json_check_kind kind;
    size_t offset; /* byte offset of the problem in the text */
    /* JSON path of the value at fault: "contacts.email", "users[3].id", "[0]"; "" for the
       root or when the problem is not inside a value */
    char path[JSON_CHECK_PATH_MAX];
    char message[160]; /* a lowercase sentence without the path: "duplicate key \"email\"" */
};

/*
 * Checks the len bytes at s (no NUL terminator needed). max_depth: 1..JSON_CHECK_DEPTH_MAX,
 * 0 for JSON_CHECK_DEPTH. Returns 0 (valid, out->kind JSON_CHECK_OK), ERR_INVAL (valid JSON
 * holding \u0000 or a number too large for a double: out->kind JSON_CHECK_NUL or
 * JSON_CHECK_RANGE, out->path names the first such value), or ERR_JSON
 * (anything else; out says what and where). A syntax error wins over a \u0000 found before it.
 * out may be NULL.
 */
int json_check(const char *s, size_t len, int max_depth, struct json_check_result *out);

/* True when the len bytes at s are valid UTF-8 (RFC 3629) without NUL bytes. */
bool json_utf8_is_valid(const char *s, size_t len);

#endif
