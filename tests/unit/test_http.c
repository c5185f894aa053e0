/*
 * HTTP glue (llhttp callbacks, request assembly, response writing) tested
 * through an in-process server on a loopback port with test routes that echo
 * the body, a path parameter and a query parameter.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "net/http.h"
#include "net/server.h"
#include "router/router.h"

static int g_port;
static struct server *g_srv;

static void echo(struct http_req *req, void *ud)
{
    (void)ud;
    size_t len;
    const char *body = http_req_body(req, &len);
    http_respond(req, 200, "application/octet-stream", body, len);
}

static void param(struct http_req *req, void *ud)
{
    (void)ud;
    char q[64] = "";
    http_req_query_param(req, "q", q, sizeof(q));
    struct buf b = BUF_INIT;
    buf_printf(&b, "%s|%s|%s", http_req_param(req, "id"), q,
               http_req_header(req, "X-Test") ? http_req_header(req, "X-Test") : "-");
    http_respond(req, 200, "text/plain", b.data, b.len);
    buf_release(&b);
}

/* An asynchronous handler: a thread sleeps, then posts the answer back to the loop. */
static void slow_answer(void *arg)
{
    struct http_req *req = arg;
    http_respond(req, 200, "text/plain", "slow", 4);
}

static void *slow_worker(void *arg)
{
    usleep(50000);
    http_req_post(arg, slow_answer, arg);
    return NULL;
}

static void slow(struct http_req *req, void *ud)
{
    (void)ud;
    pthread_t t;
    pthread_create(&t, NULL, slow_worker, req);
    pthread_detach(t);
}

/* Holds its loop for 300 ms: what arrives meanwhile waits in the kernel. */
static void block(struct http_req *req, void *ud)
{
    (void)ud;
    usleep(300000);
    http_respond(req, 200, "text/plain", "blocked", 7);
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads until the peer closes or `want` occurrences of "HTTP/1.1 " are complete-ish or 2 s pass. */
static char *read_for(int fd, int ms, bool *closed)
{
    struct buf b = BUF_INIT;
    *closed = false;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, ms) <= 0)
            break;
        char tmp[8192];
        ssize_t r = read(fd, tmp, sizeof(tmp));
        if (r <= 0) {
            *closed = true;
            break;
        }
        buf_append(&b, tmp, (size_t)r);
        ms = 150; /* after the first bytes, wait briefly for more */
    }
    if (b.data == NULL)
        buf_puts(&b, "");
    return buf_detach(&b, NULL);
}

static char *roundtrip(const char *req, size_t len, bool *closed)
{
    int fd = dial();
    send_all(fd, req, len);
    char *out = read_for(fd, 2000, closed);
    close(fd);
    return out;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

TEST(get_param_query_header)
{
    bool closed;
    const char req[] = "GET /p/a%20b?q=x%2By HTTP/1.1\r\nHost: x\r\nX-Test: v1\r\n\r\n";
    char *out = roundtrip(req, sizeof(req) - 1, &closed);
    CHECK(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(out, "\r\n\r\na b|x+y|v1") != NULL);
    CHECK(strstr(out, "Content-Length: 10\r\n") != NULL);
    CHECK(strstr(out, "Connection: keep-alive\r\n") != NULL);
    CHECK(strstr(out, "X-Request-Id: ") != NULL);
    CHECK(strstr(out, "Date: ") != NULL);
    free(out);
}

TEST(pipelined_in_order)
{
    bool closed;
    const char req[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"
                       "GET /p/three HTTP/1.1\r\nHost: x\r\n\r\n";
    char *out = roundtrip(req, sizeof(req) - 1, &closed);
    CHECK_INT(count(out, "HTTP/1.1 200"), 3);
    char *a = strstr(out, "\r\n\r\none"), *b = strstr(out, "\r\n\r\ntwo"),
         *c = strstr(out, "\r\n\r\nthree|");
    CHECK(a && b && c && a < b && b < c);
    free(out);
}

TEST(async_handler_keeps_order)
{
    bool closed;
    const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /p/after HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
    char *out = roundtrip(req, sizeof(req) - 1, &closed);
    CHECK_INT(count(out, "HTTP/1.1 200"), 3);
    char *a = strstr(out, "\r\n\r\nslow"), *b = strstr(out, "\r\n\r\nafter|");
    CHECK(a && b && a < b);
    CHECK(b && strstr(b, "\r\n\r\nslow") != NULL);
    free(out);
}

TEST(chunked_body)
{
    bool closed;
    const char req[] = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n";
    char *out = roundtrip(req, sizeof(req) - 1, &closed);
    CHECK(strstr(out, "Content-Length: 11\r\n") != NULL);
    CHECK(strstr(out, "\r\n\r\nhello world") != NULL);
    if (!strstr(out, "hello world"))
        fprintf(stderr, "got: %s\n", out);
    free(out);
}

TEST(expect_continue)
{
    bool closed;
    int fd = dial();
    const char head[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                        "Expect: 100-continue\r\n\r\n";
    send_all(fd, head, sizeof(head) - 1);
    char *first = read_for(fd, 2000, &closed);
    CHECK_STR(first, "HTTP/1.1 100 Continue\r\n\r\n");
    send_all(fd, "body", 4);
    char *second = read_for(fd, 2000, &closed);
    CHECK(strncmp(second, "HTTP/1.1 200 OK", 15) == 0);
    CHECK(strstr(second, "\r\n\r\nbody") != NULL);
    free(first);
    free(second);
    close(fd);
}

TEST(limits)
{
    bool closed;
    /* 413: declared too large */
    const char big[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
    char *out = roundtrip(big, sizeof(big) - 1, &closed);
    CHECK(strncmp(out, "HTTP/1.1 413", 12) == 0);
    CHECK(strstr(out, "\"code\":\"payload_too_large\"") != NULL);
    CHECK(closed);
    free(out);
    /* 413: chunked body growing past the limit */
    struct buf b = BUF_INIT;
    buf_puts(&b, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        buf_puts(&b, "400\r\n");
        for (int j = 0; j < 1024; j++)
            buf_putc(&b, 'a');
        buf_puts(&b, "\r\n");
    }
    out = roundtrip(b.data, b.len, &closed);
    CHECK(strncmp(out, "HTTP/1.1 413", 12) == 0);
    free(out);
    buf_clear(&b);
    /* 414 */
    buf_puts(&b, "GET /");
    for (int i = 0; i < 9000; i++)
        buf_putc(&b, 'a');
    buf_puts(&b, " HTTP/1.1\r\nHost: x\r\n\r\n");
    out = roundtrip(b.data, b.len, &closed);
    CHECK(strncmp(out, "HTTP/1.1 414", 12) == 0);
    CHECK(strstr(out, "uri_too_long") != NULL);
    free(out);
    buf_clear(&b);
    /* 431 by count */
    buf_puts(&b, "GET /p/x HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 120; i++)
        buf_printf(&b, "X-H%d: v\r\n", i);
    buf_puts(&b, "\r\n");
    out = roundtrip(b.data, b.len, &closed);
    CHECK(strncmp(out, "HTTP/1.1 431", 12) == 0);
    free(out);
    buf_clear(&b);
    /* 431 by bytes */
    buf_puts(&b, "GET /p/x HTTP/1.1\r\nHost: x\r\nX-Big: ");
    for (int i = 0; i < 40000; i++)
        buf_putc(&b, 'v');
    buf_puts(&b, "\r\n\r\n");
    out = roundtrip(b.data, b.len, &closed);
    CHECK(strncmp(out, "HTTP/1.1 431", 12) == 0);
    CHECK(strstr(out, "headers_too_large") != NULL);
    free(out);
    buf_release(&b);
}

TEST(smuggling_shapes)
{
    const char *reqs[] = {
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "fffffffffffffffffff\r\n",
        "GARBAGE\r\n\r\n",
        "GET /p/x HTTP/1.1\r\nHost x\r\n\r\n",
        "GET /p/x HTTP/2.0\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        bool closed;
        char *out = roundtrip(reqs[i], strlen(reqs[i]), &closed);
        CHECK(strncmp(out, "HTTP/1.1 4", 10) == 0 || strncmp(out, "HTTP/1.1 505", 12) == 0);
        CHECK(strstr(out, "Connection: close") != NULL);
        CHECK(closed);
        if (strncmp(out, "HTTP/1.1 4", 10) != 0 && strncmp(out, "HTTP/1.1 505", 12) != 0)
            fprintf(stderr, "case %zu got: %.60s\n", i, out);
        free(out);
    }
}

TEST(head_404_405)
{
    bool closed;
    const char req[] = "HEAD /p/x HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                       "DELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n";
    char *out = roundtrip(req, sizeof(req) - 1, &closed);
    CHECK(strncmp(out, "HTTP/1.1 200 OK", 15) == 0);
    CHECK(strstr(out, "Content-Length: 4\r\n") != NULL); /* the GET body "x||-" */
    CHECK(strstr(out, "x||-") == NULL);                  /* HEAD sends no body */
    CHECK(strstr(out, "HTTP/1.1 404 Not Found") != NULL);
    CHECK(strstr(out, "{\"error\":{\"code\":\"not_found\"") != NULL);
    CHECK(strstr(out, "HTTP/1.1 405 Method Not Allowed") != NULL);
    CHECK(strstr(out, "Allow: POST, OPTIONS\r\n") != NULL);
    free(out);
}

TEST(http10_closes)
{
    bool closed;
    const char req[] = "GET /p/x HTTP/1.0\r\n\r\n";
    char *out = roundtrip(req, sizeof(req) - 1, &closed);
    CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(out, "Connection: close") != NULL);
    CHECK(closed);
    free(out);
}

static void *drain_thread(void *arg)
{
    server_drain(arg, 2000);
    return NULL;
}

/* A request the kernel holds, unread, when the shutdown reaches the loop is answered (with
 * Connection: close), not dropped with the idle connections: the client sent it before the
 * shutdown and can't tell it from one the loop had read. The loop is held by /block while the
 * drain command, then the request, arrive, so the loop sees them in that order. Last: it
 * drains the server. */
TEST(drain_answers_unread_request)
{
    struct server *s = g_srv;
    bool closed;
    int idle = dial();
    const char get[] = "GET /p/y HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(idle, get, sizeof(get) - 1);
    char *out = read_for(idle, 2000, &closed); /* accepted, answered, now idle */
    CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0 && !closed);
    free(out);
    int busy = dial();
    const char blk[] = "GET /block HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(busy, blk, sizeof(blk) - 1);
    usleep(100000); /* the loop is in /block */
    pthread_t t;
    pthread_create(&t, NULL, drain_thread, s);
    usleep(50000); /* the drain command waits for the loop */
    send_all(idle, get, sizeof(get) - 1);
    out = read_for(idle, 2000, &closed);
    CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(out, "Connection: close") != NULL);
    CHECK(closed);
    free(out);
    out = read_for(busy, 2000, &closed);
    CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0 && closed);
    free(out);
    pthread_join(t, NULL);
    close(idle);
    close(busy);
}

int main(void)
{
    struct config cfg;
    config_defaults(&cfg);
    free(cfg.listen_host);
    cfg.listen_host = strdup("127.0.0.1");
    cfg.listen_port = 0;
    cfg.workers = 1;
    cfg.max_body = 4096;
    log_setup(LOG_OFF, false);
    struct router *r = router_new();
    router_add(r, HTTP_M_POST, "/echo", echo, NULL);
    router_add(r, HTTP_M_GET, "/p/{id}", param, NULL);
    router_add(r, HTTP_M_GET, "/slow", slow, NULL);
    router_add(r, HTTP_M_GET, "/block", block, NULL);
    struct metrics *m = metrics_new(1, r);
    struct server_opts opts = {.cfg = &cfg, .router = r, .metrics = m};
    struct server *s = server_start(&opts, &g_port);
    if (s == NULL) {
        fprintf(stderr, "cannot start server\n");
        return 1;
    }
    RUN(get_param_query_header);
    RUN(pipelined_in_order);
    RUN(async_handler_keeps_order);
    RUN(chunked_body);
    RUN(expect_continue);
    RUN(limits);
    RUN(smuggling_shapes);
    RUN(head_404_405);
    RUN(http10_closes);
    g_srv = s;
    RUN(drain_answers_unread_request);
    server_stop(s, 2000);
    server_free(s);
    metrics_free(m);
    router_free(r);
    config_release(&cfg);
    return test_summary();
}
