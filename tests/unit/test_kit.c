/*
 * The request kit's job (kit/job.h) through an in-process server with a real SQLite store and
 * worker pool: store and worker steps chain, every continuation runs on the request's loop
 * thread, a failed store step is answered through the one mapper, a job ends (its context
 * freed once, its registered secrets wiped) when a continuation starts no further step, and a
 * handler's first code run with kit_run ends the job when it answers at once.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/workpool.h"
#include "kit/job.h"
#include "metrics/metrics.h"
#include "net/http.h"
#include "net/server.h"
#include "router/router.h"
#include "store/store.h"

static int g_port;
static struct store *g_store;
static struct workpool *g_work;
static atomic_int g_ctx_freed, g_off_loop;
static char g_secret[16] = "top-secret-value";

static const struct store_sql sql_add = {.sqlite = "SELECT ?1 + 1", .pg = "SELECT $1::bigint + 1"};
static const struct store_sql sql_bad = {.sqlite = "SELECT * FROM no_such_table",
                                         .pg = "SELECT * FROM no_such_table"};

struct chain {
    pthread_t loop; /* the thread that ran the handler */
    int64_t v;      /* carried through the steps */
    int steps;
};

static void chain_free(void *ctx)
{
    atomic_fetch_add(&g_ctx_freed, 1);
    free(ctx);
}

static void on_loop_check(struct kit_job *j)
{
    struct chain *c = j->ctx;
    if (!pthread_equal(pthread_self(), c->loop))
        atomic_fetch_add(&g_off_loop, 1);
    c->steps++;
}

static void chain_done(struct kit_job *j)
{
    struct chain *c = j->ctx;
    on_loop_check(j);
    if (j->status != 0) {
        kit_fail_store(j, "thing", NULL);
        return;
    }
    c->v = store_rows_int(store_result_step(j->res, 0), 0, 0);
    char out[64];
    int n = snprintf(out, sizeof(out), "{\"v\":%lld,\"steps\":%d}", (long long)c->v, c->steps);
    http_respond_json(j->req, 200, out, (size_t)n);
}

/* Worker thread: doubles v; fails when asked to. */
static int double_work(struct kit_job *j)
{
    struct chain *c = j->ctx;
    if (pthread_equal(pthread_self(), c->loop))
        atomic_fetch_add(&g_off_loop, 100); /* a worker step must not run on the loop */
    c->v *= 2;
    return c->v > 1000 ? ERR_TOOBIG : 0;
}

static void chain_worked(struct kit_job *j)
{
    struct chain *c = j->ctx;
    on_loop_check(j);
    if (j->status != 0) {
        kit_fail_store(j, "thing", NULL);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_add);
    store_bind_int(op, c->v);
    kit_store(j, op, KIT_READ, chain_done);
}

static void chain_read(struct kit_job *j)
{
    struct chain *c = j->ctx;
    on_loop_check(j);
    if (j->status != 0) {
        kit_fail_store(j, "thing", NULL);
        return;
    }
    c->v = store_rows_int(store_result_step(j->res, 0), 0, 0);
    kit_work(j, WORKPOOL_HIGH, 0, double_work, chain_worked);
}

/* GET /chain/{n}: n + 1 (store), * 2 (worker), + 1 (store). */
static void chain_h(struct http_req *req, void *ud)
{
    (void)ud;
    struct chain *c = calloc(1, sizeof(*c));
    c->loop = pthread_self();
    c->v = atoll(http_req_param(req, "n"));
    struct kit_job *j = kit_job_new(req, g_store, g_work, c, chain_free);
    kit_secret(j, g_secret, sizeof(g_secret));
    kit_secret_dup(j, "another secret");
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_add);
    store_bind_int(op, c->v);
    kit_store(j, op, KIT_READ, chain_read);
}

static void bad_h(struct http_req *req, void *ud)
{
    (void)ud;
    struct chain *c = calloc(1, sizeof(*c));
    c->loop = pthread_self();
    struct kit_job *j = kit_job_new(req, g_store, g_work, c, chain_free);
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_bad);
    kit_store(j, op, KIT_READ, chain_done);
}

/* kit_run: answers at once without a step; the job ends when the first code returns. */
static void at_once(struct kit_job *j)
{
    on_loop_check(j);
    http_respond_error(j->req, 422, "validation_failed", "refused at once", "x");
}

static void run_h(struct http_req *req, void *ud)
{
    (void)ud;
    struct chain *c = calloc(1, sizeof(*c));
    c->loop = pthread_self();
    kit_run(kit_job_new(req, g_store, g_work, c, chain_free), at_once);
}

static char *get(const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct buf b = BUF_INIT;
    char req[256];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && write(fd, req, (size_t)n) == n) {
        for (;;) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 5000) <= 0)
                break;
            char tmp[4096];
            ssize_t r = read(fd, tmp, sizeof(tmp));
            if (r <= 0)
                break;
            buf_append(&b, tmp, (size_t)r);
        }
    }
    close(fd);
    buf_puts(&b, "");
    return buf_detach(&b, NULL);
}

#define HAS(resp, s) CHECK(strstr((resp), (s)) != NULL)

TEST(store_worker_store_chain)
{
    int freed = atomic_load(&g_ctx_freed);
    char *r = get("/chain/20"); /* (20 + 1) * 2 + 1 */
    HAS(r, "HTTP/1.1 200 ");
    HAS(r, "{\"v\":43,\"steps\":3}");
    free(r);
    CHECK_INT(atomic_load(&g_off_loop), 0);
    CHECK_INT(atomic_load(&g_ctx_freed), freed + 1);
    static const char zero[sizeof(g_secret)];
    CHECK(memcmp(g_secret, zero, sizeof(zero)) == 0); /* wiped when the job ended */
}

TEST(failed_steps_use_the_one_mapper)
{
    int freed = atomic_load(&g_ctx_freed);
    char *r = get("/chain/600"); /* the worker step refuses 1202 */
    HAS(r, "HTTP/1.1 413 ");
    free(r);
    r = get("/bad");
    HAS(r, "HTTP/1.1 500 ");
    HAS(r, "\"code\":\"internal_error\"");
    free(r);
    CHECK_INT(atomic_load(&g_ctx_freed), freed + 2);
    CHECK_INT(atomic_load(&g_off_loop), 0);
}

TEST(kit_run_ends_a_job_answered_at_once)
{
    int freed = atomic_load(&g_ctx_freed);
    char *r = get("/run");
    HAS(r, "HTTP/1.1 422 ");
    HAS(r, "\"field\":\"x\"");
    free(r);
    CHECK_INT(atomic_load(&g_ctx_freed), freed + 1);
}

int main(void)
{
    char dir[] = "/tmp/herald-test-kit-XXXXXX", url[96], err[256];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(url, sizeof(url), "sqlite:%s/herald.db", dir);
    log_setup(LOG_OFF, false);
    if (store_open(url, STORE_DURABILITY_NORMAL, &g_store, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot open the store: %s\n", err);
        return 1;
    }
    g_work = workpool_new(2, 16);
    struct config cfg;
    config_defaults(&cfg);
    free(cfg.listen_host);
    cfg.listen_host = strdup("127.0.0.1");
    cfg.listen_port = 0;
    cfg.workers = 1;
    struct router *rt = router_new();
    router_add(rt, HTTP_M_GET, "/chain/{n}", chain_h, NULL);
    router_add(rt, HTTP_M_GET, "/bad", bad_h, NULL);
    router_add(rt, HTTP_M_GET, "/run", run_h, NULL);
    struct metrics *m = metrics_new(1, rt);
    struct server_opts opts = {.cfg = &cfg, .router = rt, .metrics = m};
    struct server *s = server_start(&opts, &g_port);
    if (s == NULL) {
        fprintf(stderr, "cannot start server\n");
        return 1;
    }
    RUN(store_worker_store_chain);
    RUN(failed_steps_use_the_one_mapper);
    RUN(kit_run_ends_a_job_answered_at_once);
    server_stop(s, 2000);
    server_free(s);
    workpool_free(g_work);
    store_close(g_store);
    metrics_free(m);
    router_free(rt);
    config_release(&cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary();
}
