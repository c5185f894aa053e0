/*
 * Unit tests of the in-process bus: delivery by topic on every loop, one
 * wake per batch, one encoding shared by every recipient, the skipped
 * subscriber, unsubscribing from inside a delivery, many publishers
 * against two loop threads without a lost or doubled event, and bursts
 * between small batches; the bridge to other nodes sees this node's frame
 * events only (not remote ones, not revocations, not frameless ones), and
 * HERALD_REDIS_URL is parsed or refused with a reason.
 */
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "bus/bus.h"
#include "core/frame.h"
#include "core/redis_url.h"
#include "core/smap.h"

static int wakes[2];

static void count_wake(int idx, void *ud)
{
    (void)ud;
    wakes[idx]++;
}

struct rec {
    struct bus_sub sub;
    int got;
    const struct frame *last;
    char last_byte;
    bool leave; /* unsubscribe on the first event */
    struct bus *bus;
    int loop;
};

static void rec_fn(struct bus_sub *s, const struct bus_event *ev)
{
    struct rec *r = (struct rec *)s;
    r->got++;
    r->last = ev->frame;
    r->last_byte = ev->frame && ev->frame->len ? ev->frame->data[0] : 0;
    if (r->leave)
        bus_unsubscribe(r->bus, r->loop, s);
}

static void rec_sub(struct bus *b, int loop, const char *topic, struct rec *r, uint64_t id)
{
    r->sub.fn = rec_fn;
    r->sub.id = id;
    r->bus = b;
    r->loop = loop;
    bus_subscribe(b, loop, topic, &r->sub);
}

TEST(topic_delivery_on_every_loop)
{
    wakes[0] = wakes[1] = 0;
    struct bus *b = bus_new(2, count_wake, NULL);
    struct rec a = {0}, c = {0}, other = {0};
    rec_sub(b, 0, "u:default/b1", &a, 1);
    rec_sub(b, 1, "u:default/b1", &c, 2);
    rec_sub(b, 1, "u:default/m1", &other, 3);
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "u:default/b1", frame_new_copy("x", 1)));
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "u:default/b1", frame_new_copy("y", 1)));
    CHECK_INT(wakes[0], 1); /* one wake per batch, not per event */
    CHECK_INT(wakes[1], 1);
    bus_loop_run(b, 0);
    bus_loop_run(b, 1);
    CHECK_INT(a.got, 2);
    CHECK_INT(c.got, 2);
    CHECK_INT(other.got, 0);
    CHECK_INT(a.last_byte, 'y');
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "u:default/b1", NULL));
    CHECK_INT(wakes[0], 2);
    bus_loop_run(b, 0);
    bus_loop_run(b, 1);
    CHECK_INT(a.got, 3);
    bus_unsubscribe(b, 0, &a.sub);
    bus_unsubscribe(b, 1, &c.sub);
    bus_unsubscribe(b, 1, &other.sub);
    CHECK_INT(bus_loop_subscriptions(b, 1), 0);
    bus_free(b);
}

TEST(one_encoding_for_every_recipient)
{
    struct bus *b = bus_new(2, count_wake, NULL);
    enum { N = 1000 };
    struct rec *r = calloc(N, sizeof(*r));
    for (int i = 0; i < N; i++)
        rec_sub(b, i % 2, "c:room-1", &r[i], (uint64_t)i + 1);
    uint64_t before = frame_created_total();
    struct frame *f = frame_new_copy("{\"type\":\"message.new\"}", 23);
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "c:room-1", f));
    bus_loop_run(b, 0);
    bus_loop_run(b, 1);
    CHECK_INT(frame_created_total() - before, 1);
    int same = 0;
    for (int i = 0; i < N; i++)
        same += r[i].got == 1 && r[i].last == f;
    CHECK_INT(same, N);
    for (int i = 0; i < N; i++)
        bus_unsubscribe(b, i % 2, &r[i].sub);
    free(r);
    bus_free(b);
}

TEST(skip_and_leave_during_delivery)
{
    struct bus *b = bus_new(1, count_wake, NULL);
    struct rec sender = {0}, leaver = {0}, stay = {0};
    rec_sub(b, 0, "t", &sender, 7);
    rec_sub(b, 0, "t", &leaver, 8);
    rec_sub(b, 0, "t", &stay, 9);
    leaver.leave = true;
    struct bus_event *ev = bus_event_new(BUS_KIND_FRAME, "t", NULL);
    ev->skip = 7;
    bus_publish(b, ev);
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "t", NULL));
    bus_loop_run(b, 0);
    CHECK_INT(sender.got, 1); /* skipped once */
    CHECK_INT(leaver.got, 1); /* left after the first */
    CHECK_INT(stay.got, 2);
    CHECK_INT(bus_loop_subscriptions(b, 0), 2);
    /* the last subscriber leaving inside a delivery drops the topic safely */
    sender.leave = stay.leave = true;
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "t", NULL));
    bus_loop_run(b, 0);
    CHECK_INT(bus_loop_subscriptions(b, 0), 0);
    bus_free(b);
}

TEST(undelivered_events_freed)
{
    struct bus *b = bus_new(2, count_wake, NULL);
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "nobody", frame_new_copy("z", 1)));
    bus_free(b); /* ASan reports a leak if the event or its frame survives */
}

/* ---- two loop threads, four publishers */

enum { PUBLISHERS = 4, EVENTS = 20000 };

struct loop_thread {
    struct bus *bus;
    int idx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken, stop;
    struct rec rec;
    pthread_t th;
};

static struct loop_thread lts[2];

static void thread_wake(int idx, void *ud)
{
    (void)ud;
    struct loop_thread *lt = &lts[idx];
    pthread_mutex_lock(&lt->mu);
    lt->woken = true;
    pthread_cond_signal(&lt->cv);
    pthread_mutex_unlock(&lt->mu);
}

static void *loop_main(void *arg)
{
    struct loop_thread *lt = arg;
    for (;;) {
        pthread_mutex_lock(&lt->mu);
        while (!lt->woken && !lt->stop)
            pthread_cond_wait(&lt->cv, &lt->mu);
        bool stop = lt->stop && !lt->woken;
        lt->woken = false;
        pthread_mutex_unlock(&lt->mu);
        if (stop)
            return NULL;
        bus_loop_run(lt->bus, lt->idx);
    }
}

static void *publisher(void *arg)
{
    struct bus *b = arg;
    for (int i = 0; i < EVENTS; i++)
        bus_publish(b, bus_event_new(BUS_KIND_FRAME, "all", frame_new_copy("e", 1)));
    return NULL;
}

TEST(concurrent_publishers_lose_nothing)
{
    struct bus *b = bus_new(2, thread_wake, NULL);
    for (int i = 0; i < 2; i++) {
        struct loop_thread *lt = &lts[i];
        memset(lt, 0, sizeof(*lt));
        lt->bus = b;
        lt->idx = i;
        pthread_mutex_init(&lt->mu, NULL);
        pthread_cond_init(&lt->cv, NULL);
        rec_sub(b, i, "all", &lt->rec, (uint64_t)i + 1);
        pthread_create(&lt->th, NULL, loop_main, lt);
    }
    pthread_t pubs[PUBLISHERS];
    for (int i = 0; i < PUBLISHERS; i++)
        pthread_create(&pubs[i], NULL, publisher, b);
    for (int i = 0; i < PUBLISHERS; i++)
        pthread_join(pubs[i], NULL);
    for (int i = 0; i < 2; i++) {
        struct loop_thread *lt = &lts[i];
        pthread_mutex_lock(&lt->mu);
        lt->stop = true;
        pthread_cond_signal(&lt->cv);
        pthread_mutex_unlock(&lt->mu);
        pthread_join(lt->th, NULL);
        bus_loop_run(b, i); /* anything published after the last wake */
        CHECK_INT(lt->rec.got, PUBLISHERS * EVENTS);
        bus_unsubscribe(b, i, &lt->rec.sub);
        pthread_mutex_destroy(&lt->mu);
        pthread_cond_destroy(&lt->cv);
    }
    bus_free(b);
}

/* A burst larger than what an idle inbox keeps, then small batches (the burst's arrays are
 * given back), then a burst again: every event arrives once. */
TEST(burst_then_small_batches)
{
    wakes[0] = 0;
    struct bus *b = bus_new(1, count_wake, NULL);
    struct rec r = {0};
    rec_sub(b, 0, "u:default/burst", &r, 1);
    int want = 0;
    const int rounds[] = {10000, 3, 1, 10000, 2, 0, 5};
    for (size_t k = 0; k < sizeof(rounds) / sizeof(rounds[0]); k++) {
        for (int i = 0; i < rounds[k]; i++)
            bus_publish(b, bus_event_new(BUS_KIND_FRAME, "u:default/burst", NULL));
        bus_loop_run(b, 0);
        want += rounds[k];
        CHECK_INT(r.got, want);
    }
    bus_unsubscribe(b, 0, &r.sub);
    bus_free(b);
}

struct bridged {
    int n;
    char topic[BUS_TOPIC_MAX + 1];
};

static void bridge_fn(const struct bus_event *ev, void *ud)
{
    struct bridged *b = ud;
    b->n++;
    snprintf(b->topic, sizeof(b->topic), "%s", ev->topic);
}

TEST(bridge_sees_local_frames_only)
{
    struct bus *b = bus_new(1, count_wake, NULL);
    struct bridged seen = {0};
    bus_set_bridge(b, bridge_fn, &seen);
    struct rec a = {0};
    rec_sub(b, 0, "u:default/b1", &a, 1);
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "u:default/b1", frame_new_copy("x", 1)));
    CHECK_INT(seen.n, 1);
    CHECK_STR(seen.topic, "u:default/b1");
    struct bus_event *remote =
        bus_event_new(BUS_KIND_FRAME, "u:default/b1", frame_new_copy("r", 1));
    remote->remote = true; /* from another node: delivered here, not sent back */
    bus_publish(b, remote);
    bus_publish(b, bus_event_new(BUS_KIND_REVOKE, "u:default/b1", NULL)); /* per node */
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "u:default/b1", NULL));
    CHECK_INT(seen.n, 1);
    bus_loop_run(b, 0);
    CHECK_INT(a.got, 4); /* every one of them delivered on this node */
    bus_set_bridge(b, NULL, NULL);
    bus_publish(b, bus_event_new(BUS_KIND_FRAME, "u:default/b1", frame_new_copy("y", 1)));
    CHECK_INT(seen.n, 1);
    bus_loop_run(b, 0);
    bus_unsubscribe(b, 0, &a.sub);
    bus_free(b);
}

TEST(redis_url_parsed_or_refused)
{
    struct redis_url u;
    char err[160];
    CHECK_INT(redis_url_parse("redis://10.0.0.5", &u, err, sizeof(err)), 0);
    CHECK_STR(u.host, "10.0.0.5");
    CHECK_INT(u.port, 6379);
    CHECK_INT(u.db, 0);
    CHECK_STR(u.pass, "");
    CHECK_INT(redis_url_parse("redis://app:p%40ss@cache.local:6380/3", &u, err, sizeof(err)), 0);
    CHECK_STR(u.user, "app");
    CHECK_STR(u.pass, "p@ss");
    CHECK_STR(u.host, "cache.local");
    CHECK_INT(u.port, 6380);
    CHECK_INT(u.db, 3);
    CHECK_INT(redis_url_parse("redis://:secret@[::1]:7000/", &u, err, sizeof(err)), 0);
    CHECK_STR(u.user, "");
    CHECK_STR(u.pass, "secret");
    CHECK_STR(u.host, "::1");
    CHECK_INT(u.port, 7000);
    const char *bad[] = {"http://h",      "redis://",     "redis://h:0",  "redis://h:65536",
                         "redis://h:x",   "redis://h/db", "redis://[::1", "rediss://h",
                         "redis://h?x=1", "redis://:6379"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        err[0] = '\0';
        CHECK_INT(redis_url_parse(bad[i], &u, err, sizeof(err)), -1);
        CHECK(err[0] != '\0');
    }
}

TEST(smap_keeps_keys_through_growth)
{
    struct smap m = {0};
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "p:app\x1fu%d", i);
        smap_add(&m, k)->count = i;
    }
    CHECK_INT((int)m.n, 1000);
    CHECK(smap_add(&m, "p:app\x1fu7")->count == 7); /* an existing key: the same entry */
    CHECK_INT((int)m.n, 1000);
    for (int i = 0; i < 1000; i += 2) {
        snprintf(k, sizeof(k), "p:app\x1fu%d", i);
        smap_del(&m, k);
    }
    smap_del(&m, "absent");
    CHECK_INT((int)m.n, 500);
    CHECK(smap_get(&m, "p:app\x1fu4") == NULL);
    CHECK(smap_get(&m, "p:app\x1fu999") != NULL && smap_get(&m, "p:app\x1fu999")->count == 999);
    smap_clear(&m);
    CHECK_INT((int)m.n, 0);
    CHECK(smap_get(&m, "p:app\x1fu999") == NULL);
}

int main(void)
{
    RUN(topic_delivery_on_every_loop);
    RUN(one_encoding_for_every_recipient);
    RUN(skip_and_leave_during_delivery);
    RUN(undelivered_events_freed);
    RUN(concurrent_publishers_lose_nothing);
    RUN(burst_then_small_batches);
    RUN(bridge_sees_local_frames_only);
    RUN(redis_url_parsed_or_refused);
    RUN(smap_keeps_keys_through_growth);
    return test_summary();
}
