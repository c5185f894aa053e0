/*
 * The one body reader and the one error mapper (router/request.h), and the identity and
 * console store-error answers built on it, through an in-process server: every error code
 * gets the status, code and Retry-After of core/err.h (a store ERR_INVAL is 422, never 500;
 * back-pressure is 503 unavailable with Retry-After), and bodies pass json_check first.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "console/internal.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "identity/internal.h"
#include "metrics/metrics.h"
#include "net/http.h"
#include "net/server.h"
#include "router/request.h"
#include "router/router.h"

static int g_port;

static int param_err(struct http_req *req)
{
    return -atoi(http_req_param(req, "n"));
}

static void fail_h(struct http_req *req, void *ud)
{
    (void)ud;
    request_fail_store(req, param_err(req), "thing", "name");
}

static void idfail_h(struct http_req *req, void *ud)
{
    (void)ud;
    identity__respond_store_err(req, param_err(req));
}

static void cfail_h(struct http_req *req, void *ud)
{
    (void)ud;
    console__respond_store_err(req, param_err(req), "operator");
}

static void json_h(struct http_req *req, void *ud)
{
    (void)ud;
    cJSON *v = request_body_json(req);
    if (v == NULL)
        return;
    char *s = cJSON_PrintUnformatted(v);
    http_respond_json(req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(v);
}

static char *roundtrip(const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct buf b = BUF_INIT;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        for (size_t off = 0; off < len;) {
            ssize_t w = write(fd, req + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        int ms = 2000;
        for (;;) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, ms) <= 0)
                break;
            char tmp[4096];
            ssize_t r = read(fd, tmp, sizeof(tmp));
            if (r <= 0)
                break;
            buf_append(&b, tmp, (size_t)r);
            ms = 100;
        }
    }
    close(fd);
    buf_puts(&b, "");
    return buf_detach(&b, NULL);
}

static char *get(const char *path)
{
    char req[256];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    return roundtrip(req, (size_t)n);
}

static char *post(const char *ctype, const char *body, size_t len)
{
    struct buf b = BUF_INIT;
    buf_printf(&b,
               "POST /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: %s\r\n"
               "Content-Length: %zu\r\n\r\n",
               ctype, len);
    buf_append(&b, body, len);
    char *out = roundtrip(b.data, b.len);
    buf_release(&b);
    return out;
}

#define HAS(resp, s) CHECK(strstr((resp), (s)) != NULL)

TEST(store_errors_one_mapping)
{
    static const char *const prefixes[] = {"/fail/", "/idfail/", "/cfail/"};
    for (int i = 0; i < 3; i++) {
        char path[32];
        snprintf(path, sizeof(path), "%s%d", prefixes[i], -ERR_INVAL);
        char *r = get(path); /* a value the store refused: the client's, never a 500 */
        HAS(r, "HTTP/1.1 422 ");
        HAS(r, "\"code\":\"validation_failed\"");
        free(r);
        snprintf(path, sizeof(path), "%s%d", prefixes[i], -ERR_AGAIN);
        r = get(path); /* back-pressure */
        HAS(r, "HTTP/1.1 503 ");
        HAS(r, "\r\nRetry-After: 1\r\n");
        HAS(r, "\"code\":\"unavailable\"");
        free(r);
        snprintf(path, sizeof(path), "%s%d", prefixes[i], -ERR_UNAVAIL);
        r = get(path);
        HAS(r, "HTTP/1.1 503 ");
        HAS(r, "\"code\":\"unavailable\"");
        free(r);
        snprintf(path, sizeof(path), "%s%d", prefixes[i], -ERR_NOTFOUND);
        r = get(path);
        HAS(r, "HTTP/1.1 404 ");
        HAS(r, "\"code\":\"not_found\"");
        free(r);
        snprintf(path, sizeof(path), "%s%d", prefixes[i], -ERR_EXISTS);
        r = get(path);
        HAS(r, "HTTP/1.1 409 ");
        HAS(r, "\"code\":\"conflict\"");
        free(r);
        snprintf(path, sizeof(path), "%s%d", prefixes[i], -ERR_BACKEND);
        r = get(path);
        HAS(r, "HTTP/1.1 500 ");
        HAS(r, "\"code\":\"internal_error\"");
        CHECK(strstr(r, "Retry-After") == NULL);
        free(r);
    }
    char *r = get("/idfail/3");
    HAS(r, "\"message\":\"a user with this id exists\",\"field\":\"id\"");
    free(r);
    r = get("/cfail/2");
    HAS(r, "\"message\":\"no such operator\"");
    free(r);
}

TEST(body_reader)
{
    char *r = post("application/json", "{\"a\":[1,\"x\"]}", 13);
    HAS(r, "HTTP/1.1 200 ");
    HAS(r, "{\"a\":[1,\"x\"]}");
    free(r);
    r = post("Application/JSON ; charset=utf-8", "{}", 2);
    HAS(r, "HTTP/1.1 200 ");
    free(r);
    r = post("text/plain", "{}", 2);
    HAS(r, "HTTP/1.1 415 ");
    HAS(r, "unsupported_media_type");
    free(r);
    r = post("application/jsonp", "{}", 2);
    HAS(r, "HTTP/1.1 415 ");
    free(r);
    r = post("application/json", "{\"a\":1} x", 9);
    HAS(r, "HTTP/1.1 400 ");
    HAS(r, "\"code\":\"invalid_json\"");
    free(r);
    r = post("application/json", "{\"a\":1,\"a\":2}", 13);
    HAS(r, "HTTP/1.1 400 ");
    HAS(r, "duplicate key \\\"a\\\"");
    HAS(r, "\"field\":\"a\"");
    free(r);
    r = post("application/json", "{\"id\":\"a\0b\"}", 12);
    HAS(r, "HTTP/1.1 400 ");
    HAS(r, "\"field\":\"id\"");
    free(r);
    r = post("application/json", "{\"u\":[{\"n\":\"\\u0000\"}]}", 22);
    HAS(r, "HTTP/1.1 422 ");
    HAS(r, "\"code\":\"validation_failed\"");
    HAS(r, "\"field\":\"u[0].n\"");
    free(r);
    r = post("application/json", "\"\xc0\xaf\"", 4);
    HAS(r, "HTTP/1.1 400 ");
    free(r);
    r = post("application/json", "", 0);
    HAS(r, "HTTP/1.1 400 ");
    free(r);
}

int main(void)
{
    struct config cfg;
    config_defaults(&cfg);
    free(cfg.listen_host);
    cfg.listen_host = strdup("127.0.0.1");
    cfg.listen_port = 0;
    cfg.workers = 1;
    log_setup(LOG_OFF, false);
    struct router *r = router_new();
    router_add(r, HTTP_M_GET, "/fail/{n}", fail_h, NULL);
    router_add(r, HTTP_M_GET, "/idfail/{n}", idfail_h, NULL);
    router_add(r, HTTP_M_GET, "/cfail/{n}", cfail_h, NULL);
    router_add(r, HTTP_M_POST, "/json", json_h, NULL);
    struct metrics *m = metrics_new(1, r);
    struct server_opts opts = {.cfg = &cfg, .router = r, .metrics = m};
    struct server *s = server_start(&opts, &g_port);
    if (s == NULL) {
        fprintf(stderr, "cannot start server\n");
        return 1;
    }
    RUN(store_errors_one_mapping);
    RUN(body_reader);
    server_stop(s, 2000);
    server_free(s);
    metrics_free(m);
    router_free(r);
    config_release(&cfg);
    return test_summary();
}
