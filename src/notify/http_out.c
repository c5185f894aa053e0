/*
 * The outbound HTTP(S) request of the channel drivers (http_out.h): libcurl's easy interface
 * on the calling worker thread, one handle per request, with the SSRF guard in the socket
 * open callback so that the checked address is the connected address.
 */
#include "notify/http_out.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/cidr.h"
#include "core/xalloc.h"
#include "core/version.h"
#include "notify/drivers.h"

#define RETRY_AFTER_MAX_S 3600

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --------------------------------------------------------------------------- the pool */

struct http_out_pool {
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    struct http_out_pool *p = ud;
    (void)h, (void)access;
    pthread_mutex_lock(&p->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct http_out_pool *p = ud;
    (void)h;
    pthread_mutex_unlock(&p->locks[data]);
}

struct http_out_pool *http_out_pool_new(void)
{
    pthread_once(&curl_once, curl_setup);
    struct http_out_pool *p = xmalloc(sizeof *p);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&p->locks[i], NULL);
    p->share = curl_share_init();
    if (p->share == NULL)
        abort();
    curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return p;
}

void http_out_pool_free(struct http_out_pool *p)
{
    if (p == NULL)
        return;
    curl_share_cleanup(p->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&p->locks[i]);
    free(p);
}

/* ------------------------------------------------------------------ the address classifier */

static bool v4_is_public(const uint8_t a[4])
{
    uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
    static const struct {
        uint32_t net;
        int bits;
    } blocked[] = {
        {0x00000000, 8},  /* 0/8 "this network", unspecified */
        {0x0a000000, 8},  /* 10/8 private */
        {0x64400000, 10}, /* 100.64/10 CGNAT */
        {0x7f000000, 8},  /* 127/8 loopback */
        {0xa9fe0000, 16}, /* 169.254/16 link-local */
        {0xac100000, 12}, /* 172.16/12 private */
        {0xc0000000, 24}, /* 192.0.0/24 protocol assignments */
        {0xc0000200, 24}, /* 192.0.2/24 TEST-NET-1 */
        {0xc0586300, 24}, /* 192.88.99/24 6to4 relay anycast */
        {0xc0a80000, 16}, /* 192.168/16 private */
        {0xc6120000, 15}, /* 198.18/15 benchmarking */
        {0xc6336400, 24}, /* 198.51.100/24 TEST-NET-2 */
        {0xcb007100, 24}, /* 203.0.113/24 TEST-NET-3 */
        {0xe0000000, 4},  /* 224/4 multicast */
        {0xf0000000, 4},  /* 240/4 reserved, 255.255.255.255 broadcast */
    };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
        uint32_t mask = 0xffffffffu << (32 - blocked[i].bits);
        if ((v & mask) == blocked[i].net)
            return false;
    }
    return true;
}

static bool prefix_is(const uint8_t a[16], const uint8_t *p, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, p, (size_t)bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (p[bytes] & mask);
}

bool http_out_addr_is_public(const uint8_t addr[16])
{
    static const uint8_t zero[16];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    static const uint8_t p6to4[2] = {0x20, 0x02};
    static const uint8_t fc00[1] = {0xfc}, fe80[2] = {0xfe, 0x80}, fec0[2] = {0xfe, 0xc0};
    static const uint8_t ff00[1] = {0xff}, doc[4] = {0x20, 0x01, 0x0d, 0xb8};

    if (memcmp(addr, mapped, 12) == 0)
        return v4_is_public(addr + 12);
    if (memcmp(addr, zero, 12) == 0) /* ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d */
        return false;
    if (prefix_is(addr, nat64, 96))
        return v4_is_public(addr + 12);
    if (prefix_is(addr, p6to4, 16))
        return v4_is_public(addr + 2);
    if (prefix_is(addr, fc00, 7) || prefix_is(addr, fe80, 10) || prefix_is(addr, fec0, 10) ||
        prefix_is(addr, ff00, 8) || prefix_is(addr, doc, 32))
        return false;
    return true;
}

static bool sockaddr_to16(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(out, &in6->sin6_addr, 16);
        return true;
    }
    return false;
}

/* --------------------------------------------------------------------------- checks */

bool http_out_header_is_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 && *p != '\t')
            return false;
        else if (*p == 0x7f)
            return false;
    return true;
}

bool http_out_url_check(const char *url, char *msg, size_t msgsz)
{
    size_t n = strlen(url);
    if (n == 0 || n > HTTP_OUT_URL_MAX) {
        snprintf(msg, msgsz, "must be a URL of 1 to %d bytes", HTTP_OUT_URL_MAX);
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) {
            snprintf(msg, msgsz, "must not contain blanks or control characters");
            return false;
        }
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        snprintf(msg, msgsz, "must be an http:// or https:// URL");
        return false;
    }
    pthread_once(&curl_once, curl_setup);
    CURLU *u = curl_url();
    if (u == NULL)
        abort();
    bool ok = false;
    char *host = NULL, *user = NULL, *frag = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(msg, msgsz, "is not a valid URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        snprintf(msg, msgsz, "must name a host");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(msg, msgsz, "must not carry a user name or password");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
        snprintf(msg, msgsz, "must not have a fragment");
        goto out;
    }
    ok = true;
out:
    curl_free(host);
    curl_free(user);
    curl_free(frag);
    curl_url_cleanup(u);
    return ok;
}

/* --------------------------------------------------------------------------- the request */

struct xfer {
    bool allow_private;
    bool refused; /* the guard refused an address */
    char refused_addr[CIDR_ADDR_TEXT];
    struct http_out_resp *resp;
};

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = clientp;
    uint8_t addr[16];
    (void)purpose;
    if (!sockaddr_to16(&a->addr, addr)) {
        x->refused = true;
        snprintf(x->refused_addr, sizeof x->refused_addr, "(not an IP address)");
        return CURL_SOCKET_BAD;
    }
    if (!x->allow_private && !http_out_addr_is_public(addr)) {
        x->refused = true;
        cidr_addr_format(addr, x->refused_addr);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* Ends a transfer at shutdown (notify_drivers_abort; called at least once a second, also
 * while waiting for a reply). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)ud, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return notify_drivers_aborting() ? 1 : 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    size_t room = HTTP_OUT_BODY_MAX - x->resp->body.len;
    if (len > room) {
        buf_append(&x->resp->body, p, room);
        return 0; /* stops the transfer: the reply is long enough to judge */
    }
    buf_append(&x->resp->body, p, len);
    return len;
}

static int parse_retry_after(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v)) {
        long s = strtol(v, NULL, 10);
        return s < 0 ? 0 : s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (int)s;
    }
    time_t when = curl_getdate(v, NULL);
    if (when <= 0)
        return 0;
    long d = (long)(when - time(NULL));
    return d <= 0 ? 0 : d > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (int)d;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && len < 128 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[128];
        memcpy(v, p + sizeof name - 1, len - (sizeof name - 1));
        v[len - (sizeof name - 1)] = '\0';
        v[strcspn(v, "\r\n")] = '\0';
        x->resp->retry_after_s = parse_retry_after(v);
    } else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->resp->retry_after_s = 0; /* a new reply (after 100 Continue) starts over */
    }
    return len;
}

void http_out_result_from_status(int status, int retry_after_s, struct notify_result *r)
{
    r->code = status;
    r->retry_after_s = 0;
    if (status >= 200 && status < 300) {
        r->outcome = NOTIFY_SENT;
        snprintf(r->detail, sizeof r->detail, "HTTP %d", status);
    } else if (status == 408 || status == 429 || status >= 500) {
        r->outcome = NOTIFY_RETRY;
        r->retry_after_s = retry_after_s;
        snprintf(r->detail, sizeof r->detail, "HTTP %d", status);
    } else if (status >= 300 && status < 400) {
        r->outcome = NOTIFY_PERMANENT;
        snprintf(r->detail, sizeof r->detail, "HTTP %d: redirect not followed", status);
    } else {
        r->outcome = NOTIFY_PERMANENT;
        snprintf(r->detail, sizeof r->detail, "HTTP %d", status);
    }
}

static void fail(struct notify_result *r, enum notify_outcome o, const char *detail)
{
    r->outcome = o;
    r->code = 0;
    r->retry_after_s = 0;
    snprintf(r->detail, sizeof r->detail, "%s", detail);
}

/* Transport failures that another attempt may cure. */
static bool curl_error_is_temporary(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

int http_out_request(const struct http_out_req *rq, struct http_out_resp *resp,
                     struct notify_result *r)
{
    char msg[128];
    memset(r, 0, sizeof *r);
    resp->status = 0;
    resp->retry_after_s = 0;
    buf_init(&resp->body);

    if (!http_out_url_check(rq->url, msg, sizeof msg)) {
        snprintf(r->detail, sizeof r->detail, "target URL %s", msg);
        r->outcome = NOTIFY_PERMANENT;
        return -1;
    }
    if (notify_drivers_aborting()) {
        fail(r, NOTIFY_RETRY, "the server is stopping");
        return -1;
    }
    pthread_once(&curl_once, curl_setup);
    struct curl_slist *hdrs = NULL;
    int nh = 0;
    for (const char *const *h = rq->headers; h && *h; h++) {
        if (++nh > HTTP_OUT_HEADERS_MAX || !http_out_header_is_clean(*h) || !strchr(*h, ':')) {
            curl_slist_free_all(hdrs);
            fail(r, NOTIFY_PERMANENT, "a request header is invalid (control characters)");
            return -1;
        }
        hdrs = curl_slist_append(hdrs, *h);
    }
    if (rq->content_type) {
        char ct[160];
        if (!http_out_header_is_clean(rq->content_type) ||
            (size_t)snprintf(ct, sizeof ct, "Content-Type: %s", rq->content_type) >= sizeof ct) {
            curl_slist_free_all(hdrs);
            fail(r, NOTIFY_PERMANENT, "the content type is invalid");
            return -1;
        }
        hdrs = curl_slist_append(hdrs, ct);
    }
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */

    CURL *c = curl_easy_init();
    if (c == NULL || hdrs == NULL)
        abort();
    struct xfer x = {.allow_private = rq->allow_private, .resp = resp};
    int timeout = rq->timeout_s <= 0                       ? HTTP_OUT_TIMEOUT_S
                  : rq->timeout_s > HTTP_OUT_TIMEOUT_MAX_S ? HTTP_OUT_TIMEOUT_MAX_S
                                                           : rq->timeout_s;
    bool get = rq->method && strcmp(rq->method, "GET") == 0;

    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)HTTP_OUT_CONNECT_S * 1000);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout * 1000);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Herald/" HERALD_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    if (rq->pool != NULL) {
        curl_easy_setopt(c, CURLOPT_SHARE, rq->pool->share);
        curl_easy_setopt(c, CURLOPT_MAXCONNECTS, (long)HTTP_OUT_POOL_CONNS);
        curl_easy_setopt(c, CURLOPT_MAXAGE_CONN, (long)HTTP_OUT_POOL_IDLE_S);
    }
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    if (get) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
    }

    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int ret = 0;
    if ((rc == CURLE_OK || rc == CURLE_WRITE_ERROR) && status > 0) {
        resp->status = (int)status;
        http_out_result_from_status(resp->status, resp->retry_after_s, r);
    } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        fail(r, NOTIFY_RETRY, "aborted: the server is stopping");
        ret = -1;
    } else if (x.refused) {
        snprintf(r->detail, sizeof r->detail,
                 "target refused: %s is a private or reserved address "
                 "(HERALD_ALLOW_PRIVATE_TARGETS is off)",
                 x.refused_addr);
        r->outcome = NOTIFY_PERMANENT;
        ret = -1;
    } else {
        snprintf(r->detail, sizeof r->detail, "%s", curl_easy_strerror(rc));
        r->outcome = curl_error_is_temporary(rc) ? NOTIFY_RETRY : NOTIFY_PERMANENT;
        ret = -1;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return ret;
}
