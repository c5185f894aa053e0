/*
 * Helpers shared by the store's unit tests (test_store.c, the contract on both
 * backends, and test_store_sqlite.c, the SQLite-only cases): fresh databases
 * per test (a file in a temporary folder, or a new database on the PostgreSQL
 * server named by HERALD_TEST_PG_URL), one-statement helpers, a small key-value
 * table, a completion tally, and an op that keeps the writer busy. Include once,
 * from a test's .c file, after test.h.
 */
#ifndef HERALD_TESTS_UNIT_STORE_TEST_H
#define HERALD_TESTS_UNIT_STORE_TEST_H

#define UNUSED __attribute__((unused))

#include "store/store.h"

#include <ftw.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "test.h"

static char g_dir[64];
static int g_seq;
static bool g_pg;            /* the cases run on PostgreSQL */
static const char *g_pg_url; /* HERALD_TEST_PG_URL */

/* The SQL text for the backend under test. */
#define BK(sqlite_text, pg_text) (g_pg ? (pg_text) : (sqlite_text))

/* RUN() with the backend in the test name. */
#define RUN_PG(name)                                                                               \
    do {                                                                                           \
        test_cur_name = "pg:" #name;                                                               \
        test_cur_failed = 0;                                                                       \
        test_##name();                                                                             \
        if (test_cur_failed)                                                                       \
            test_failed++;                                                                         \
        else                                                                                       \
            test_passed++;                                                                         \
    } while (0)

static inline int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static inline void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new PostgreSQL database on the test server (by psql: CREATE DATABASE cannot be prepared). */
static inline const char *fresh_pg_url(void)
{
    static char url[600];
    char name[48], cmd[800];
    if (g_pg_url == NULL)
        return "postgres://127.0.0.1:1/none";
    snprintf(name, sizeof name, "unit_%d_%d", (int)getpid(), ++g_seq);
    snprintf(cmd, sizeof cmd, "psql '%s' -qc 'CREATE DATABASE %s' >/dev/null", g_pg_url, name);
    const char *slash = strrchr(g_pg_url, '/');
    if (slash == NULL || strchr(g_pg_url, '\'') || system(cmd) != 0) {
        fprintf(stderr, "cannot create database %s\n", name);
        return "postgres://127.0.0.1:1/none";
    }
    snprintf(url, sizeof url, "%.*s/%s", (int)(slash - g_pg_url), g_pg_url, name);
    return url;
}

/* A fresh database URL for each test, on the backend under test. */
static inline const char *fresh_url(void)
{
    static char url[128];
    if (g_pg)
        return fresh_pg_url();
    snprintf(url, sizeof url, "sqlite:%s/db%d/herald.db", g_dir, ++g_seq);
    return url;
}

static inline struct store *open_opts(const char *url, const struct store_options *o)
{
    struct store *st = NULL;
    char err[256];
    int rc = store_open_opts(url, o, &st, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "open %s: %s\n", url, err);
    return st;
}

static inline struct store *open_migrated(const char *url)
{
    struct store *st = open_opts(url, NULL);
    if (st == NULL)
        return NULL;
    char err[256];
    int v = 0;
    if (store_migrate(st, 0, &v, err, sizeof err) != 0)
        fprintf(stderr, "migrate: %s\n", err);
    return st;
}

/* Runs one statement with no parameters on the writer (the text serves both backends). */
static inline int exec_w(struct store *st, const char *sql)
{
    struct store_op *op = store_op_new();
    store_op_add_copy(op, sql, sql);
    return store_write_wait(st, op, NULL);
}

/* Runs a one-column integer query on a reader (text for both backends); the value or -1. */
static inline int64_t query_int(struct store *st, const char *sql)
{
    struct store_op *op = store_op_new();
    store_op_add_copy(op, sql, sql);
    struct store_result *res = NULL;
    int rc = store_read_wait(st, op, &res);
    int64_t v = rc == 0 ? store_rows_int(store_result_step(res, 0), 0, 0) : -1;
    store_result_free(res);
    return v;
}

static const struct store_sql UNUSED SQL_KV_TABLE = {
    .sqlite = "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0), "
              "note TEXT) STRICT",
    .pg = "CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL CHECK (v >= 0), note TEXT)",
};
static const struct store_sql UNUSED SQL_KV_INSERT = {
    .sqlite = "INSERT INTO kv (k, v, note) VALUES (?1, ?2, ?3)",
    .pg = "INSERT INTO kv (k, v, note) VALUES ($1, $2, $3)",
};
/* SQLite: a conflict that rolls back the whole transaction; PostgreSQL: every error does */
static const struct store_sql UNUSED SQL_KV_INSERT_OR_ROLLBACK = {
    .sqlite = "INSERT OR ROLLBACK INTO kv (k, v) VALUES (?1, ?2)",
    .pg = "INSERT INTO kv (k, v) VALUES ($1, $2)",
};
static const struct store_sql UNUSED SQL_KV_SET = {.sqlite = "UPDATE kv SET v = ?2 WHERE k = ?1",
                                                   .pg = "UPDATE kv SET v = $2 WHERE k = $1"};
static const struct store_sql UNUSED SQL_KV_GET = {.sqlite = "SELECT v, note FROM kv WHERE k = ?1",
                                                   .pg = "SELECT v, note FROM kv WHERE k = $1"};
/* a write op that keeps the writer busy for a while (~0.1-0.5 s) */
static const struct store_sql UNUSED SQL_SLOW = {
    .sqlite = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 600000) "
              "SELECT count(*) FROM c",
    .pg = "SELECT pg_sleep(0.3)",
};

static inline struct store *open_kv(const char *url, const struct store_options *o)
{
    struct store *st = open_opts(url, o);
    if (st) {
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_KV_TABLE);
        CHECK_INT(store_write_wait(st, op, NULL), 0);
    }
    return st;
}

static inline struct store_op *kv_insert_op(const char *k, int64_t v)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_KV_INSERT);
    store_bind_text(op, k);
    store_bind_int(op, v);
    store_bind_null(op);
    return op;
}

/* Collects asynchronous completions. */
struct tally {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int by_status[16]; /* index -status */
    atomic_int calls[2048];
};

struct call {
    struct tally *t;
    int idx;
    int status;
};

static inline void tally_init(struct tally *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
}

static inline void tally_release(struct tally *t)
{
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
}

static inline void tally_done(int status, struct store_result *res, void *ud)
{
    struct call *c = ud;
    struct tally *t = c->t;
    store_result_free(res);
    atomic_fetch_add(&t->calls[c->idx], 1);
    pthread_mutex_lock(&t->mu);
    c->status = status;
    if (status <= 0 && status > -16)
        t->by_status[-status]++;
    t->done++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static inline void tally_wait(struct tally *t, int n)
{
    pthread_mutex_lock(&t->mu);
    while (t->done < n)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

/*
 * Tests that provoke backend errors on purpose turn logging off: the lines are
 * noise, and core/log.c keeps a per-thread line buffer that is not freed when
 * a store thread exits (LeakSanitizer reports it; see the store report).
 */
static inline void quiet(bool on)
{
    log_setup(on ? LOG_OFF : LOG_WARN, false);
}

static inline void slow_done(int status, struct store_result *res, void *ud)
{
    (void)ud;
    if (status != 0)
        fprintf(stderr, "slow op failed: %d\n", status);
    store_result_free(res);
}

/* Queues an op that keeps the writer busy, so what is queued next lands in one group. */
static inline void hold_writer(struct store *st)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_SLOW);
    CHECK_INT(store_write(st, op, slow_done, NULL), 0);
    usleep(5000); /* let the writer take it */
}

#endif
