/*
 * Method + path -> handler. Patterns are literal segments and `{name}`
 * parameters ("/api/v1/users/{id}"); a trailing "/ *" (written without the space) matches any rest.
 * Routes are added at start-up (not thread-safe) and matched from any loop thread afterwards
 * (read-only). A path that matches with another method gives ERR_NOMETHOD and the Allow set; GET
 * routes also answer HEAD.
 */
#ifndef HERALD_ROUTER_ROUTER_H
#define HERALD_ROUTER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct http_req;
struct router;

typedef void (*route_fn)(struct http_req *req, void *ud);

#define ROUTER_MAX_PARAMS 8

struct route_match {
    route_fn fn;
    void *ud;
    int route_id; /* index for metrics; router_pattern() names it */
    int allow;    /* on ERR_NOMETHOD: methods (enum http_method bits) the path accepts */
    bool stream;  /* a route added with router_add_stream */
    int nparams;
    struct {
        const char *name; /* borrowed from the router */
        const char *val;  /* points into the matched path, raw (still percent-encoded) */
        size_t len;
    } params[ROUTER_MAX_PARAMS];
};

struct router *router_new(void);
void router_free(struct router *r);

/*
 * Adds a route for methods (enum http_method bits). pattern is copied.
 * Returns the route id (>= 0) or ERR_INVAL for a malformed pattern.
 */
int router_add(struct router *r, int methods, const char *pattern, route_fn fn, void *ud);

/*
 * router_add for a route whose request body is streamed to the handler (net/http.h,
 * http_req_body_stream): the handler runs as soon as the request head has arrived, and no
 * HERALD_MAX_BODY applies (the handler sets its own limit).
 */
int router_add_stream(struct router *r, int methods, const char *pattern, route_fn fn, void *ud);

/* Returns 0 and fills m, or ERR_NOTFOUND, or ERR_NOMETHOD (m->allow set). */
int router_match(const struct router *r, int method, const char *path, struct route_match *m);

/* Number of routes, and the pattern of route id (for metrics labels). */
int router_count(const struct router *r);
const char *router_pattern(const struct router *r, int id);
/* The methods (enum http_method bits) route id was added with; 0 for an unknown id. */
int router_methods(const struct router *r, int id);

/* Formats an Allow header value for a method set ("GET, HEAD, POST") into out. */
void router_allow_string(int methods, char *out, size_t outlen);

#endif
