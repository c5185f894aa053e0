/*
 * Unit tests of rt sessions on the bus (src/rt, src/bus) over a real loop: a
 * WebSocket session subscribes to its user's and its app's topics when it
 * opens; events published to its user topic reach it as text frames, events
 * of other users do not; once its client has gone, its subscriptions are gone
 * and an event for it is delivered to nobody (under ASan, a session freed
 * while still subscribed would be a use-after-free here). The server runs
 * with one loop, an SQLite store in a temporary folder and demo mode
 * (?user_id=), and is shut down in the order herald serve uses; posts and
 * publishes after the loops have ended are dropped; an event published before
 * rt_attach does not keep the loop from reading its inbox afterwards.
 */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus.h"
#include "core/config.h"
#include "core/log.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "metrics/metrics.h"
#include "net/server.h"
#include "router/router.h"
#include "rt/rt.h"
#include "store/store.h"

static int g_port;
static struct server *g_srv;
static struct rt *g_rt;
static char g_app[64]; /* the default app's id */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the number of bus subscriptions on loop 0, read on the loop's own thread */

struct probe {
    atomic_int n;
    atomic_bool done;
};

static void count_subs(void *arg)
{
    struct probe *p = arg;
    atomic_store(&p->n, (int)bus_loop_subscriptions(rt_bus(g_rt), 0));
    atomic_store(&p->done, true);
}

static int subs_now(void)
{
    struct probe p;
    atomic_init(&p.n, -1);
    atomic_init(&p.done, false);
    server_post(g_srv, 0, count_subs, &p);
    for (int i = 0; i < 3000 && !atomic_load(&p.done); i++)
        sleep_ms(1);
    return atomic_load(&p.done) ? atomic_load(&p.n) : -1;
}

/* Polls until loop 0 holds want subscriptions (3 s at most); the last count seen. */
static int wait_subs(int want)
{
    int n = -1;
    for (int i = 0; i < 300 && (n = subs_now()) != want; i++)
        sleep_ms(10);
    return n;
}

/* ---- a minimal WebSocket client */

struct client {
    int fd;
    char buf[8192];
    size_t len;
};

/* Reads more bytes within ms; false on timeout or EOF. */
static bool fill(struct client *c, int ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (c->len == sizeof(c->buf) || poll(&p, 1, ms) <= 0)
        return false;
    ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    if (r <= 0)
        return false;
    c->len += (size_t)r;
    return true;
}

static void consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Connects as demo user uid; true once the 101 has arrived (the hello is left unread). */
static bool client_open(struct client *c, const char *uid)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return false;
    char req[400];
    int n = snprintf(req, sizeof(req),
                     "GET /ws?user_id=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     uid);
    if (write(c->fd, req, (size_t)n) != n)
        return false;
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
        if (!fill(c, 3000))
            return false;
    bool ok = strncmp(c->buf, "HTTP/1.1 101 ", 13) == 0;
    consume(c, (size_t)(end + 4 - c->buf));
    return ok;
}

/*
 * The next text frame's payload into out (NUL-terminated), within ms; false on
 * timeout, EOF or another frame. Server frames are unmasked and short here.
 */
static bool client_text(struct client *c, char *out, size_t outlen, int ms)
{
    while (c->len < 2 || (c->buf[1] & 0x7f) > 125 || c->len < 2u + (c->buf[1] & 0x7f))
        if (!fill(c, ms))
            return false;
    size_t n = (size_t)(c->buf[1] & 0x7f);
    bool text = (unsigned char)c->buf[0] == 0x81 && n < outlen;
    if (text) {
        memcpy(out, c->buf + 2, n);
        out[n] = '\0';
    }
    consume(c, 2 + n);
    return text;
}

static void publish_to_user(const char *uid, const char *json)
{
    char topic[BUS_TOPIC_MAX + 1];
    bus_topic_user(topic, g_app, uid);
    rt_publish(g_rt, topic, json, strlen(json), 0, 0);
}

/* ---- tests */

TEST(session_gets_its_user_events_and_none_after_close)
{
    char text[512];
    struct client a, b;
    CHECK(client_open(&a, "b1"));
    CHECK(client_text(&a, text, sizeof(text), 3000)); /* hello */
    CHECK(strstr(text, "\"type\":\"hello\"") != NULL);
    CHECK_INT(wait_subs(2), 2); /* its user topic and its app topic */

    publish_to_user("b1", "{\"type\":\"t\",\"n\":1}");
    CHECK(client_text(&a, text, sizeof(text), 3000));
    CHECK(strcmp(text, "{\"type\":\"t\",\"n\":1}") == 0);

    /* another user's event does not reach it; the next one for b1 does, in order */
    publish_to_user("b9", "{\"type\":\"t\",\"n\":2}");
    publish_to_user("b1", "{\"type\":\"t\",\"n\":3}");
    CHECK(client_text(&a, text, sizeof(text), 3000));
    CHECK(strcmp(text, "{\"type\":\"t\",\"n\":3}") == 0);

    CHECK(client_open(&b, "b2"));
    CHECK(client_text(&b, text, sizeof(text), 3000)); /* hello */
    CHECK_INT(wait_subs(4), 4);

    /* the client goes: its session unsubscribes and is freed */
    close(a.fd);
    CHECK_INT(wait_subs(2), 2);
    /* an event for the closed session, then one for b2: when b2 has its event, the loop has
       handled the first one too (one inbox, in order) and touched no freed session */
    publish_to_user("b1", "{\"type\":\"t\",\"n\":4}");
    publish_to_user("b2", "{\"type\":\"t\",\"n\":5}");
    CHECK(client_text(&b, text, sizeof(text), 3000));
    CHECK(strcmp(text, "{\"type\":\"t\",\"n\":5}") == 0);
    CHECK_INT(subs_now(), 2);

    close(b.fd);
    CHECK_INT(wait_subs(0), 0);
}

TEST(app_topic_reaches_every_session_of_the_app)
{
    char text[512], topic[BUS_TOPIC_MAX + 1];
    struct client a, b;
    CHECK(client_open(&a, "b3"));
    CHECK(client_open(&b, "m3"));
    CHECK(client_text(&a, text, sizeof(text), 3000));
    CHECK(client_text(&b, text, sizeof(text), 3000));
    CHECK_INT(wait_subs(4), 4);
    bus_topic_app(topic, g_app);
    rt_publish(g_rt, topic, "{\"type\":\"all\"}", 14, 0, 0);
    CHECK(client_text(&a, text, sizeof(text), 3000));
    CHECK(strcmp(text, "{\"type\":\"all\"}") == 0);
    CHECK(client_text(&b, text, sizeof(text), 3000));
    CHECK(strcmp(text, "{\"type\":\"all\"}") == 0);
    close(a.fd);
    close(b.fd);
    CHECK_INT(wait_subs(0), 0);
}

/* herald serve starts the notification queue's dispatcher before it attaches the server to rt:
 * an in-app job due at start is published while no loop can be woken (audit F7). A loop is
 * woken only when its inbox goes from empty to not empty, so that event must not leave the
 * inbox unread: once attached, later events reach their sessions. */
TEST(an_event_published_before_attach_does_not_stall_the_bus)
{
    char text[512];
    struct client a;
    rt_attach(g_rt, NULL);
    publish_to_user("nobody", "{\"type\":\"early\"}");
    rt_attach(g_rt, g_srv);
    CHECK(client_open(&a, "b5"));
    CHECK(client_text(&a, text, sizeof(text), 3000)); /* hello */
    CHECK_INT(wait_subs(2), 2);
    publish_to_user("b5", "{\"type\":\"t\",\"n\":6}");
    CHECK(client_text(&a, text, sizeof(text), 3000));
    CHECK(strcmp(text, "{\"type\":\"t\",\"n\":6}") == 0);
    close(a.fd);
    CHECK_INT(wait_subs(0), 0);
}

static void set_flag(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
}

/* Between server_stop and server_free (and with rt still attached): a post is dropped, never
 * run; a publish and a wake-up touch no closed handle (ASan, and the loop is gone) */
TEST(after_stop_posts_and_publishes_are_harmless)
{
    static atomic_int ran;
    atomic_store(&ran, 0);
    server_post(g_srv, 0, set_flag, &ran);
    publish_to_user("b1", "{\"type\":\"late\"}");
    server_wake(g_srv, 0);
    sleep_ms(50);
    CHECK_INT(atomic_load(&ran), 0);
}

/* ---- set-up: store, identity (demo), rt, one loop */

static int default_app_id(struct store *st, char *out, size_t outlen)
{
    struct store_op *op = store_op_new();
    store_op_add_copy(op, "SELECT id FROM apps WHERE key = 'default'",
                      "SELECT id FROM apps WHERE key = 'default'");
    struct store_result *res = NULL;
    int rc = store_read_wait(st, op, &res);
    const char *id = rc == 0 ? store_rows_text(store_result_step(res, 0), 0, 0) : NULL;
    if (id)
        snprintf(out, outlen, "%s", id);
    store_result_free(res);
    return id ? 0 : -1;
}

int main(void)
{
    log_setup(LOG_OFF, false);
    char dir[] = "/tmp/herald-test-rt-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char url[200], err[512];
    snprintf(url, sizeof(url), "sqlite:%s/herald.db", dir);
    struct store *st = NULL;
    int version = 0;
    if (store_open(url, STORE_DURABILITY_NORMAL, &st, err, sizeof(err)) != 0 ||
        store_migrate(st, 0, &version, err, sizeof(err)) != 0) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    static const char secret[] = "rt-unit-test-secret-0123456789abcdef";
    uint8_t enc[IDENTITY_KEY_LEN] = {1, 2, 3};
    struct identity_options o = {.access_ttl_s = 900,
                                 .refresh_ttl_s = 3600,
                                 .operator_ttl_s = 3600,
                                 .demo = true,
                                 .hash_threads = 1};
    struct identity id;
    if (identity_init(&id, st, secret, sizeof(secret) - 1, enc, &o) != 0 ||
        identity_apps_bootstrap(&id) != 0 || default_app_id(st, g_app, sizeof(g_app)) != 0) {
        fprintf(stderr, "cannot set up the identity context\n");
        return 1;
    }

    struct config cfg;
    config_defaults(&cfg);
    free(cfg.listen_host);
    cfg.listen_host = strdup("127.0.0.1");
    cfg.listen_port = 0;
    cfg.workers = 1;
    cfg.demo = true;
    struct router *r = router_new();
    struct metrics *m = metrics_new(1, r);
    g_rt = rt_new(&id, 1);
    struct server_opts opts = {.cfg = &cfg, .router = r, .metrics = m};
    rt_ws_app(g_rt, &opts.ws);
    g_srv = server_start(&opts, &g_port);
    if (g_srv == NULL) {
        fprintf(stderr, "cannot start server\n");
        return 1;
    }
    rt_attach(g_rt, g_srv);

    RUN(session_gets_its_user_events_and_none_after_close);
    RUN(app_topic_reaches_every_session_of_the_app);
    RUN(an_event_published_before_attach_does_not_stall_the_bus);

    server_drain(g_srv, 2000);
    identity_stop(&id);
    store_stop(st);
    server_stop(g_srv, 2000);
    RUN(after_stop_posts_and_publishes_are_harmless);
    rt_attach(g_rt, NULL);
    server_free(g_srv);
    rt_free(g_rt);
    metrics_free(m);
    router_free(r);
    identity_release(&id);
    store_close(st);
    config_release(&cfg);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return test_summary();
}
