/*
 * The API's documentation, served by the server itself (SPEC §3, "operations"): the OpenAPI 3
 * document of every HTTP route (src/apidoc/openapi.json, kept by hand next to the code) and a
 * page that renders it in a browser (src/apidoc/page.html). Both are built into the binary at
 * build time by scripts/embed_apidoc.py, which checks the document (valid JSON, no repeated
 * key, every $ref and path parameter resolved); tests/unit/test_apidoc.c checks that it names
 * exactly the routes herald serve registers.
 */
#ifndef HERALD_APIDOC_APIDOC_H
#define HERALD_APIDOC_APIDOC_H

#include <stddef.h>

struct router;

/* The OpenAPI document (compact JSON, NUL-terminated after *len bytes); static storage. */
const char *apidoc_openapi(size_t *len);

/*
 * Registers GET /api/docs (the page), GET /api/docs/openapi.json and its alias
 * GET /api/openapi.json (the document, application/json). No authentication: the document
 * holds no secret. Main thread, before the loops start.
 */
void apidoc_register(struct router *r);

#endif
