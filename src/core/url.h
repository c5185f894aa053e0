/*
 * URL helpers: percent-decoding and query-string lookup.
 */
#ifndef HERALD_CORE_URL_H
#define HERALD_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Value of a hexadecimal digit (either case), or -1. */
int url_hexval(int c);

/*
 * Percent-decodes n bytes of s into out (at least n+1 bytes), NUL-terminates.
 * plus_space turns '+' into ' ' (query strings). Returns the decoded length,
 * or -1 on a malformed escape or when the result would contain a NUL byte.
 */
long url_decode(const char *s, size_t n, char *out, bool plus_space);

/*
 * Finds parameter name in query (no leading '?'), decodes its value into out
 * (outlen bytes). Returns the decoded length, or -1 when absent, malformed or
 * too long.
 */
long url_query_get(const char *query, const char *name, char *out, size_t outlen);

#endif
