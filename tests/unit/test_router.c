/*
 * Router: literal and parameter segments, a literal route before a pattern, rest wildcards,
 * 404 vs 405 with the Allow set, HEAD answered by GET routes, malformed patterns.
 */
#include "test.h"

#include <stdlib.h>

#include "core/err.h"
#include "net/http.h"
#include "router/router.h"

static void h1(struct http_req *r, void *ud)
{
    (void)r;
    (void)ud;
}

static void h2(struct http_req *r, void *ud)
{
    (void)r;
    (void)ud;
}

TEST(literal_and_params)
{
    struct router *r = router_new();
    CHECK_INT(router_add(r, HTTP_M_GET, "/health", h1, NULL), 0);
    CHECK_INT(router_add(r, HTTP_M_GET | HTTP_M_PATCH, "/api/v1/users/{id}", h2, (void *)7), 1);
    CHECK_INT(router_add(r, HTTP_M_POST, "/api/v1/conversations/{cid}/members/{uid}", h1, NULL), 2);
    struct route_match m;
    CHECK_INT(router_match(r, HTTP_M_GET, "/health", &m), 0);
    CHECK(m.fn == h1);
    CHECK_INT(m.route_id, 0);
    CHECK_INT(router_match(r, HTTP_M_PATCH, "/api/v1/users/u%207", &m), 0);
    CHECK(m.fn == h2 && m.ud == (void *)7);
    CHECK_INT(m.nparams, 1);
    CHECK_STR(m.params[0].name, "id");
    CHECK_INT(m.params[0].len, 5);
    CHECK(strncmp(m.params[0].val, "u%207", 5) == 0);
    CHECK_INT(router_match(r, HTTP_M_POST, "/api/v1/conversations/c1/members/m9", &m), 0);
    CHECK_INT(m.nparams, 2);
    CHECK_STR(m.params[1].name, "uid");
    CHECK(strncmp(m.params[1].val, "m9", m.params[1].len) == 0);
    router_free(r);
}

TEST(not_found_and_method)
{
    struct router *r = router_new();
    router_add(r, HTTP_M_GET, "/health", h1, NULL);
    router_add(r, HTTP_M_POST, "/health", h2, NULL);
    router_add(r, HTTP_M_DELETE, "/api/v1/users/{id}", h2, NULL);
    struct route_match m;
    CHECK_INT(router_match(r, HTTP_M_GET, "/nope", &m), ERR_NOTFOUND);
    CHECK_INT(router_match(r, HTTP_M_GET, "/health/", &m), ERR_NOTFOUND);
    CHECK_INT(router_match(r, HTTP_M_GET, "/healthz", &m), ERR_NOTFOUND);
    CHECK_INT(router_match(r, HTTP_M_GET, "/api/v1/users", &m), ERR_NOTFOUND);
    CHECK_INT(router_match(r, HTTP_M_GET, "/api/v1/users//", &m), ERR_NOTFOUND);
    CHECK_INT(router_match(r, HTTP_M_PUT, "/health", &m), ERR_NOMETHOD);
    CHECK(m.allow & HTTP_M_GET);
    CHECK(m.allow & HTTP_M_POST);
    CHECK(m.allow & HTTP_M_HEAD);
    CHECK_INT(router_match(r, HTTP_M_GET, "/api/v1/users/x", &m), ERR_NOMETHOD);
    CHECK(m.allow == HTTP_M_DELETE);
    char allow[64];
    router_allow_string(HTTP_M_GET | HTTP_M_HEAD | HTTP_M_POST, allow, sizeof(allow));
    CHECK_STR(allow, "GET, HEAD, POST");
    router_free(r);
}

TEST(head_uses_get)
{
    struct router *r = router_new();
    router_add(r, HTTP_M_GET, "/metrics", h1, NULL);
    struct route_match m;
    CHECK_INT(router_match(r, HTTP_M_HEAD, "/metrics", &m), 0);
    CHECK(m.fn == h1);
    router_free(r);
}

TEST(root_and_rest)
{
    struct router *r = router_new();
    router_add(r, HTTP_M_GET, "/", h1, NULL);
    router_add(r, HTTP_M_GET, "/media/*", h2, NULL);
    struct route_match m;
    CHECK_INT(router_match(r, HTTP_M_GET, "/", &m), 0);
    CHECK(m.fn == h1);
    CHECK_INT(router_match(r, HTTP_M_GET, "/media/a/b/c.png", &m), 0);
    CHECK(m.fn == h2);
    CHECK_INT(router_match(r, HTTP_M_GET, "/media", &m), ERR_NOTFOUND);
    CHECK_INT(router_match(r, HTTP_M_GET, "", &m), ERR_NOTFOUND);
    router_free(r);
}

TEST(literal_route_wins_over_a_pattern)
{
    struct router *r = router_new();
    /* added first, the pattern would match both paths */
    router_add(r, HTTP_M_GET | HTTP_M_PATCH, "/api/v1/users/{id}", h1, NULL);
    router_add(r, HTTP_M_GET, "/api/v1/users/online", h2, NULL);
    router_add(r, HTTP_M_POST, "/api/v1/users/batch", h2, NULL);
    struct route_match m;
    CHECK_INT(router_match(r, HTTP_M_GET, "/api/v1/users/online", &m), 0);
    CHECK(m.fn == h2);
    CHECK_INT(m.nparams, 0);
    CHECK_INT(router_match(r, HTTP_M_GET, "/api/v1/users/batch", &m), ERR_NOMETHOD);
    CHECK(m.allow == HTTP_M_POST);
    CHECK_INT(router_match(r, HTTP_M_PATCH, "/api/v1/users/online", &m), ERR_NOMETHOD);
    CHECK(m.allow == (HTTP_M_GET | HTTP_M_HEAD));
    CHECK_INT(router_match(r, HTTP_M_GET, "/api/v1/users/u1", &m), 0);
    CHECK(m.fn == h1);
    router_free(r);
}

TEST(bad_patterns)
{
    struct router *r = router_new();
    CHECK_INT(router_add(r, HTTP_M_GET, "health", h1, NULL), ERR_INVAL);
    CHECK_INT(router_add(r, HTTP_M_GET, "/a//b", h1, NULL), ERR_INVAL);
    CHECK_INT(router_add(r, HTTP_M_GET, "/a/{", h1, NULL), ERR_INVAL);
    CHECK_INT(router_add(r, HTTP_M_GET, "/a/{}", h1, NULL), ERR_INVAL);
    CHECK_INT(router_add(r, 0, "/a", h1, NULL), ERR_INVAL);
    CHECK_INT(router_count(r), 0);
    CHECK_STR(router_pattern(r, 5), "unmatched");
    router_free(r);
}

int main(void)
{
    RUN(literal_and_params);
    RUN(not_found_and_method);
    RUN(head_uses_get);
    RUN(root_and_rest);
    RUN(literal_route_wins_over_a_pattern);
    RUN(bad_patterns);
    return test_summary();
}
