/*
 * Unit tests for the two pieces the end-user login path leans on: the worker
 * pool that runs password hashing off the event loops (src/core/workpool.c:
 * argument checks, FIFO order, parallelism, a full queue, draining and
 * refusal while stopping, submissions from many threads) and the login
 * throttle (src/auth/login_guard.c: ten failures lock an account, the IP
 * bucket, Retry-After rounding, refill, a check takes nothing, other
 * accounts and addresses unaffected, concurrent failures).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#include "auth/login_guard.h"
#include "core/err.h"
#include "core/log.h"
#include "core/workpool.h"

/* ---- helpers */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls flag until it is set or about 5 s pass; true when set. */
static bool wait_flag(atomic_int *flag)
{
    for (int i = 0; i < 5000 && !atomic_load(flag); i++)
        sleep_ms(1);
    return atomic_load(flag) != 0;
}

static atomic_int counter;

static void count_one(void *arg)
{
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

/* ---- workpool */

TEST(workpool_bad_arguments)
{
    CHECK(workpool_new(0, 8) == NULL);
    CHECK(workpool_new(-1, 8) == NULL);
    CHECK(workpool_new(65, 8) == NULL);
    CHECK(workpool_new(1, 0) == NULL);
    workpool_free(NULL); /* NULL-safe */
}

struct order {
    pthread_mutex_t mu;
    int seen[64];
    int n;
    pthread_t thread;
};

struct order_item {
    struct order *o;
    int i;
};

static void record(void *arg)
{
    struct order_item *it = arg;
    pthread_mutex_lock(&it->o->mu);
    it->o->seen[it->o->n++] = it->i;
    it->o->thread = pthread_self();
    pthread_mutex_unlock(&it->o->mu);
}

TEST(workpool_runs_in_order_on_a_worker)
{
    struct workpool *wp = workpool_new(1, 64);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    struct order o = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct order_item items[64];
    for (int i = 0; i < 64; i++) {
        items[i] = (struct order_item){&o, i};
        CHECK_INT(workpool_submit(wp, record, &items[i]), 0);
    }
    workpool_free(wp); /* runs every queued item before it returns */
    CHECK_INT(o.n, 64);
    for (int i = 0; i < o.n; i++)
        CHECK_INT(o.seen[i], i);
    CHECK(!pthread_equal(o.thread, pthread_self()));
}

/* The scheduling of the worker that runs an item: its policy and its nice value. */
struct sched_seen {
    int policy, nice;
};

static void see_sched(void *arg)
{
    struct sched_seen *s = arg;
    s->policy = sched_getscheduler(0);
    s->nice = getpriority(PRIO_PROCESS, 0); /* this thread (Linux) */
}

TEST(workpool_workers_run_below_the_loops)
{
    struct sched_seen normal = {-1, -1}, idle = {-1, -1};
    struct workpool *wp = workpool_new(1, 4);
    struct workpool *ip = workpool_new_idle(1, 4);
    CHECK(wp != NULL && ip != NULL);
    if (wp == NULL || ip == NULL)
        return;
    CHECK_INT(workpool_submit(wp, see_sched, &normal), 0);
    CHECK_INT(workpool_submit(ip, see_sched, &idle), 0);
    workpool_free(wp);
    workpool_free(ip);
    CHECK_INT(normal.policy, SCHED_OTHER);
    CHECK_INT(normal.nice, 10);
    CHECK_INT(idle.policy, SCHED_IDLE);
}

/* Two items that each wait for the other to start: only completes with two workers. */
struct rendezvous {
    atomic_int started;
    atomic_int met;
};

static void meet(void *arg)
{
    struct rendezvous *r = arg;
    atomic_fetch_add(&r->started, 1);
    for (int i = 0; i < 5000 && atomic_load(&r->started) < 2; i++)
        sleep_ms(1);
    if (atomic_load(&r->started) >= 2)
        atomic_fetch_add(&r->met, 1);
}

TEST(workpool_runs_in_parallel)
{
    struct workpool *wp = workpool_new(2, 8);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    struct rendezvous r = {0};
    CHECK_INT(workpool_submit(wp, meet, &r), 0);
    CHECK_INT(workpool_submit(wp, meet, &r), 0);
    workpool_free(wp);
    CHECK_INT(atomic_load(&r.met), 2);
}

/* An item that holds its worker until gate opens. */
struct gate {
    atomic_int entered;
    atomic_int open;
};

static void hold(void *arg)
{
    struct gate *g = arg;
    atomic_store(&g->entered, 1);
    for (int i = 0; i < 10000 && !atomic_load(&g->open); i++)
        sleep_ms(1);
}

TEST(workpool_full_queue_is_err_again)
{
    atomic_store(&counter, 0);
    struct workpool *wp = workpool_new(1, 2);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    struct gate g = {0};
    CHECK_INT(workpool_submit(wp, hold, &g), 0);
    CHECK(wait_flag(&g.entered)); /* the only worker is busy; the queue is empty */
    CHECK_INT(workpool_queued(wp), 0);
    CHECK_INT(workpool_submit(wp, count_one, NULL), 0);
    CHECK_INT(workpool_submit(wp, count_one, NULL), 0);
    CHECK_INT(workpool_queued(wp), 2);
    CHECK_INT(workpool_submit(wp, count_one, NULL), ERR_AGAIN); /* never runs */
    CHECK_INT(workpool_queued(wp), 2);
    atomic_store(&g.open, 1);
    workpool_free(wp);
    CHECK_INT(atomic_load(&counter), 2);
}

TEST(workpool_high_items_run_before_low_ones)
{
    struct workpool *wp = workpool_new(1, 8);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    struct gate g = {0};
    CHECK_INT(workpool_submit(wp, hold, &g), 0);
    CHECK(wait_flag(&g.entered));
    struct order o = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct order_item items[5];
    for (int i = 0; i < 5; i++)
        items[i] = (struct order_item){&o, i};
    /* low 0, low 1, high 2, low 3, high 4: the highs first, each kind in order */
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_LOW, NULL, 0, record, &items[0]), 0);
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_LOW, NULL, 0, record, &items[1]), 0);
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_HIGH, NULL, 0, record, &items[2]), 0);
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_LOW, NULL, 0, record, &items[3]), 0);
    /* low items fill at most half the queue (4 of 8): the fourth is refused */
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_LOW, NULL, 0, record, &items[3]), 0);
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_LOW, NULL, 0, record, &items[3]), ERR_AGAIN);
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_HIGH, NULL, 0, record, &items[4]), 0);
    atomic_store(&g.open, 1);
    workpool_free(wp);
    int want[] = {2, 4, 0, 1, 3, 3};
    CHECK_INT(o.n, 6);
    for (int i = 0; i < o.n && i < 6; i++)
        CHECK_INT(o.seen[i], want[i]);
}

TEST(workpool_caps_one_tags_share)
{
    atomic_store(&counter, 0);
    struct workpool *wp = workpool_new(1, 100);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    struct gate g = {0};
    CHECK_INT(workpool_submit(wp, hold, &g), 0);
    CHECK(wait_flag(&g.entered));
    for (int i = 0; i < 3; i++)
        CHECK_INT(workpool_submit_ex(wp, i % 2 ? WORKPOOL_LOW : WORKPOOL_HIGH, "192.0.2.1", 3,
                                     count_one, NULL),
                  0);
    /* both priorities count towards the share */
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_HIGH, "192.0.2.1", 3, count_one, NULL), ERR_DENIED);
    CHECK_INT(workpool_submit_ex(wp, WORKPOOL_HIGH, "192.0.2.2", 3, count_one, NULL), 0);
    CHECK_INT(workpool_submit(wp, count_one, NULL), 0); /* untagged */
    CHECK_INT(workpool_queued(wp), 5);
    atomic_store(&g.open, 1);
    workpool_free(wp);
    CHECK_INT(atomic_load(&counter), 5);
}

/* While the pool stops, a submission (here from a running item) is refused. */
struct stop_probe {
    struct workpool *wp;
    atomic_int refused;
};

static void probe_submit(void *arg)
{
    struct stop_probe *p = arg;
    for (int i = 0; i < 5000; i++) {
        int rc = workpool_submit(p->wp, count_one, NULL);
        if (rc == ERR_UNAVAIL) {
            atomic_store(&p->refused, 1);
            return;
        }
        sleep_ms(1);
    }
}

static void *free_pool(void *arg)
{
    workpool_free(arg);
    return NULL;
}

TEST(workpool_refuses_while_stopping)
{
    atomic_store(&counter, 0);
    struct workpool *wp = workpool_new(1, 10000);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    struct stop_probe p = {.wp = wp};
    CHECK_INT(workpool_submit(wp, probe_submit, &p), 0);
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, free_pool, wp), 0);
    pthread_join(t, NULL);
    CHECK_INT(atomic_load(&p.refused), 1);
}

static atomic_int ran_cancelled, ran_normal;

static void note_cancelled(void *arg)
{
    (void)arg;
    atomic_fetch_add(workpool_is_cancelled() ? &ran_cancelled : &ran_normal, 1);
}

static void *open_gate_later(void *arg)
{
    sleep_ms(50);
    atomic_store(&((struct gate *)arg)->open, 1);
    return NULL;
}

/* workpool_stop(cancel): the running item finishes as it is, every queued one still runs
 * once but sees workpool_is_cancelled(); the pool stays allocated and refuses new items */
TEST(workpool_stop_cancels_queued_items_and_keeps_the_pool)
{
    atomic_store(&ran_cancelled, 0);
    atomic_store(&ran_normal, 0);
    struct workpool *wp = workpool_new(1, 100);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    struct gate g = {0};
    CHECK_INT(workpool_submit(wp, hold, &g), 0);
    CHECK(wait_flag(&g.entered));
    for (int i = 0; i < 10; i++)
        CHECK_INT(workpool_submit(wp, note_cancelled, NULL), 0);
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, open_gate_later, &g), 0);
    workpool_stop(wp, true); /* returns once every item has run */
    pthread_join(t, NULL);
    CHECK_INT(atomic_load(&ran_cancelled), 10);
    CHECK_INT(atomic_load(&ran_normal), 0);
    CHECK(!workpool_is_cancelled()); /* only inside a cancelled item */
    CHECK_INT(workpool_submit(wp, note_cancelled, NULL), ERR_UNAVAIL);
    CHECK_INT(workpool_queued(wp), 0);
    workpool_stop(wp, false); /* idempotent */
    workpool_free(wp);
}

/* workpool_free without a stop runs queued items normally (not cancelled) */
TEST(workpool_free_runs_queued_items_uncancelled)
{
    atomic_store(&ran_cancelled, 0);
    atomic_store(&ran_normal, 0);
    struct workpool *wp = workpool_new(1, 100);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    for (int i = 0; i < 5; i++)
        CHECK_INT(workpool_submit(wp, note_cancelled, NULL), 0);
    workpool_free(wp);
    CHECK_INT(atomic_load(&ran_normal), 5);
    CHECK_INT(atomic_load(&ran_cancelled), 0);
}

struct submitter {
    struct workpool *wp;
    int n, refused;
};

static void *submit_many(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < s->n; i++)
        if (workpool_submit(s->wp, count_one, NULL) != 0)
            s->refused++;
    return NULL;
}

TEST(workpool_many_submitters)
{
    atomic_store(&counter, 0);
    struct workpool *wp = workpool_new(3, 100000);
    CHECK(wp != NULL);
    if (wp == NULL)
        return;
    struct submitter s[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct submitter){wp, 2000, 0};
        CHECK_INT(pthread_create(&t[i], NULL, submit_many, &s[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(s[i].refused, 0);
    }
    workpool_free(wp);
    CHECK_INT(atomic_load(&counter), 8000);
}

/* ---- login guard */

#define T0 1000000 /* a monotonic "now", ms */

TEST(guard_ten_failures_lock_the_account)
{
    struct login_guard *g = login_guard_new();
    CHECK(g != NULL);
    if (g == NULL)
        return;
    const char *ip = "192.0.2.1", *acct = "user:app1:alice";
    CHECK_INT(login_guard_check(g, ip, acct, T0), 0);
    for (int i = 0; i < LOGIN_GUARD_FAILURES - 1; i++)
        (void)login_guard_take(g, ip, acct, T0);
    CHECK_INT(login_guard_check(g, ip, acct, T0), 0); /* nine: still allowed */
    (void)login_guard_take(g, ip, acct, T0);
    uint64_t wait = login_guard_check(g, ip, acct, T0);
    /* one token per 6 s (10 per minute): the Retry-After is the time to the next one */
    CHECK(wait >= 5 && wait <= 6);
    /* the same account from another address is locked too */
    CHECK(login_guard_check(g, "198.51.100.7", acct, T0) > 0);
    /* another account of the same address, and the same user id in another app, are not */
    CHECK_INT(login_guard_check(g, ip, "user:app1:bob", T0), 0);
    CHECK_INT(login_guard_check(g, ip, "user:app2:alice", T0), 0);
    login_guard_free(g);
}

TEST(guard_check_takes_nothing)
{
    struct login_guard *g = login_guard_new();
    CHECK(g != NULL);
    if (g == NULL)
        return;
    for (int i = 0; i < 1000; i++)
        CHECK_INT(login_guard_check(g, "192.0.2.2", "user:a:carol", T0), 0);
    login_guard_free(g);
}

TEST(guard_retry_after_rounds_up_and_refills)
{
    struct login_guard *g = login_guard_new();
    CHECK(g != NULL);
    if (g == NULL)
        return;
    const char *ip = "192.0.2.3", *acct = "user:a:dave";
    for (int i = 0; i < LOGIN_GUARD_FAILURES; i++)
        (void)login_guard_take(g, ip, acct, T0);
    uint64_t wait = login_guard_check(g, ip, acct, T0);
    CHECK(wait >= 1);
    /* 500 ms before the next token: still at least one second to wait */
    CHECK_INT(login_guard_check(g, ip, acct, T0 + wait * 1000 - 500), 1);
    /* once a token is back, one more try is allowed, and its failure locks again */
    CHECK_INT(login_guard_check(g, ip, acct, T0 + wait * 1000), 0);
    (void)login_guard_take(g, ip, acct, T0 + wait * 1000);
    CHECK(login_guard_check(g, ip, acct, T0 + wait * 1000) > 0);
    /* a minute without failures refills the whole bucket */
    uint64_t later = T0 + wait * 1000 + 60000;
    for (int i = 0; i < LOGIN_GUARD_FAILURES - 1; i++)
        (void)login_guard_take(g, ip, acct, later);
    CHECK_INT(login_guard_check(g, ip, acct, later), 0);
    login_guard_free(g);
}

TEST(guard_ip_bucket)
{
    struct login_guard *g = login_guard_new();
    CHECK(g != NULL);
    if (g == NULL)
        return;
    char acct[64];
    /* one failure each on many accounts from one address (password spraying) */
    for (int i = 0; i < LOGIN_GUARD_IP_FAILURES; i++) {
        snprintf(acct, sizeof(acct), "user:a:spray%d", i);
        CHECK_INT(login_guard_check(g, "203.0.113.9", acct, T0), 0);
        (void)login_guard_take(g, "203.0.113.9", acct, T0);
    }
    CHECK(login_guard_check(g, "203.0.113.9", "user:a:fresh", T0) > 0);
    CHECK_INT(login_guard_check(g, "203.0.113.10", "user:a:fresh", T0), 0);
    CHECK_INT(login_guard_check(g, "203.0.113.10", "user:a:spray0", T0), 0);
    /* NULL ip or account are tolerated (treated as "") */
    CHECK_INT(login_guard_check(g, NULL, NULL, T0), 0);
    (void)login_guard_take(g, NULL, NULL, T0);
    login_guard_free(g);
    login_guard_free(NULL);
}

TEST(guard_take_is_all_or_nothing_and_refund_gives_back)
{
    struct login_guard *g = login_guard_new();
    CHECK(g != NULL);
    if (g == NULL)
        return;
    const char *ip = "192.0.2.4", *acct = "user:a:erin";
    for (int i = 0; i < LOGIN_GUARD_FAILURES; i++)
        CHECK_INT(login_guard_take(g, ip, acct, T0), 0);
    CHECK(login_guard_take(g, ip, acct, T0) > 0); /* the eleventh check never runs */
    /* a refund (the password was right) puts one back, never above the capacity */
    login_guard_refund(g, ip, acct, T0);
    CHECK_INT(login_guard_take(g, ip, acct, T0), 0);
    CHECK(login_guard_take(g, ip, acct, T0) > 0);
    /* refused takes took nothing from the address: another account still has its ten */
    for (int i = 0; i < LOGIN_GUARD_FAILURES; i++)
        CHECK_INT(login_guard_take(g, ip, "user:a:frank", T0), 0);
    /* success after success never locks: take, refund, again */
    for (int i = 0; i < 100; i++) {
        CHECK_INT(login_guard_take(g, "192.0.2.5", "user:a:gina", T0), 0);
        login_guard_refund(g, "192.0.2.5", "user:a:gina", T0);
    }
    login_guard_refund(g, "192.0.2.6", "user:a:unknown", T0); /* not held: nothing */
    login_guard_free(g);
}

TEST(guard_registrations)
{
    struct login_guard *g = login_guard_new();
    CHECK(g != NULL);
    if (g == NULL)
        return;
    for (int i = 0; i < LOGIN_GUARD_REGISTER_IP; i++)
        CHECK_INT(login_guard_register_take(g, "192.0.2.7", "app1", T0), 0);
    uint64_t wait = login_guard_register_take(g, "192.0.2.7", "app1", T0);
    CHECK(wait >= 1 && wait <= 3600 / LOGIN_GUARD_REGISTER_IP);
    /* another address registers on; logins from the flooding address are not affected */
    CHECK_INT(login_guard_register_take(g, "192.0.2.8", "app1", T0), 0);
    CHECK_INT(login_guard_take(g, "192.0.2.7", "user:app1:x", T0), 0);
    /* the app bucket bounds many addresses together */
    char ip[32];
    int ok = 0;
    for (int i = 0; i < LOGIN_GUARD_REGISTER_APP + 10; i++) {
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250);
        ok += login_guard_register_take(g, ip, "app2", T0) == 0;
    }
    CHECK_INT(ok, LOGIN_GUARD_REGISTER_APP);
    login_guard_free(g);
}

struct guard_hammer {
    struct login_guard *g;
    int id;
};

static void *hammer(void *arg)
{
    struct guard_hammer *h = arg;
    char ip[32], acct[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", h->id, i % 250);
        snprintf(acct, sizeof(acct), "user:a:u%d", i % 50);
        (void)login_guard_check(h->g, ip, acct, T0 + (uint64_t)i);
        (void)login_guard_take(h->g, ip, "user:a:shared", T0 + (uint64_t)i);
    }
    return NULL;
}

TEST(guard_threads)
{
    struct login_guard *g = login_guard_new();
    CHECK(g != NULL);
    if (g == NULL)
        return;
    struct guard_hammer h[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct guard_hammer){g, i};
        CHECK_INT(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(login_guard_check(g, "10.9.9.9", "user:a:shared", T0 + 2000) > 0);
    CHECK_INT(login_guard_check(g, "10.9.9.9", "user:a:other", T0 + 2000), 0);
    login_guard_free(g);
}

int main(void)
{
    log_setup(LOG_OFF, false);
    RUN(workpool_bad_arguments);
    RUN(workpool_runs_in_order_on_a_worker);
    RUN(workpool_workers_run_below_the_loops);
    RUN(workpool_runs_in_parallel);
    RUN(workpool_full_queue_is_err_again);
    RUN(workpool_refuses_while_stopping);
    RUN(workpool_stop_cancels_queued_items_and_keeps_the_pool);
    RUN(workpool_free_runs_queued_items_uncancelled);
    RUN(workpool_high_items_run_before_low_ones);
    RUN(workpool_caps_one_tags_share);
    RUN(workpool_many_submitters);
    RUN(guard_ten_failures_lock_the_account);
    RUN(guard_check_takes_nothing);
    RUN(guard_retry_after_rounds_up_and_refills);
    RUN(guard_ip_bucket);
    RUN(guard_take_is_all_or_nothing_and_refund_gives_back);
    RUN(guard_registrations);
    RUN(guard_threads);
    return test_summary();
}
