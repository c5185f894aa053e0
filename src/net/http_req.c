/*
 * What a handler reads of a request (net/http.h): method, target, headers,
 * body, route parameters, id, and the client address, taken from
 * X-Forwarded-For behind trusted proxies.
 */
#include "net/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cidr.h"
#include "core/config.h"
#include "core/url.h"

int http_req_method(const struct http_req *r)
{
    return r->method;
}

const char *http_req_method_name(const struct http_req *r)
{
    return r->method_name;
}

const char *http_req_path(const struct http_req *r)
{
    return r->path ? r->path : "/";
}

const char *http_req_query(const struct http_req *r)
{
    return r->query ? r->query : "";
}

bool http_req_has_query_param(const struct http_req *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *q = http_req_query(r); q != NULL && *q != '\0';) {
        if (strncmp(q, name, n) == 0 && (q[n] == '=' || q[n] == '&' || q[n] == '\0'))
            return true;
        q = strchr(q, '&');
        if (q != NULL)
            q++;
    }
    return false;
}

int http_req_query_param(const struct http_req *r, const char *name, char *out, size_t outlen)
{
    return (int)url_query_get(http_req_query(r), name, out, outlen);
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    for (int i = 0; i < r->nhdrs; i++)
        if (strcasecmp(net__http_hdr_name(r, i), name) == 0)
            return net__http_hdr_val(r, i);
    return NULL;
}

bool http_req_header_has_token(const struct http_req *r, const char *name, const char *token)
{
    size_t tlen = strlen(token);
    for (int i = 0; i < r->nhdrs; i++) {
        if (strcasecmp(net__http_hdr_name(r, i), name) != 0)
            continue;
        const char *p = net__http_hdr_val(r, i);
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            const char *s = p;
            while (*p && *p != ',')
                p++;
            const char *e = p;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if ((size_t)(e - s) == tlen && strncasecmp(s, token, tlen) == 0)
                return true;
        }
    }
    return false;
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *http_req_param(const struct http_req *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (strcmp(r->params[2 * i], name) == 0)
            return r->params[2 * i + 1];
    return NULL;
}

const char *http_req_id(const struct http_req *r)
{
    return r->id;
}

/*
 * One X-Forwarded-For entry of n bytes (blanks trimmed): an address, an IPv6
 * address in brackets, either with a ":port" after it (some proxies add one).
 */
static bool fwd_entry_parse(const char *e, size_t n, uint8_t addr[16])
{
    const char *colon = memchr(e, ':', n);
    if (n > 0 && e[0] == '[') {
        const char *rb = memchr(e, ']', n);
        if (rb == NULL)
            return false;
        colon = rb + 1 < e + n ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return false;
        if (!cidr_addr_parse(e + 1, (size_t)(rb - e - 1), addr))
            return false;
    } else if (colon && memchr(colon + 1, ':', (size_t)(e + n - colon - 1)) == NULL) {
        if (!cidr_addr_parse(e, (size_t)(colon - e), addr)) /* IPv4:port */
            return false;
    } else {
        return cidr_addr_parse(e, n, addr);
    }
    if (colon == NULL)
        return true;
    size_t plen = (size_t)(e + n - colon - 1);
    if (plen == 0 || plen > 5)
        return false;
    for (size_t i = 1; i <= plen; i++)
        if (colon[i] < '0' || colon[i] > '9')
            return false;
    return true;
}

/*
 * The client address behind trusted proxies: start from the connection's
 * peer and, while the address in hand is a trusted proxy, take the next
 * X-Forwarded-For entry from the right (the last header line first, as the
 * lines form one list). Entries left of the first untrusted address were
 * written by the client and are never read. An entry that is not an address
 * stops the walk at the hop that wrote it.
 */
static void fwd_peer_resolve(struct http_req *r)
{
    const struct server *s = r->loop->srv;
    const char *peer = r->conn ? r->conn->peer : "-";
    uint8_t addr[16];
    bool moved = false;
    snprintf(r->fwd_peer, sizeof(r->fwd_peer), "%s", peer);
    r->peer_done = true;
    if (!cidr_addr_parse(peer, strlen(peer), addr))
        return;
    bool trusted = cidr_list_contains(s->proxies, s->nproxies, addr);
    for (int i = r->nhdrs - 1; i >= 0 && trusted; i--) {
        if (strcasecmp(net__http_hdr_name(r, i), "X-Forwarded-For") != 0)
            continue;
        const char *v = net__http_hdr_val(r, i), *end = v + strlen(v);
        while (end > v && trusted) {
            const char *b = end;
            while (b > v && b[-1] != ',')
                b--;
            const char *next = b > v ? b - 1 : v;
            const char *e = end;
            while (b < e && (*b == ' ' || *b == '\t'))
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            end = next;
            if (b == e)
                continue; /* an empty list element */
            if (!fwd_entry_parse(b, (size_t)(e - b), addr)) {
                trusted = false;
                break;
            }
            moved = true;
            trusted = cidr_list_contains(s->proxies, s->nproxies, addr);
        }
    }
    if (moved) {
        char text[CIDR_ADDR_TEXT];
        cidr_addr_format(addr, text);
        snprintf(r->fwd_peer, sizeof(r->fwd_peer), "%s", text);
    }
}

const char *http_req_peer(const struct http_req *r)
{
    if (!r->loop->srv->opts.cfg->trust_proxy)
        return r->conn ? r->conn->peer : "-";
    if (!r->peer_done)
        fwd_peer_resolve((struct http_req *)r); /* computed once, kept in the request */
    return r->fwd_peer;
}

int64_t http_req_content_length(const struct http_req *r)
{
    const char *v = http_req_header(r, "Content-Length");
    if (v == NULL || http_req_header(r, "Transfer-Encoding") != NULL)
        return -1;
    return (int64_t)strtoll(v, NULL, 10); /* llhttp has checked it is a number */
}

bool http_req_has_client(const struct http_req *r)
{
    return r->conn != NULL && r->conn->state == CONN_OPEN;
}

void *http_req_uv_loop(const struct http_req *r)
{
    return &r->loop->uv;
}

int http_req_loop(const struct http_req *r)
{
    return r->loop->idx;
}

bool http_req_is_stopping(const struct http_req *r)
{
    return r->loop->stopping;
}

void http_req_post(struct http_req *r, void (*fn)(void *arg), void *arg)
{
    net__loop_post(r->loop, fn, arg);
}

/* ---------------------------------------------------------------- for ws.c */

struct conn *net__http_req_conn(struct http_req *r);
struct conn *net__http_req_conn(struct http_req *r)
{
    return r->conn;
}
