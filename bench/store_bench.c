/*
 * Store benchmark (issue 3): many logical writers inserting ~300-byte rows
 * through the store's asynchronous interface, the way handlers on event loops
 * will. "Loop" threads stand in for the event loops: each owns a share of the
 * writers, submits their inserts, and receives their completions through an
 * inbox (the hop a real loop makes through its wake-up), where it records the
 * latency and — in closed-loop mode — submits the writer's next insert at
 * once. In open-loop mode (--rate) the loops submit at a fixed total rate and
 * the latency is measured against that offered load. Also measures the
 * baseline of one row per transaction, directly on SQLite and through the
 * store with groups of one.
 *
 *   make build/release/store-bench && build/release/store-bench
 *
 * With no scenario flag it runs the whole suite; see --help. `--url postgres://...`
 * runs the scenarios on PostgreSQL instead of a temporary SQLite file (give it a fresh
 * database: the table is created); `make bench-store` does both, PostgreSQL on a
 * throwaway server started by scripts/pg-test.sh.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "store/store.h"

#define HIST_BUCKETS 200000 /* 1 us each, up to 200 ms; above goes to the last */

static const struct store_sql SQL_TABLE = {
    .sqlite = "CREATE TABLE IF NOT EXISTS msgs ("
              " id TEXT PRIMARY KEY, conv_id TEXT NOT NULL, seq INTEGER NOT NULL,"
              " sender TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL)",
    .pg = "CREATE TABLE IF NOT EXISTS msgs ("
          " id TEXT PRIMARY KEY, conv_id TEXT NOT NULL, seq BIGINT NOT NULL,"
          " sender TEXT NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL)",
};
static const struct store_sql SQL_INDEX = {
    .sqlite = "CREATE INDEX IF NOT EXISTS msgs_conv_seq ON msgs(conv_id, seq)",
    .pg = "CREATE INDEX IF NOT EXISTS msgs_conv_seq ON msgs(conv_id, seq)",
};
static const struct store_sql SQL_INSERT = {
    .sqlite = "INSERT INTO msgs (id, conv_id, seq, sender, body, created_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    .pg = "INSERT INTO msgs (id, conv_id, seq, sender, body, created_at) "
          "VALUES ($1, $2, $3, $4, $5, $6)",
};

struct cfg {
    int seconds;
    int warmup;
    int writers;
    int loops;
    int rate; /* 0: closed loop */
    int body;
    bool strict;
    int group_max_ops;
    int group_max_us;
    int group_wait_us;
    int convs; /* conversations the rows spread over; 0: no (conv_id, seq) index */
};

struct loop;

struct writer {
    struct loop *loop;
    struct writer *next; /* inbox link */
    int idx;
    int64_t seq;
    uint64_t t_submit;
    int status;
};

struct loop {
    int id;
    struct bench *b;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool sleeping;
    _Atomic(struct writer *) inbox; /* completed writers, pushed lock-free by store threads */
    int *idle;                      /* open loop: writers with nothing in flight */
    int nidle;
    struct writer *w;
    int nw;
    uint64_t *hist;
    uint64_t done_ok, done_err, submit_err, lat_max, deferred;
    uint64_t sent;
    char body[4096];
};

struct bench {
    struct cfg c;
    struct store *st;
    struct loop *loops;
    atomic_int stop;
    uint64_t t_measure, t_end;
    atomic_llong ids;
};

static void done_cb(int status, struct store_result *res, void *ud)
{
    struct writer *w = ud;
    struct loop *l = w->loop;
    store_result_free(res);
    w->status = status;
    /* what a loop's wake-up amounts to: a lock-free push, and a wake-up only if it sleeps */
    struct writer *head = atomic_load(&l->inbox);
    do
        w->next = head;
    while (!atomic_compare_exchange_weak(&l->inbox, &head, w));
    if (atomic_load(&l->sleeping)) {
        pthread_mutex_lock(&l->mu);
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
}

static int submit(struct loop *l, struct writer *w)
{
    struct bench *b = l->b;
    char id[32], conv[32], sender[32];
    long long n = atomic_fetch_add(&b->ids, 1);
    snprintf(id, sizeof id, "m%015llx%08x", n, (unsigned)w->idx * 2654435761u);
    snprintf(conv, sizeof conv, "conv-%05d", b->c.convs ? w->idx % b->c.convs : 0);
    snprintf(sender, sizeof sender, "user-%05d", w->idx);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, conv);
    store_bind_int(op, ++w->seq);
    store_bind_text(op, sender);
    store_bind_textn(op, l->body, (size_t)b->c.body);
    store_bind_int(op, clock_wall_ms());
    w->t_submit = clock_mono_us();
    return store_write(b->st, op, done_cb, w);
}

static void record(struct loop *l, struct writer *w, uint64_t now)
{
    struct bench *b = l->b;
    if (now < b->t_measure || now > b->t_end)
        return;
    if (w->status != 0) {
        l->done_err++;
        return;
    }
    uint64_t lat = now - w->t_submit;
    l->hist[lat < HIST_BUCKETS ? lat : HIST_BUCKETS - 1]++;
    if (lat > l->lat_max)
        l->lat_max = lat;
    l->done_ok++;
}

/* Sleeps until a completion arrives or timeout_us passes; returns the completed writers. */
static struct writer *loop_wait(struct loop *l, long timeout_us)
{
    struct writer *got = atomic_exchange(&l->inbox, NULL);
    if (got)
        return got;
    pthread_mutex_lock(&l->mu);
    atomic_store(&l->sleeping, true);
    if (atomic_load(&l->inbox) == NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_us / 1000000;
        ts.tv_nsec += (timeout_us % 1000000) * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    atomic_store(&l->sleeping, false);
    pthread_mutex_unlock(&l->mu);
    return atomic_exchange(&l->inbox, NULL);
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct bench *b = l->b;
    uint64_t t_start = clock_mono_us();
    double per_us = b->c.rate ? (double)b->c.rate / b->c.loops / 1e6 : 0;
    if (b->c.rate == 0) {
        for (int i = 0; i < l->nw; i++)
            if (submit(l, &l->w[i]) != 0)
                l->submit_err++;
    } else {
        for (int i = 0; i < l->nw; i++)
            l->idle[l->nidle++] = i;
    }
    int inflight = b->c.rate == 0 ? l->nw : 0;
    for (;;) {
        bool stopping = atomic_load(&b->stop);
        if (stopping && inflight == 0)
            break;
        /* 0.2 ms ticks drive the open-loop schedule */
        struct writer *w = loop_wait(l, b->c.rate && !stopping ? 200 : 1000000);
        uint64_t now = clock_mono_us();
        stopping = atomic_load(&b->stop);
        while (w) {
            struct writer *next = w->next;
            record(l, w, now);
            inflight--;
            if (b->c.rate == 0 && !stopping) {
                if (submit(l, w) == 0)
                    inflight++;
                else
                    l->submit_err++;
            } else {
                l->idle[l->nidle++] = (int)(w - l->w);
            }
            w = next;
        }
        if (b->c.rate && !stopping) {
            uint64_t due = (uint64_t)((double)(now - t_start) * per_us);
            while (l->sent < due) {
                if (l->nidle == 0) {
                    l->deferred += due - l->sent; /* offered load beyond the writers */
                    l->sent = due;
                    break;
                }
                struct writer *iw = &l->w[l->idle[--l->nidle]];
                l->sent++;
                if (submit(l, iw) == 0)
                    inflight++;
                else
                    l->submit_err++;
            }
        }
    }
    return NULL;
}

static uint64_t percentile(const uint64_t *hist, uint64_t total, double p)
{
    uint64_t want = (uint64_t)(p * (double)total), acc = 0;
    if (want == 0)
        want = 1;
    for (uint64_t i = 0; i < HIST_BUCKETS; i++) {
        acc += hist[i];
        if (acc >= want)
            return i;
    }
    return HIST_BUCKETS;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static const char *g_url; /* --url: another store than a temporary SQLite file */

static char *make_dir(void)
{
    char *dir = xstrdup("/tmp/herald-store-bench-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

static void run_store(const char *title, struct cfg c)
{
    char *dir = make_dir();
    char url[256], err[256];
    if (g_url != NULL)
        snprintf(url, sizeof url, "%s", g_url); /* e.g. postgres://... (a fresh database) */
    else
        snprintf(url, sizeof url, "sqlite:%s/bench.db", dir);
    struct store_options o = {
        .durability = c.strict ? STORE_DURABILITY_STRICT : STORE_DURABILITY_NORMAL,
        .group_max_ops = c.group_max_ops,
        .group_max_us = c.group_max_us,
        .group_wait_us = c.group_wait_us,
    };
    struct bench b;
    memset(&b, 0, sizeof b);
    b.c = c;
    if (store_open_opts(url, &o, &b.st, err, sizeof err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        exit(1);
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TABLE);
    if (c.convs)
        store_op_add(op, &SQL_INDEX);
    if (store_write_wait(b.st, op, NULL) != 0) {
        fprintf(stderr, "cannot create the table\n");
        exit(1);
    }
    b.loops = xcalloc((size_t)c.loops, sizeof *b.loops);
    struct writer *ws = xcalloc((size_t)c.writers, sizeof *ws);
    uint64_t t0 = clock_mono_us();
    b.t_measure = t0 + (uint64_t)c.warmup * 1000000u;
    b.t_end = b.t_measure + (uint64_t)c.seconds * 1000000u;
    int per = c.writers / c.loops, next = 0;
    for (int i = 0; i < c.loops; i++) {
        struct loop *l = &b.loops[i];
        l->id = i;
        l->b = &b;
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->cv, NULL);
        l->nw = i == c.loops - 1 ? c.writers - next : per;
        l->w = &ws[next];
        for (int k = 0; k < l->nw; k++)
            ws[next + k] = (struct writer){.loop = l, .idx = next + k};
        next += l->nw;
        l->idle = xmalloc((size_t)l->nw * sizeof *l->idle);
        l->hist = xcalloc(HIST_BUCKETS, sizeof *l->hist);
        for (int k = 0; k < c.body; k++)
            l->body[k] = (char)('a' + (k * 7 + i) % 26);
    }
    struct store_stats s0, s1;
    for (int i = 0; i < c.loops; i++)
        pthread_create(&b.loops[i].thread, NULL, loop_main, &b.loops[i]);
    usleep((useconds_t)c.warmup * 1000000u);
    store_stats_get(b.st, &s0);
    usleep((useconds_t)c.seconds * 1000000u);
    store_stats_get(b.st, &s1);
    atomic_store(&b.stop, 1);
    for (int i = 0; i < c.loops; i++)
        pthread_join(b.loops[i].thread, NULL);

    uint64_t *hist = xcalloc(HIST_BUCKETS, sizeof *hist);
    uint64_t ok = 0, errs = 0, serr = 0, lmax = 0, deferred = 0;
    for (int i = 0; i < c.loops; i++) {
        struct loop *l = &b.loops[i];
        for (int k = 0; k < HIST_BUCKETS; k++)
            hist[k] += l->hist[k];
        ok += l->done_ok;
        errs += l->done_err;
        serr += l->submit_err;
        deferred += l->deferred;
        if (l->lat_max > lmax)
            lmax = l->lat_max;
    }
    uint64_t commits = s1.commits - s0.commits, writes = s1.writes - s0.writes;
    printf("%-44s %9.0f writes/s  p50 %6.2f ms  p99 %6.2f ms  p99.9 %6.2f ms  max %7.2f ms  "
           "avg group %6.1f  errors %llu",
           title, (double)ok / c.seconds, percentile(hist, ok, 0.50) / 1000.0,
           percentile(hist, ok, 0.99) / 1000.0, percentile(hist, ok, 0.999) / 1000.0, lmax / 1000.0,
           commits ? (double)writes / (double)commits : 0.0, (unsigned long long)(errs + serr));
    if (c.rate)
        printf("  offered %d/s, deferred %llu", c.rate, (unsigned long long)deferred);
    printf("\n");
    fflush(stdout);

    store_close(b.st);
    for (int i = 0; i < c.loops; i++) {
        struct loop *l = &b.loops[i];
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l->idle);
        free(l->hist);
    }
    free(hist);
    free(ws);
    free(b.loops);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* One row per transaction, straight on SQLite: the baseline group commit is measured against. */
static void run_baseline(const char *title, struct cfg c)
{
    char *dir = make_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/bench.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "open: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sqlite3_exec(db, c.strict ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", NULL, NULL,
                 NULL);
    sqlite3_exec(db, SQL_TABLE.sqlite, NULL, NULL, NULL);
    if (c.convs)
        sqlite3_exec(db, SQL_INDEX.sqlite, NULL, NULL, NULL);
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(db, SQL_INSERT.sqlite, -1, &s, NULL);
    char body[4096];
    for (int k = 0; k < c.body; k++)
        body[k] = (char)('a' + (k * 7) % 26);
    uint64_t t0 = clock_mono_us(), end = t0 + (uint64_t)c.seconds * 1000000u, n = 0;
    uint64_t *hist = xcalloc(HIST_BUCKETS, sizeof *hist);
    uint64_t now = t0;
    while (now < end) {
        char id[32], conv[32];
        snprintf(id, sizeof id, "m%015llx", (unsigned long long)n);
        snprintf(conv, sizeof conv, "conv-%05d", c.convs ? (int)(n % (uint64_t)c.convs) : 0);
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, conv, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 3, (int64_t)n);
        sqlite3_bind_text(s, 4, "user-00001", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, body, c.body, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, clock_wall_ms());
        if (sqlite3_step(s) != SQLITE_DONE) {
            fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_reset(s);
        uint64_t t = clock_mono_us();
        uint64_t lat = t - now;
        hist[lat < HIST_BUCKETS ? lat : HIST_BUCKETS - 1]++;
        now = t;
        n++;
    }
    printf("%-44s %9.0f writes/s  p50 %6.2f ms  p99 %6.2f ms  (one caller, no queue)\n", title,
           (double)n / c.seconds, percentile(hist, n, 0.5) / 1000.0,
           percentile(hist, n, 0.99) / 1000.0);
    fflush(stdout);
    free(hist);
    sqlite3_finalize(s);
    sqlite3_close(db);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static void usage(void)
{
    puts("usage: store_bench [--seconds N] [--warmup N] [--writers N] [--loops N] [--body BYTES]\n"
         "                   [--group-ops N] [--group-us N] [--group-wait-us N]\n"
         "                   [--convs N] [--strict] [--url postgres://...]\n"
         "                   [--closed | --rate OPS_PER_S | --baseline | --baseline-store]\n"
         "Without a scenario flag, runs the suite: baselines, closed loop normal and strict,\n"
         "open loop at 50,000/s normal and strict.");
}

int main(int argc, char **argv)
{
    struct cfg c = {.seconds = 5,
                    .warmup = 1,
                    .writers = 1000,
                    .loops = 2,
                    .body = 230,
                    .group_max_ops = 0,
                    .group_max_us = 0,
                    .convs = 0};
    enum { SUITE, CLOSED, OPEN, BASE, BASE_STORE } mode = SUITE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define INTARG(flag, field)                                                                        \
    if (strcmp(a, flag) == 0 && v) {                                                               \
        c.field = atoi(v);                                                                         \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        INTARG("--seconds", seconds)
        INTARG("--warmup", warmup)
        INTARG("--writers", writers)
        INTARG("--loops", loops)
        INTARG("--body", body)
        INTARG("--group-ops", group_max_ops)
        INTARG("--group-us", group_max_us)
        INTARG("--group-wait-us", group_wait_us)
        INTARG("--convs", convs)
        if (strcmp(a, "--url") == 0 && v) {
            g_url = v;
            i++;
        } else if (strcmp(a, "--rate") == 0 && v) {
            c.rate = atoi(v);
            mode = OPEN;
            i++;
        } else if (strcmp(a, "--strict") == 0) {
            c.strict = true;
        } else if (strcmp(a, "--closed") == 0) {
            mode = CLOSED;
        } else if (strcmp(a, "--baseline") == 0) {
            mode = BASE;
        } else if (strcmp(a, "--baseline-store") == 0) {
            mode = BASE_STORE;
        } else {
            usage();
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (c.seconds < 1 || c.writers < 1 || c.loops < 1 || c.loops > c.writers || c.body < 1 ||
        c.body > 4000 || c.warmup < 0) {
        usage();
        return 2;
    }
    log_setup(LOG_WARN, false);
    char backend[64];
    if (g_url != NULL) /* never print the URL: it may hold a password */
        snprintf(backend, sizeof backend, "postgres (--url)");
    else
        snprintf(backend, sizeof backend, "sqlite %s", sqlite3_libversion());
    printf("store_bench: %d writers on %d loop threads, %d-byte body (~%d-byte rows), %ds + %ds "
           "warm-up, %s\n",
           c.writers, c.loops, c.body, c.body + 70, c.seconds, c.warmup, backend);
    struct cfg k = c;
    switch (mode) {
    case BASE:
        run_baseline(c.strict ? "baseline 1 row/txn (sqlite, strict)"
                              : "baseline 1 row/txn (sqlite, normal)",
                     c);
        break;
    case BASE_STORE:
        k.group_max_ops = 1;
        run_store(c.strict ? "store, groups of 1 (strict)" : "store, groups of 1 (normal)", k);
        break;
    case CLOSED:
        run_store(c.strict ? "closed loop (strict)" : "closed loop (normal)", c);
        break;
    case OPEN:
        run_store(c.strict ? "open loop (strict)" : "open loop (normal)", c);
        break;
    case SUITE:
        k.strict = false;
        run_baseline("baseline 1 row/txn, direct sqlite (normal)", k);
        k.strict = true;
        run_baseline("baseline 1 row/txn, direct sqlite (strict)", k);
        k = c;
        k.group_max_ops = 1;
        run_store("store, groups of 1 (normal)", k);
        k = c;
        k.strict = false;
        run_store("closed loop, 1000 in flight (normal)", k);
        k.strict = true;
        run_store("closed loop, 1000 in flight (strict)", k);
        k = c;
        k.rate = 50000;
        run_store("open loop 50,000/s (normal)", k);
        k.strict = true;
        run_store("open loop 50,000/s (strict)", k);
        break;
    }
    return 0;
}
