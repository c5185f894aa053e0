/*
 * Inside the notification module: the one outbound HTTP(S) request every HTTP channel driver
 * makes (webhook, robots, SMS, WeChat), on libcurl, blocking, from a worker thread. It is
 * where the safety rules of outbound requests live, once: timeouts always, a capped reply
 * body, TLS verification on, no redirect followed, no proxy from the environment, only http
 * and https, headers free of CR/LF, and the SSRF guard: unless private targets are allowed
 * (HERALD_ALLOW_PRIVATE_TARGETS), a connection to a private, loopback, link-local,
 * unique-local, multicast, unspecified, CGNAT or otherwise reserved address is refused. The
 * guard checks the address curl is about to connect to (CURLOPT_OPENSOCKETFUNCTION), so a
 * name that resolves differently later (DNS rebinding) cannot slip past it.
 */
#ifndef HERALD_NOTIFY_HTTP_OUT_H
#define HERALD_NOTIFY_HTTP_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "notify/driver.h"

#define HTTP_OUT_BODY_MAX (64 * 1024) /* reply bytes kept; a longer reply is cut there */
#define HTTP_OUT_CONNECT_S 5
#define HTTP_OUT_TIMEOUT_S 10 /* default total time of one request */
#define HTTP_OUT_TIMEOUT_MAX_S 30
#define HTTP_OUT_HEADERS_MAX 16
#define HTTP_OUT_URL_MAX 2048
#define HTTP_OUT_POOL_CONNS 8   /* idle connections a channel keeps */
#define HTTP_OUT_POOL_IDLE_S 60 /* a connection idle longer is not reused */

/* A channel's connections, DNS answers and TLS sessions, shared by its requests (keep-alive:
 * one TLS handshake for many messages). Any thread; freed when no request uses it. */
struct http_out_pool;
struct http_out_pool *http_out_pool_new(void);
void http_out_pool_free(struct http_out_pool *pool); /* NULL-safe */

struct http_out_req {
    const char *method;         /* "POST" (default when NULL) or "GET" */
    const char *url;            /* http:// or https:// */
    const char *content_type;   /* Content-Type of body, or NULL */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
    const char *body;           /* request body (POST), may be NULL */
    size_t body_len;
    int timeout_s;              /* total time; 0 = HTTP_OUT_TIMEOUT_S; clamped to 1..MAX */
    bool allow_private;         /* HERALD_ALLOW_PRIVATE_TARGETS */
    struct http_out_pool *pool; /* connections to reuse, or NULL: a fresh connection */
};

struct http_out_resp {
    int status;        /* HTTP status of the reply, 0 when none came */
    int retry_after_s; /* Retry-After in seconds (delta or date), 0 when absent; capped */
    struct buf body;   /* the reply body, at most HTTP_OUT_BODY_MAX bytes; caller releases */
};

/*
 * Makes one request. Returns 0 when a reply came (any status): resp is filled and r holds the
 * outcome by status (2xx sent; 408, 429, 5xx retry with Retry-After; 3xx permanent, the
 * redirect not followed; other 4xx permanent), which drivers may refine from the body. Returns
 * -1 when no reply came: r says why (a refused target, a bad URL or header: permanent; a
 * timeout, a connection or TLS handshake failure: retry). r->detail never holds the URL (it
 * may carry a token). Always fills r; resp->body must be released either way. Any thread.
 */
int http_out_request(const struct http_out_req *rq, struct http_out_resp *resp,
                     struct notify_result *r);

/* Sets r from an HTTP status as http_out_request does. */
void http_out_result_from_status(int status, int retry_after_s, struct notify_result *r);

/*
 * True when addr (16 bytes, IPv4 as ::ffff:a.b.c.d, see core/cidr.h) is a public unicast
 * address a notification may be sent to: not unspecified, loopback, private (10/8, 172.16/12,
 * 192.168/16), CGNAT (100.64/10), link-local, unique-local (fc00::/7), site-local, multicast,
 * broadcast or reserved (0/8, 240/4, 192.0.0/24, 198.18/15, TEST-NETs), nor one of those
 * embedded in IPv4-compatible, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) IPv6 addresses.
 */
bool http_out_addr_is_public(const uint8_t addr[16]);

/*
 * Checks a URL a channel config names: http or https, a host, at most HTTP_OUT_URL_MAX bytes,
 * no user:password part, no fragment, no control characters or blanks. Returns true, or false
 * with a short reason in msg.
 */
bool http_out_url_check(const char *url, char *msg, size_t msgsz);

/* true when s holds no CR, LF or other control byte (a header value or name). */
bool http_out_header_is_clean(const char *s);

#endif
