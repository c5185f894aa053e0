/*
 * Contract tests for the store interface (store.h), run against the SQLite
 * backend in a temporary directory and, when HERALD_TEST_PG_URL names a
 * PostgreSQL database the test may create databases from (scripts/pg-test.sh
 * sets it; `make test-pg`), the same cases again on PostgreSQL, each on a fresh
 * database, plus a check that both backends' migrations make the same tables,
 * columns and indexes. They cover migrations (fresh, idempotent, upgrade from
 * an older set, refusal of a newer database), round trips of every value type,
 * group commit (grouping, one failing op failing alone, a statement that
 * aborts the whole transaction, a group full of failures), error mapping,
 * durability settings, the statement cache, back-pressure, reconnecting, and
 * close draining the queue with every callback called exactly once. The
 * SQLite-only cases (URLs, pragmas, checkpoints) are in test_store_sqlite.c.
 */
#include "store_test.h"

/* ---- migrations ---- */

TEST(migrate_fresh_idempotent)
{
    struct store *st = open_opts(fresh_url(), NULL);
    CHECK(st != NULL);
    if (!st)
        return;
    int v = -1;
    CHECK_INT(store_schema_version(st, &v), 0);
    CHECK_INT(v, 0);
    char err[256];
    CHECK_INT(store_migrate(st, 0, &v, err, sizeof err), 0);
    CHECK_INT(v, store_migrations_latest(st));
    CHECK(store_migrations_latest(st) >= 2);
    /* one row per migration this binary knows (their numbers may skip one: a branch's own) */
    int applied = query_int(st, "SELECT count(*) FROM schema_migrations");
    CHECK(applied >= 2 && applied <= v);
    CHECK_INT(query_int(st, "SELECT max(version) FROM schema_migrations"), v);
    CHECK_INT(query_int(st, "SELECT count(*) FROM schema_migrations WHERE version = 1 AND "
                            "name = 'initial' AND applied_at > 1700000000000"),
              1);
    /* every table issue 3 needs exists */
#define TABLES_001                                                                                 \
    "('apps','app_secrets','users','operators','roles','role_apps','operator_roles',"              \
    "'refresh_tokens','audit_log','settings')"
    CHECK_INT(query_int(st, BK("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                               "name IN " TABLES_001,
                               "SELECT count(*) FROM information_schema.tables WHERE "
                               "table_schema = current_schema() AND table_name IN " TABLES_001)),
              10);
    /* again: nothing to do, nothing recorded twice */
    int v2 = -1;
    CHECK_INT(store_migrate(st, 0, &v2, err, sizeof err), 0);
    CHECK_INT(v2, v);
    CHECK_INT(query_int(st, "SELECT count(*) FROM schema_migrations"), applied);
    CHECK_INT(store_migrate(st, 99, &v2, err, sizeof err), ERR_INVAL);
    store_close(st);
}

#define SQL_HAS_INDEX_SQLITE "SELECT count(*) FROM sqlite_schema WHERE name = 'users_app_name'"
#define SQL_HAS_INDEX_PG "SELECT count(*) FROM pg_indexes WHERE indexname = 'users_app_name'"

TEST(migrate_upgrade_from_older_set)
{
    const char *url = fresh_url();
    char err[256];
    int v = -1;
    /* a database made by a binary that knew only migration 1 */
    struct store *st = open_opts(url, NULL);
    CHECK_INT(store_migrate(st, 1, &v, err, sizeof err), 0);
    CHECK_INT(v, 1);
    CHECK_INT(query_int(st, BK(SQL_HAS_INDEX_SQLITE, SQL_HAS_INDEX_PG)), 0);
    CHECK_INT(exec_w(st, "INSERT INTO apps (id, name, key, created_at, updated_at) "
                         "VALUES ('a1', 'default', 'k1', 1, 1)"),
              0);
    store_close(st);

    /* the newer binary opens it and upgrades */
    st = open_opts(url, NULL);
    CHECK_INT(store_schema_version(st, &v), 0);
    CHECK_INT(v, 1);
    CHECK_INT(store_migrate(st, 0, &v, err, sizeof err), 0);
    CHECK_INT(v, store_migrations_latest(st));
    CHECK_INT(query_int(st, BK(SQL_HAS_INDEX_SQLITE, SQL_HAS_INDEX_PG)), 1);
    CHECK_INT(query_int(st, "SELECT count(*) FROM apps WHERE key = 'k1'"), 1);
    CHECK_INT(query_int(st, "SELECT max(version) FROM schema_migrations"), v);
    store_close(st);
}

TEST(migrate_refuses_newer_or_foreign_db)
{
    const char *url = fresh_url();
    char err[256];
    int v;
    struct store *st = open_migrated(url);
    CHECK_INT(exec_w(st, "INSERT INTO schema_migrations VALUES (99, 'future', 1)"), 0);
    CHECK_INT(store_migrate(st, 0, &v, err, sizeof err), ERR_INVAL);
    CHECK(strstr(err, "newer herald") != NULL);
    CHECK_INT(exec_w(st, "DELETE FROM schema_migrations WHERE version = 99"), 0);
    CHECK_INT(exec_w(st, "UPDATE schema_migrations SET name = 'other' WHERE version = 2"), 0);
    CHECK_INT(store_migrate(st, 0, &v, err, sizeof err), ERR_INVAL);
    CHECK(strstr(err, "'other'") != NULL);
    store_close(st);
}

TEST(schema_constraints)
{
    struct store *st = open_migrated(fresh_url());
    CHECK_INT(exec_w(st, "INSERT INTO apps (id, name, key, created_at, updated_at) "
                         "VALUES ('a1', 'default', 'k1', 1, 1)"),
              0);
    CHECK_INT(exec_w(st, "INSERT INTO apps (id, name, key, created_at, updated_at) "
                         "VALUES ('a2', 'other', 'k1', 1, 1)"),
              ERR_EXISTS);
    CHECK_INT(exec_w(st, "INSERT INTO users (app_id, id, created_at, updated_at) "
                         "VALUES ('nope', 'b1', 1, 1)"),
              ERR_NOTFOUND);
    CHECK_INT(exec_w(st, "INSERT INTO users (app_id, id, metadata, created_at, updated_at) "
                         "VALUES ('a1', 'b1', '{bad', 1, 1)"),
              ERR_INVAL);
    CHECK_INT(exec_w(st, "INSERT INTO users (app_id, id, created_at, updated_at) "
                         "VALUES ('a1', 'b1', 1, 1)"),
              0);
    CHECK_INT(exec_w(st, "INSERT INTO users (app_id, id, created_at, updated_at) "
                         "VALUES ('a1', 'b1', 2, 2)"),
              ERR_EXISTS);
    /* deleting the app cascades to its users */
    CHECK_INT(exec_w(st, "DELETE FROM apps WHERE id = 'a1'"), 0);
    CHECK_INT(query_int(st, "SELECT count(*) FROM users"), 0);
    store_close(st);
}

/* ---- round trips ---- */

static const struct store_sql SQL_TYPES_TABLE = {
    .sqlite = "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB)",
    .pg = "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, i BIGINT, "
          "r DOUBLE PRECISION, s TEXT, b BYTEA)",
};
static const struct store_sql SQL_TYPES_INSERT = {
    .sqlite = "INSERT INTO t (i, r, s, b) VALUES (?1, ?2, ?3, ?4) RETURNING id",
    .pg = "INSERT INTO t (i, r, s, b) VALUES ($1, $2, $3, $4) RETURNING id",
};
static const struct store_sql SQL_TYPES_GET = {
    .sqlite = "SELECT id, i, r, s, b FROM t WHERE id = ?1",
    .pg = "SELECT id, i, r, s, b FROM t WHERE id = $1",
};
static const struct store_sql SQL_TYPES_COUNT = {.sqlite = "SELECT count(*) AS n FROM t",
                                                 .pg = "SELECT count(*) AS n FROM t"};

TEST(write_then_read_back)
{
    struct store *st = open_opts(fresh_url(), NULL);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_TYPES_TABLE);
    CHECK_INT(store_write_wait(st, op, NULL), 0);

    static const unsigned char blob[] = {0, 1, 2, 0xff, 0};
    const char *text = "héllo, 世界";
    op = store_op_new();
    store_op_add(op, &SQL_TYPES_INSERT);
    store_bind_int(op, INT64_MIN);
    store_bind_real(op, 2.5);
    store_bind_text(op, text);
    store_bind_blob(op, blob, sizeof blob);
    store_op_add(op, &SQL_TYPES_INSERT); /* a second statement in the same op */
    store_bind_null(op);
    store_bind_null(op);
    store_bind_textn(op, "", 0);
    store_bind_text(op, NULL);
    struct store_result *res = NULL;
    CHECK_INT(store_write_wait(st, op, &res), 0);
    CHECK(res != NULL);
    if (!res)
        return;
    CHECK_INT(res->nsteps, 2);
    const struct store_rows *r0 = store_result_step(res, 0);
    CHECK_INT(r0->changes, 1);
    CHECK_INT(r0->last_id, g_pg ? 0 : 1); /* PostgreSQL has no rowid: use RETURNING */
    CHECK_INT(r0->nrows, 1);
    CHECK_STR(r0->cols[0], "id");
    CHECK_INT(store_rows_int(r0, 0, 0), 1);
    CHECK_INT(store_rows_int(store_result_step(res, -1), 0, 0), 2);
    CHECK(store_result_step(res, 2) == NULL);
    CHECK(store_result_step(res, -3) == NULL);
    store_result_free(res);

    op = store_op_new();
    store_op_add(op, &SQL_TYPES_GET);
    store_bind_int(op, 1);
    store_op_add(op, &SQL_TYPES_GET);
    store_bind_int(op, 2);
    store_op_add(op, &SQL_TYPES_COUNT);
    CHECK_INT(store_read_wait(st, op, &res), 0);
    const struct store_rows *a = store_result_step(res, 0);
    CHECK_INT(a->ncols, 5);
    CHECK_INT(a->nrows, 1);
    CHECK_INT(a->changes, 0);
    CHECK_INT(store_rows_col(a, "s"), 3);
    CHECK_INT(store_rows_col(a, "zz"), -1);
    CHECK_INT(store_rows_int(a, 0, 1), INT64_MIN);
    CHECK(store_rows_value(a, 0, 2)->type == STORE_REAL && store_rows_value(a, 0, 2)->v.r == 2.5);
    CHECK_STR(store_rows_text(a, 0, 3), text);
    CHECK_INT(store_rows_value(a, 0, 3)->len, strlen(text));
    const struct store_value *bv = store_rows_value(a, 0, 4);
    CHECK(bv->type == STORE_BLOB && bv->len == sizeof blob &&
          memcmp(bv->v.p, blob, sizeof blob) == 0);
    const struct store_rows *b = store_result_step(res, 1);
    CHECK(store_rows_is_null(b, 0, 1));
    CHECK(store_rows_is_null(b, 0, 4));
    CHECK_STR(store_rows_text(b, 0, 3), "");
    CHECK(store_rows_text(b, 0, 1) == NULL);
    CHECK(store_rows_value(b, 1, 0) == NULL);
    CHECK(store_rows_is_null(b, 5, 5));
    CHECK_INT(store_rows_int(store_result_step(res, 2), 0, 0), 2);
    CHECK_STR(store_result_step(res, 2)->cols[0], "n");
    store_result_free(res);

    /* a query that finds nothing is a result with no rows, not an error */
    op = store_op_new();
    store_op_add(op, &SQL_TYPES_GET);
    store_bind_int(op, 99);
    CHECK_INT(store_read_wait(st, op, &res), 0);
    CHECK_INT(store_result_step(res, 0)->nrows, 0);
    store_result_free(res);
    store_close(st);
}

static void ping_done(int status, struct store_result *res, void *ud)
{
    store_result_free(res);
    struct tally *t = ud;
    pthread_mutex_lock(&t->mu);
    t->by_status[-status]++;
    t->done++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

TEST(read_sees_committed_write)
{
    struct store *st = open_kv(fresh_url(), NULL);
    struct tally t;
    tally_init(&t);
    CHECK_INT(store_ping(st, ping_done, &t), 0);
    tally_wait(&t, 1);
    CHECK_INT(t.by_status[0], 1);
    /* a write answered means committed: a read submitted afterwards sees it */
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        CHECK_INT(store_write_wait(st, kv_insert_op(k, i), NULL), 0);
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_KV_GET);
        store_bind_text(op, k);
        store_op_require_row(op);
        struct store_result *res = NULL;
        CHECK_INT(store_read_wait(st, op, &res), 0);
        CHECK_INT(store_rows_int(store_result_step(res, 0), 0, 0), i);
        store_result_free(res);
    }
    tally_release(&t);
    store_close(st);
}

/* background reads (store_op_background) see committed writes like any read, may not write,
 * and are answered when the store closes */
TEST(background_reads)
{
    struct store *st = open_kv(fresh_url(), NULL);
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "b%d", i);
        CHECK_INT(store_write_wait(st, kv_insert_op(k, i), NULL), 0);
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_KV_GET);
        store_bind_text(op, k);
        store_op_require_row(op);
        store_op_background(op);
        struct store_result *res = NULL;
        CHECK_INT(store_read_wait(st, op, &res), 0);
        CHECK_INT(store_rows_int(store_result_step(res, 0), 0, 0), i);
        store_result_free(res);
    }
    struct store_op *w = kv_insert_op("bw", 1);
    store_op_background(w);
    CHECK_INT(store_read_wait(st, w, NULL), ERR_BACKEND); /* a read op may not write */
    static struct tally t;
    tally_init(&t);
    static struct call calls[50];
    for (int i = 0; i < 50; i++) {
        calls[i] = (struct call){.t = &t, .idx = i, .status = 1};
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_KV_GET);
        store_bind_text(op, "b3");
        store_op_background(op);
        CHECK_INT(store_read(st, op, tally_done, &calls[i]), 0);
    }
    store_close(st); /* every queued background read answered first */
    CHECK_INT(t.done, 50);
    CHECK_INT(t.by_status[0], 50);
    tally_release(&t);
}

/* ---- group commit ---- */

#define GC_THREADS 4
#define GC_PER_THREAD 250

struct gc_arg {
    struct store *st;
    struct tally *t;
    struct call *calls;
    int base;
    int submit_errors;
};

static void *gc_thread(void *p)
{
    struct gc_arg *a = p;
    for (int i = 0; i < GC_PER_THREAD; i++) {
        int idx = a->base + i;
        char k[32];
        snprintf(k, sizeof k, "key-%05d", idx);
        a->calls[idx] = (struct call){.t = a->t, .idx = idx, .status = 1};
        if (store_write(a->st, kv_insert_op(k, idx), tally_done, &a->calls[idx]) != 0)
            a->submit_errors++;
    }
    return NULL;
}

TEST(group_commit_groups)
{
    struct store *st = open_kv(fresh_url(), NULL);
    struct store_stats s0, s1;
    store_stats_get(st, &s0);
    static struct tally t;
    static struct call calls[GC_THREADS * GC_PER_THREAD];
    tally_init(&t);
    pthread_t th[GC_THREADS];
    struct gc_arg args[GC_THREADS];
    for (int i = 0; i < GC_THREADS; i++) {
        args[i] = (struct gc_arg){.st = st, .t = &t, .calls = calls, .base = i * GC_PER_THREAD};
        pthread_create(&th[i], NULL, gc_thread, &args[i]);
    }
    for (int i = 0; i < GC_THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(args[i].submit_errors, 0);
    }
    const int n = GC_THREADS * GC_PER_THREAD;
    tally_wait(&t, n);
    store_stats_get(st, &s1);
    CHECK_INT(t.by_status[0], n);
    for (int i = 0; i < n; i++) {
        CHECK_INT(atomic_load(&t.calls[i]), 1);
        CHECK_INT(calls[i].status, 0);
    }
    uint64_t commits = s1.commits - s0.commits;
    CHECK_INT(s1.writes - s0.writes, n);
    CHECK(commits >= 1 && commits < (uint64_t)n);
    CHECK(s1.largest_group > 1);
    CHECK_INT(s1.write_queue, 0);
    printf("  group commit: %d writes in %llu commits (largest group %llu)\n", n,
           (unsigned long long)commits, (unsigned long long)s1.largest_group);
    CHECK_INT(query_int(st, "SELECT count(*) FROM kv"), n);
    tally_release(&t);
    store_close(st);
}

TEST(failing_op_fails_alone)
{
    quiet(true);
    /*
     * A long group time cap: the group that starts with the hold op keeps
     * taking what is queued meanwhile, so the eight ops below share its
     * transaction however the threads are scheduled.
     */
    struct store_options o = {.group_max_us = 10000000};
    struct store *st = open_kv(fresh_url(), &o);
    CHECK_INT(store_write_wait(st, kv_insert_op("taken", 1), NULL), 0);
    struct store_stats s0, s1;
    store_stats_get(st, &s0);
    static struct tally t;
    static struct call calls[8];
    tally_init(&t);
    hold_writer(st);
    for (int i = 0; i < 8; i++)
        calls[i] = (struct call){.t = &t, .idx = i, .status = 1};

    CHECK_INT(store_write(st, kv_insert_op("a", 1), tally_done, &calls[0]), 0);
    /* unique violation: this op only */
    CHECK_INT(store_write(st, kv_insert_op("taken", 2), tally_done, &calls[1]), 0);
    CHECK_INT(store_write(st, kv_insert_op("b", 2), tally_done, &calls[2]), 0);
    /* two statements, the second fails: the first is undone too (savepoint) */
    struct store_op *op = kv_insert_op("c", 3);
    store_op_add(op, &SQL_KV_SET);
    store_bind_text(op, "a");
    store_bind_int(op, -5); /* CHECK (v >= 0) */
    CHECK_INT(store_write(st, op, tally_done, &calls[3]), 0);
    /* "update by id" of a missing row, after a statement that succeeded */
    op = kv_insert_op("d", 4);
    store_op_add(op, &SQL_KV_SET);
    store_bind_text(op, "missing");
    store_bind_int(op, 1);
    store_op_require_row(op);
    CHECK_INT(store_write(st, op, tally_done, &calls[4]), 0);
    /* a statement that rolls back the whole transaction: the others are redone */
    op = store_op_new();
    store_op_add(op, &SQL_KV_INSERT_OR_ROLLBACK);
    store_bind_text(op, "taken");
    store_bind_int(op, 9);
    CHECK_INT(store_write(st, op, tally_done, &calls[5]), 0);
    CHECK_INT(store_write(st, kv_insert_op("e", 5), tally_done, &calls[6]), 0);
    /* wrong parameter count is a programming error */
    op = store_op_new();
    store_op_add(op, &SQL_KV_INSERT);
    store_bind_text(op, "f");
    CHECK_INT(store_write(st, op, tally_done, &calls[7]), 0);

    tally_wait(&t, 8);
    store_stats_get(st, &s1);
    CHECK_INT(calls[0].status, 0);
    CHECK_INT(calls[1].status, ERR_EXISTS);
    CHECK_INT(calls[2].status, 0);
    CHECK_INT(calls[3].status, ERR_INVAL);
    CHECK_INT(calls[4].status, ERR_NOTFOUND);
    CHECK_INT(calls[5].status, ERR_EXISTS);
    CHECK_INT(calls[6].status, 0);
    CHECK_INT(calls[7].status, ERR_BACKEND);
    for (int i = 0; i < 8; i++)
        CHECK_INT(atomic_load(&t.calls[i]), 1);
    /*
     * SQLite: one transaction for the hold op and all eight (savepoints). PostgreSQL: the
     * hold op's group, then the ops before each failure commit on their own (ADR 0007).
     */
    if (!g_pg)
        CHECK_INT(s1.commits - s0.commits, 1);
    else
        CHECK(s1.commits - s0.commits >= 2 && s1.commits - s0.commits <= 5);
    CHECK_INT(s1.rollbacks - s0.rollbacks, 0);
    CHECK_INT(s1.writes - s0.writes, 4); /* slow + a, b, e */
    CHECK_INT(s1.write_errors - s0.write_errors, 5);
    CHECK_INT(query_int(st, "SELECT count(*) FROM kv"), 4); /* taken, a, b, e */
    CHECK_INT(query_int(st, "SELECT v FROM kv WHERE k = 'a'"), 1);
    CHECK_INT(query_int(st, "SELECT count(*) FROM kv WHERE k IN ('c', 'd', 'f')"), 0);
    CHECK_INT(query_int(st, "SELECT v FROM kv WHERE k = 'taken'"), 1);
    tally_release(&t);
    store_close(st);
    quiet(false);
}

/* What store_write_wait_committed's hook saw. */
struct seen {
    int calls, status;
    int64_t changes; /* of the op's first step; -1: no result */
    pthread_t thread;
};

static void seen_hook(int status, struct store_result *res, void *ud)
{
    struct seen *s = ud;
    s->calls++;
    s->status = status;
    s->changes = res != NULL ? store_result_step(res, 0)->changes : -1;
    s->thread = pthread_self();
}

/* The hook runs once, on the writer thread, before the wait returns: with the result when the
 * op committed, with the error and no result when it failed. */
TEST(write_wait_committed_hook)
{
    quiet(true);
    struct store *st = open_kv(fresh_url(), NULL);
    struct seen ok = {0}, bad = {0};
    struct store_result *res = NULL;
    CHECK_INT(store_write_wait_committed(st, kv_insert_op("h", 1), seen_hook, &ok, &res), 0);
    CHECK_INT(ok.calls, 1);
    CHECK_INT(ok.status, 0);
    CHECK_INT(ok.changes, 1);
    CHECK(!pthread_equal(ok.thread, pthread_self()));
    CHECK(res != NULL && store_result_step(res, 0)->changes == 1); /* still the caller's */
    store_result_free(res);
    /* a unique violation */
    CHECK_INT(store_write_wait_committed(st, kv_insert_op("h", 2), seen_hook, &bad, NULL),
              ERR_EXISTS);
    CHECK_INT(bad.calls, 1);
    CHECK_INT(bad.status, ERR_EXISTS);
    CHECK_INT(bad.changes, -1);
    CHECK(pthread_equal(bad.thread, ok.thread));
    store_close(st);
    quiet(false);
}

/* A group where every other op fails: each fails alone, the rest commit (bounded work). */
TEST(many_failures_in_a_group)
{
    quiet(true);
    struct store_options o = {.group_max_us = 10000000};
    struct store *st = open_kv(fresh_url(), &o);
    enum { N = 1000 };
    for (int i = 0; i < N; i += 2) {
        char k[32];
        snprintf(k, sizeof k, "dup-%d", i);
        CHECK_INT(store_write_wait(st, kv_insert_op(k, 1), NULL), 0);
    }
    static struct tally t;
    static struct call calls[N];
    tally_init(&t);
    hold_writer(st);
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof k, "dup-%d", i); /* even keys are taken */
        calls[i] = (struct call){.t = &t, .idx = i, .status = 1};
        CHECK_INT(store_write(st, kv_insert_op(k, 2), tally_done, &calls[i]), 0);
    }
    tally_wait(&t, N);
    for (int i = 0; i < N; i++)
        CHECK_INT(calls[i].status, i % 2 ? 0 : ERR_EXISTS);
    CHECK_INT(query_int(st, "SELECT count(*) FROM kv"), N);
    CHECK_INT(query_int(st, "SELECT count(*) FROM kv WHERE v = 2"), N / 2);
    tally_release(&t);
    store_close(st);
    quiet(false);
}

TEST(error_mapping)
{
    quiet(true);
    struct store *st = open_kv(fresh_url(), NULL);
    CHECK_INT(exec_w(st, "INSERT INTO kv (k, v) VALUES ('x', NULL)"), ERR_INVAL);
    CHECK_INT(exec_w(st, "INSERT INTO kv (k, v) VALUES ('x', 'text')"), ERR_INVAL);
    CHECK_INT(exec_w(st, "SELEC nonsense"), ERR_BACKEND);
    CHECK_INT(exec_w(st, "SELECT 1; SELECT 2"), ERR_BACKEND);
    CHECK_INT(exec_w(st, "SELECT * FROM no_such_table"), ERR_BACKEND);
    /* transactions belong to the store: an op may not end its group's */
    CHECK_INT(exec_w(st, "COMMIT"), ERR_BACKEND);
    CHECK_INT(exec_w(st, " begin immediate"), ERR_BACKEND);
    CHECK_INT(exec_w(st, "SAVEPOINT x"), ERR_BACKEND);
    CHECK_INT(exec_w(st, "END"), ERR_BACKEND);
    CHECK_INT(exec_w(st, "rollback"), ERR_BACKEND);
    CHECK_INT(exec_w(st, "START TRANSACTION"), ERR_BACKEND);
    CHECK_INT(exec_w(st, "ABORT"), ERR_BACKEND);
    CHECK_INT(store_write_wait(st, kv_insert_op("after", 1), NULL), 0);
    /* a read op may not write */
    struct store_op *op = kv_insert_op("r", 1);
    CHECK_INT(store_read_wait(st, op, NULL), ERR_BACKEND);
    /* a statement without a text for this backend */
    static const struct store_sql pg_only = {.sqlite = NULL, .pg = "SELECT 1"};
    static const struct store_sql sqlite_only = {.sqlite = "SELECT 1", .pg = NULL};
    op = store_op_new();
    store_op_add(op, g_pg ? &sqlite_only : &pg_only);
    CHECK_INT(store_write_wait(st, op, NULL), ERR_BACKEND);
    /* an empty op is refused at once */
    CHECK_INT(store_write(st, store_op_new(), NULL, NULL), ERR_INVAL);
    /* a query marked require_row that finds nothing */
    op = store_op_new();
    store_op_add(op, &SQL_KV_GET);
    store_bind_text(op, "nope");
    store_op_require_row(op);
    CHECK_INT(store_read_wait(st, op, NULL), ERR_NOTFOUND);
    store_op_free(NULL);
    store_op_free(kv_insert_op("never", 1));
    store_close(st);
    quiet(false);
}

/* ---- settings ---- */

static const struct store_sql T_SYNC = {.pg = "SHOW synchronous_commit"};

static const char *show_sync(struct store *st, bool writer, char *out, size_t n)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &T_SYNC);
    struct store_result *res = NULL;
    int rc = writer ? store_write_wait(st, op, &res) : store_read_wait(st, op, &res);
    const char *v = rc == 0 ? store_rows_text(store_result_step(res, 0), 0, 0) : NULL;
    snprintf(out, n, "%s", v ? v : "(error)");
    store_result_free(res);
    return out;
}

/* Durability on PostgreSQL: strict waits for the WAL flush, normal does not (ADR 0007) */
TEST(durability_pg)
{
    struct store *st = NULL;
    char err[256], v[32];
    CHECK_INT(store_open(fresh_url(), STORE_DURABILITY_NORMAL, &st, err, sizeof err), 0);
    if (st == NULL)
        return;
    CHECK_STR(store_backend_name(st), "postgres");
    CHECK_STR(show_sync(st, true, v, sizeof v), "off");
    CHECK_STR(show_sync(st, false, v, sizeof v), "off");
    store_close(st);
    CHECK_INT(store_open(fresh_url(), STORE_DURABILITY_STRICT, &st, err, sizeof err), 0);
    if (st == NULL)
        return;
    CHECK_INT(store_durability(st), STORE_DURABILITY_STRICT);
    CHECK_STR(show_sync(st, true, v, sizeof v), "on");
    CHECK_STR(show_sync(st, false, v, sizeof v), "on");
    store_close(st);
}

static const struct store_sql SQL_C1 = {.sqlite = "SELECT v FROM kv WHERE k = ?1",
                                        .pg = "SELECT v FROM kv WHERE k = $1"};
static const struct store_sql SQL_C2 = {.sqlite = "SELECT v + 1 FROM kv WHERE k = ?1",
                                        .pg = "SELECT v + 1 FROM kv WHERE k = $1"};
static const struct store_sql SQL_C3 = {.sqlite = "SELECT v + 2 FROM kv WHERE k = ?1",
                                        .pg = "SELECT v + 2 FROM kv WHERE k = $1"};
static const struct store_sql SQL_C4 = {.sqlite = "SELECT v + 3 FROM kv WHERE k = ?1",
                                        .pg = "SELECT v + 3 FROM kv WHERE k = $1"};

TEST(statement_cache_eviction)
{
    struct store_options o = {.stmt_cache = 2, .readers = 1};
    struct store *st = open_kv(fresh_url(), &o);
    CHECK_INT(store_write_wait(st, kv_insert_op("k", 10), NULL), 0);
    const struct store_sql *q[] = {&SQL_C1, &SQL_C2, &SQL_C3, &SQL_C4};
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 4; i++) {
            struct store_op *op = store_op_new();
            store_op_add(op, q[i]);
            store_bind_text(op, "k");
            struct store_result *res = NULL;
            CHECK_INT(store_read_wait(st, op, &res), 0);
            CHECK_INT(store_rows_int(store_result_step(res, 0), 0, 0), 10 + i);
            store_result_free(res);
        }
    }
    /* the same text built at run time hits the same cache entry */
    struct store_op *op = store_op_new();
    char dyn[64], dyn_pg[64];
    snprintf(dyn, sizeof dyn, "SELECT v + %d FROM kv WHERE k = ?1", 3);
    snprintf(dyn_pg, sizeof dyn_pg, "SELECT v + %d FROM kv WHERE k = $1", 3);
    store_op_add_copy(op, dyn, dyn_pg);
    store_bind_text(op, "k");
    struct store_result *res = NULL;
    CHECK_INT(store_read_wait(st, op, &res), 0);
    CHECK_INT(store_rows_int(store_result_step(res, 0), 0, 0), 13);
    store_result_free(res);
    store_close(st);
}

TEST(queue_full_is_again)
{
    struct store_options o = {.max_queue = 1};
    struct store *st = open_kv(fresh_url(), &o);
    static struct tally t;
    static struct call calls[2];
    tally_init(&t);
    hold_writer(st);
    calls[0] = (struct call){.t = &t, .idx = 0, .status = 1};
    calls[1] = (struct call){.t = &t, .idx = 1, .status = 1};
    int a = store_write(st, kv_insert_op("a", 1), tally_done, &calls[0]);
    int b = store_write(st, kv_insert_op("b", 1), tally_done, &calls[1]);
    CHECK_INT(b, ERR_AGAIN);
    tally_wait(&t, a == 0 ? 1 : 0);
    CHECK_INT(atomic_load(&t.calls[1]), 0);
    store_close(st);
    tally_release(&t);
}

/*
 * PostgreSQL: after the server drops every connection, the next write and reads reset
 * their connection and run (nothing was committed, so resending is safe), without an error.
 */
TEST(reconnects_after_connection_loss)
{
    quiet(true);
    const char *url = fresh_url();
    struct store *st = open_kv(url, NULL);
    CHECK_INT(store_write_wait(st, kv_insert_op("before", 1), NULL), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "psql '%s' -qAtc \"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE datname = '%s'\" >/dev/null",
             g_pg_url, strrchr(url, '/') + 1);
    CHECK_INT(system(cmd), 0);
    usleep(100000);
    CHECK_INT(store_write_wait(st, kv_insert_op("after", 2), NULL), 0);
    for (int i = 0; i < 4; i++) /* every reader connection */
        CHECK_INT(query_int(st, "SELECT count(*) FROM kv"), 2);
    store_close(st);
    quiet(false);
}

/* ---- both backends' schemas ---- */

static int cmp_line(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The rows of a two-text-column query as sorted "a.b" lines in out (n entries at most). */
static int text_pairs(struct store *st, const char *sql, char (*out)[96], int n)
{
    struct store_op *op = store_op_new();
    store_op_add_copy(op, sql, sql);
    struct store_result *res = NULL;
    int got = 0;
    if (store_read_wait(st, op, &res) == 0) {
        const struct store_rows *r = store_result_step(res, 0);
        for (int i = 0; i < r->nrows && got < n; i++) {
            const char *b = store_rows_text(r, i, 1);
            snprintf(out[got++], 96, "%s.%s", store_rows_text(r, i, 0), b ? b : "");
        }
    }
    store_result_free(res);
    qsort(out, (size_t)got, sizeof *out, cmp_line);
    return got;
}

/* The migrations of both backends make the same tables and columns, and the same indexes; the
 * message search index is the one place they differ by design (docs/chat.md, "Search"):
 * SQLite's FTS5 table (and its shadow tables) over message_search's rowid id, PostgreSQL's
 * tsvector column in message_search itself. */
TEST(schema_parity)
{
    static char a[512][96], b[512][96];
    g_pg = false;
    struct store *sq = open_migrated(fresh_url());
    g_pg = true;
    struct store *pg = open_migrated(fresh_url());
    CHECK(sq != NULL && pg != NULL);
    if (sq == NULL || pg == NULL)
        goto out;
    CHECK_INT(store_migrations_latest(sq), store_migrations_latest(pg));
    int na = text_pairs(sq,
                        "SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p "
                        "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name NOT LIKE "
                        "'message_fts%' AND (m.name, p.name) <> ('message_search', 'id')",
                        a, 512);
    int nb = text_pairs(pg,
                        "SELECT table_name::text, column_name::text FROM "
                        "information_schema.columns WHERE table_schema = current_schema()",
                        b, 512);
    CHECK(na > 40);
    CHECK_INT(na, nb);
    for (int i = 0; i < na && i < nb; i++)
        if (strcmp(a[i], b[i]) != 0) {
            CHECK_STR(a[i], b[i]);
            break;
        }
    /* every index SQLite names exists on PostgreSQL (which adds its lower(name) ones) */
    na = text_pairs(sq,
                    "SELECT tbl_name, name FROM sqlite_schema WHERE type = 'index' AND "
                    "sql IS NOT NULL",
                    a, 512);
    nb = text_pairs(pg,
                    "SELECT tablename::text, indexname::text FROM pg_indexes WHERE "
                    "schemaname = current_schema()",
                    b, 512);
    CHECK(na > 10);
    for (int i = 0; i < na; i++) {
        bool found = false;
        for (int j = 0; j < nb && !found; j++)
            found = strcmp(a[i], b[j]) == 0;
        if (!found)
            CHECK_STR(a[i], "(no such index on PostgreSQL)");
    }
out:
    store_close(sq);
    store_close(pg);
}

/* ---- close ---- */

#define DRAIN_N 600

struct drain_ctx {
    struct store *st;
    struct tally *t;
    atomic_int resubmitted;
    atomic_int refused;
};

static struct drain_ctx g_drain;
static struct call g_drain_calls[2 * DRAIN_N];

static void drain_done(int status, struct store_result *res, void *ud)
{
    struct call *c = ud;
    /* the first generation queues one more write from the callback (allowed on a store thread) */
    if (c->idx < DRAIN_N) {
        struct call *next = &g_drain_calls[DRAIN_N + c->idx];
        *next = (struct call){.t = c->t, .idx = DRAIN_N + c->idx, .status = 1};
        char k[32];
        snprintf(k, sizeof k, "again-%d", c->idx);
        int rc = store_write(g_drain.st, kv_insert_op(k, 1), drain_done, next);
        if (rc == 0)
            atomic_fetch_add(&g_drain.resubmitted, 1);
        else if (rc == ERR_UNAVAIL)
            atomic_fetch_add(&g_drain.refused, 1);
    }
    tally_done(status, res, ud);
}

TEST(close_drains_queue)
{
    const char *url = fresh_url();
    static struct tally t;
    tally_init(&t);
    struct store *st = open_kv(url, NULL);
    g_drain.st = st;
    g_drain.t = &t;
    atomic_store(&g_drain.resubmitted, 0);
    atomic_store(&g_drain.refused, 0);
    for (int i = 0; i < DRAIN_N; i++) {
        char k[32];
        snprintf(k, sizeof k, "first-%d", i);
        g_drain_calls[i] = (struct call){.t = &t, .idx = i, .status = 1};
        CHECK_INT(store_write(st, kv_insert_op(k, i), drain_done, &g_drain_calls[i]), 0);
    }
    store_close(st); /* returns only when every queued op has been answered */
    int resub = atomic_load(&g_drain.resubmitted);
    CHECK_INT(resub + atomic_load(&g_drain.refused), DRAIN_N);
    CHECK_INT(t.done, DRAIN_N + resub);
    CHECK_INT(t.by_status[0], DRAIN_N + resub);
    for (int i = 0; i < DRAIN_N; i++)
        CHECK_INT(atomic_load(&t.calls[i]), 1);
    for (int i = DRAIN_N; i < 2 * DRAIN_N; i++)
        CHECK(atomic_load(&t.calls[i]) <= 1);

    /* everything answered was committed */
    st = open_opts(url, NULL);
    CHECK_INT(query_int(st, "SELECT count(*) FROM kv"), DRAIN_N + resub);
    store_close(st);
    tally_release(&t);
}

/* store_stop: queued ops finish (each callback once); afterwards the store refuses at once
 * from any thread (the op is freed: LeakSanitizer checks), stays allocated, and a second
 * stop is a no-op; store_close then frees it */
TEST(stop_drains_then_refuses_until_close)
{
    static struct tally t;
    static struct call calls[8];
    tally_init(&t);
    struct store *st = open_kv(fresh_url(), NULL);
    for (int i = 0; i < 8; i++) {
        char k[32];
        snprintf(k, sizeof k, "stop-%d", i);
        calls[i] = (struct call){.t = &t, .idx = i, .status = 1};
        CHECK_INT(store_write(st, kv_insert_op(k, i), tally_done, &calls[i]), 0);
    }
    store_stop(st);
    CHECK_INT(t.done, 8);
    CHECK_INT(t.by_status[0], 8);
    CHECK_INT(store_write(st, kv_insert_op("late", 1), tally_done, &calls[0]), ERR_UNAVAIL);
    struct store_op *op = store_op_new();
    store_op_add_copy(op, "SELECT 1", "SELECT 1");
    CHECK_INT(store_read(st, op, tally_done, &calls[0]), ERR_UNAVAIL);
    CHECK_INT(t.done, 8); /* a refused op's callback is never called */
    store_stop(st);
    store_close(st);
    tally_release(&t);
}

int main(void)
{
    log_setup(LOG_WARN, false);
    snprintf(g_dir, sizeof g_dir, "/tmp/herald-store-XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(migrate_fresh_idempotent);
    RUN(migrate_upgrade_from_older_set);
    RUN(migrate_refuses_newer_or_foreign_db);
    RUN(schema_constraints);
    RUN(write_then_read_back);
    RUN(read_sees_committed_write);
    RUN(background_reads);
    RUN(group_commit_groups);
    RUN(failing_op_fails_alone);
    RUN(write_wait_committed_hook);
    RUN(many_failures_in_a_group);
    RUN(error_mapping);
    RUN(statement_cache_eviction);
    RUN(queue_full_is_again);
    RUN(close_drains_queue);
    RUN(stop_drains_then_refuses_until_close);

    /* the same contract on PostgreSQL (not the SQLite file, URL and pragma cases) */
    g_pg_url = getenv("HERALD_TEST_PG_URL");
    if (g_pg_url && *g_pg_url) {
        g_pg = true;
        RUN_PG(migrate_fresh_idempotent);
        RUN_PG(migrate_upgrade_from_older_set);
        RUN_PG(migrate_refuses_newer_or_foreign_db);
        RUN_PG(schema_constraints);
        RUN_PG(write_then_read_back);
        RUN_PG(read_sees_committed_write);
        RUN_PG(group_commit_groups);
        RUN_PG(failing_op_fails_alone);
        RUN_PG(many_failures_in_a_group);
        RUN_PG(error_mapping);
        RUN_PG(durability_pg);
        RUN_PG(statement_cache_eviction);
        RUN_PG(queue_full_is_again);
        RUN_PG(close_drains_queue);
        RUN_PG(reconnects_after_connection_loss);
        RUN(schema_parity);
    } else {
        printf("  PostgreSQL cases skipped: HERALD_TEST_PG_URL is not set (make test-pg)\n");
    }
    rm_rf(g_dir);
    return test_summary();
}
