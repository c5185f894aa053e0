/*
 * What scripts/embed_apidoc.py generates (build/apidoc/apidoc_embed.c) from
 * src/apidoc/openapi.json and src/apidoc/page.html; private to src/apidoc.
 */
#ifndef HERALD_APIDOC_EMBED_H
#define HERALD_APIDOC_EMBED_H

#include <stddef.h>

/* the document, compacted; NUL after the last byte */
extern const char apidoc_embed_json[];
extern const size_t apidoc_embed_json_len;
/* the page; NUL after the last byte */
extern const char apidoc_embed_page[];
extern const size_t apidoc_embed_page_len;
/* the page's Content-Security-Policy: its inline script and style allowed by their hashes */
extern const char apidoc_embed_csp[];

#endif
