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

/*
 * Makes cJSON allocate through xmalloc (cJSON_InitHooks), so a cJSON call
 * never returns NULL for want of memory: callers need no NULL check after
 * cJSON_Create* or cJSON_Print*. Call once, first thing in main, before any
 * thread starts. What cJSON allocates is still freed with cJSON_free /
 * cJSON_Delete (free).
 */
void xalloc_json_hooks(void);

#endif
