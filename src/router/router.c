/*
 * Router: a list of compiled patterns matched segment by segment. Herald has
 * on the order of a hundred routes, and matching walks at most a few segments
 * of each, so a list beats a trie on simplicity at no measurable cost.
 */
#include "router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include <stdlib.h>

#include "core/xalloc.h"
#include "net/http.h"

#define MAX_SEGS 16

struct seg {
    char *text; /* literal text, or the parameter name */
    bool param;
};

struct route {
    int methods;
    char *pattern;
    struct seg segs[MAX_SEGS];
    int nsegs;
    bool rest; /* pattern ends in a rest wildcard */
    route_fn fn;
    void *ud;
    bool stream; /* router_add_stream: dispatched at the end of the head */
};

struct router {
    struct route *routes;
    int n, cap;
};

struct router *router_new(void)
{
    return xcalloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->n; i++) {
        for (int s = 0; s < r->routes[i].nsegs; s++)
            free(r->routes[i].segs[s].text);
        free(r->routes[i].pattern);
    }
    free(r->routes);
    free(r);
}

int router_add(struct router *r, int methods, const char *pattern, route_fn fn, void *ud)
{
    struct route rt;
    memset(&rt, 0, sizeof(rt));
    if (pattern[0] != '/' || methods == 0 || fn == NULL)
        return ERR_INVAL;
    const char *p = pattern + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 1 && p[0] == '*' && slash == NULL) {
            rt.rest = true;
            break;
        }
        if (rt.nsegs == MAX_SEGS || len == 0)
            goto bad;
        struct seg *sg = &rt.segs[rt.nsegs++];
        if (p[0] == '{') {
            if (len < 3 || p[len - 1] != '}')
                goto bad;
            sg->param = true;
            sg->text = xstrndup(p + 1, len - 2);
        } else {
            sg->text = xstrndup(p, len);
        }
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    rt.methods = methods;
    rt.pattern = xstrdup(pattern);
    rt.fn = fn;
    rt.ud = ud;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        r->routes = xrealloc(r->routes, (size_t)r->cap * sizeof(struct route));
    }
    r->routes[r->n] = rt;
    return r->n++;
bad:
    for (int s = 0; s < rt.nsegs; s++)
        free(rt.segs[s].text);
    return ERR_INVAL;
}

int router_add_stream(struct router *r, int methods, const char *pattern, route_fn fn, void *ud)
{
    int id = router_add(r, methods, pattern, fn, ud);
    if (id >= 0)
        r->routes[id].stream = true;
    return id;
}

/* Matches path against one route; fills params. */
static bool route_matches(const struct route *rt, const char *path, struct route_match *m)
{
    const char *p = path;
    if (*p != '/')
        return false;
    p++;
    m->nparams = 0;
    for (int i = 0; i < rt->nsegs; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0)
            return false;
        const struct seg *sg = &rt->segs[i];
        if (sg->param) {
            if (m->nparams == ROUTER_MAX_PARAMS)
                return false;
            m->params[m->nparams].name = sg->text;
            m->params[m->nparams].val = p;
            m->params[m->nparams].len = len;
            m->nparams++;
        } else if (strlen(sg->text) != len || memcmp(sg->text, p, len) != 0) {
            return false;
        }
        if (i == rt->nsegs - 1) {
            if (rt->rest)
                return slash != NULL;
            return slash == NULL;
        }
        if (slash == NULL)
            return false;
        p = slash + 1;
    }
    /* only the root pattern and rest wildcards reach here */
    if (rt->rest)
        return true;
    return *p == '\0';
}

/* A route whose every segment is literal: it names one path only. */
static bool route_is_literal(const struct route *rt)
{
    if (rt->rest)
        return false;
    for (int s = 0; s < rt->nsegs; s++)
        if (rt->segs[s].param)
            return false;
    return true;
}

/*
 * One pass over the literal routes (literal == true) or over the others. Returns 0 with m
 * filled, or ERR_NOMETHOD with *allow holding the methods of the routes that matched the path,
 * or ERR_NOTFOUND.
 */
static int match_pass(const struct router *r, bool literal, int want, const char *path,
                      struct route_match *m, int *allow)
{
    for (int i = 0; i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        struct route_match tmp;
        if (route_is_literal(rt) != literal || !route_matches(rt, path, &tmp))
            continue;
        if (rt->methods & want) {
            *m = tmp;
            m->fn = rt->fn;
            m->ud = rt->ud;
            m->route_id = i;
            m->allow = rt->methods;
            m->stream = rt->stream;
            return 0;
        }
        *allow |= rt->methods;
    }
    return *allow ? ERR_NOMETHOD : ERR_NOTFOUND;
}

/*
 * A literal route wins over a pattern that also matches the path: /users/online is that
 * list, never the user "online", and a wrong method there is a 405, not a lookup of a user
 * named "batch". Among routes of one kind, the first added wins.
 */
int router_match(const struct router *r, int method, const char *path, struct route_match *m)
{
    int allow = 0;
    int want = method == HTTP_M_HEAD ? (HTTP_M_HEAD | HTTP_M_GET) : method;
    int rc = match_pass(r, true, want, path, m, &allow);
    if (rc == ERR_NOTFOUND)
        rc = match_pass(r, false, want, path, m, &allow);
    if (rc == ERR_NOMETHOD) {
        if (allow & HTTP_M_GET)
            allow |= HTTP_M_HEAD;
        m->allow = allow;
    }
    return rc;
}

int router_count(const struct router *r)
{
    return r->n;
}

const char *router_pattern(const struct router *r, int id)
{
    if (id < 0 || id >= r->n)
        return "unmatched";
    return r->routes[id].pattern;
}

int router_methods(const struct router *r, int id)
{
    if (id < 0 || id >= r->n)
        return 0;
    return r->routes[id].methods;
}

void router_allow_string(int methods, char *out, size_t outlen)
{
    static const struct {
        int bit;
        const char *name;
    } names[] = {{HTTP_M_GET, "GET"},        {HTTP_M_HEAD, "HEAD"},   {HTTP_M_POST, "POST"},
                 {HTTP_M_PUT, "PUT"},        {HTTP_M_PATCH, "PATCH"}, {HTTP_M_DELETE, "DELETE"},
                 {HTTP_M_OPTIONS, "OPTIONS"}};
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(methods & names[i].bit))
            continue;
        int n = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", names[i].name);
        if (n < 0 || (size_t)n >= outlen - o)
            break;
        o += (size_t)n;
    }
}
