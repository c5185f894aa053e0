/*
 * Allocation wrappers that abort on out-of-memory (Redis, git, h2o). Memory
 * stays bounded because every input has a limit, so OOM is a bug or a
 * misconfiguration, not a condition to recover from.
 */
#ifndef HERALD_CORE_XALLOC_H
#define HERALD_CORE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

#endif
