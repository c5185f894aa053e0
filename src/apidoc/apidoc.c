/*
 * /api/docs and the OpenAPI document (apidoc.h). The answers are the bytes built into the
 * binary (embed.h): nothing is read or computed per request.
 */
#include "apidoc/apidoc.h"

#include "apidoc/embed.h"
#include "net/http.h"
#include "router/router.h"

const char *apidoc_openapi(size_t *len)
{
    *len = apidoc_embed_json_len;
    return apidoc_embed_json;
}

static void page(struct http_req *req, void *ud)
{
    (void)ud;
    /* the page's own script and style only (by hash), requests to this origin only */
    http_res_header(req, "Content-Security-Policy", apidoc_embed_csp);
    http_res_header(req, "X-Content-Type-Options", "nosniff");
    http_res_header(req, "Referrer-Policy", "no-referrer");
    http_res_header(req, "Cache-Control", "no-cache");
    http_respond(req, 200, "text/html; charset=utf-8", apidoc_embed_page, apidoc_embed_page_len);
}

static void document(struct http_req *req, void *ud)
{
    (void)ud;
    http_res_header(req, "Cache-Control", "no-cache");
    http_respond_json(req, 200, apidoc_embed_json, apidoc_embed_json_len);
}

void apidoc_register(struct router *r)
{
    router_add(r, HTTP_M_GET, "/api/docs", page, NULL);
    router_add(r, HTTP_M_GET, "/api/docs/openapi.json", document, NULL);
    router_add(r, HTTP_M_GET, "/api/openapi.json", document, NULL);
}
