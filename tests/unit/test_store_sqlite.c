/*
 * The SQLite-only cases of the store tests: opening and URL errors (files and
 * folders created, postgres:// refused without echoing a password), the
 * durability pragmas of each connection, and background checkpoints bounding
 * the WAL. The backend-neutral contract is in test_store.c.
 */
#include "store_test.h"

TEST(open_urls)
{
    struct store *st = NULL;
    char err[256];
    /* an unreachable PostgreSQL: refused, and the message never holds the password */
    CHECK_INT(store_open("postgres://u:secret@127.0.0.1:1/db", STORE_DURABILITY_NORMAL, &st, err,
                         sizeof err),
              ERR_UNAVAIL);
    CHECK(st == NULL);
    CHECK(strstr(err, "cannot connect to PostgreSQL") != NULL);
    CHECK(strstr(err, "secret") == NULL);
    /* libpq echoes a malformed part of the URL: the store blanks the password in it */
    CHECK_INT(store_open("postgres://u:se%zzret@127.0.0.1:1/db", STORE_DURABILITY_NORMAL, &st, err,
                         sizeof err),
              ERR_UNAVAIL);
    CHECK(strstr(err, "se%zzret") == NULL && strstr(err, "zzret") == NULL);
    CHECK_INT(
        store_open("postgresql://127.0.0.1:1/db", STORE_DURABILITY_NORMAL, &st, err, sizeof err),
        ERR_UNAVAIL);
    CHECK_INT(store_open("mysql://u:pw@h/db", STORE_DURABILITY_NORMAL, &st, err, sizeof err),
              ERR_INVAL);
    CHECK(strstr(err, "unknown scheme 'mysql'") != NULL);
    CHECK(strstr(err, "pw") == NULL);
    CHECK_INT(store_open("", STORE_DURABILITY_NORMAL, &st, err, sizeof err), ERR_INVAL);
    CHECK_INT(store_open("sqlite:", STORE_DURABILITY_NORMAL, &st, err, sizeof err), ERR_INVAL);
    CHECK_INT(store_open("sqlite::memory:", STORE_DURABILITY_NORMAL, &st, err, sizeof err),
              ERR_INVAL);
    struct store_options o = {.readers = -1};
    CHECK_INT(store_open_opts(fresh_url(), &o, &st, err, sizeof err), ERR_INVAL);

    /* nested parent directories are created; sqlite:/// is an absolute path */
    char url[160];
    snprintf(url, sizeof url, "sqlite://%s/a/b/c/x.db", g_dir);
    CHECK_INT(store_open(url, STORE_DURABILITY_NORMAL, &st, err, sizeof err), 0);
    CHECK(st != NULL);
    CHECK_STR(store_backend_name(st), "sqlite");
    char path[160];
    snprintf(path, sizeof path, "%s/a/b/c/x.db", g_dir);
    CHECK(access(path, F_OK) == 0);
    store_close(st);
    store_close(NULL);
}

static int64_t pragma_on_writer(struct store *st, const char *pragma)
{
    struct store_op *op = store_op_new();
    store_op_add_copy(op, pragma, NULL);
    struct store_result *res = NULL;
    int rc = store_write_wait(st, op, &res);
    int64_t v = -1;
    if (rc == 0) {
        const struct store_value *val = store_rows_value(store_result_step(res, 0), 0, 0);
        if (val && val->type == STORE_INT)
            v = val->v.i;
        else if (val && val->type == STORE_TEXT)
            v = strcmp(val->v.s, "wal") == 0 ? 1000 : -2;
    }
    store_result_free(res);
    return v;
}

TEST(durability_pragmas)
{
    struct store *st = NULL;
    char err[256];
    CHECK_INT(store_open(fresh_url(), STORE_DURABILITY_NORMAL, &st, err, sizeof err), 0);
    CHECK_INT(store_durability(st), STORE_DURABILITY_NORMAL);
    CHECK_INT(pragma_on_writer(st, "PRAGMA synchronous"), 1); /* NORMAL */
    CHECK_INT(pragma_on_writer(st, "PRAGMA journal_mode"), 1000);
    CHECK_INT(pragma_on_writer(st, "PRAGMA foreign_keys"), 1);
    CHECK_INT(query_int(st, "PRAGMA synchronous"), 1);
    CHECK_INT(query_int(st, "PRAGMA query_only"), 1);
    store_close(st);
    CHECK_INT(store_open(fresh_url(), STORE_DURABILITY_STRICT, &st, err, sizeof err), 0);
    CHECK_INT(store_durability(st), STORE_DURABILITY_STRICT);
    CHECK_INT(pragma_on_writer(st, "PRAGMA synchronous"), 2); /* FULL */
    CHECK_INT(query_int(st, "PRAGMA synchronous"), 2);
    store_close(st);
}

/* ---- checkpoints ---- */

static const struct store_sql SQL_BLOB_TABLE = {
    .sqlite = "CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB NOT NULL)",
};
static const struct store_sql SQL_BLOB_INSERT = {.sqlite = "INSERT INTO big (b) VALUES (?1)"};

#define CK_OPS 1000
#define CK_BLOB (20 * 1024)

TEST(checkpoints_bound_the_wal)
{
    const char *url = fresh_url();
    /*
     * Checkpoints every 50 pages; the WAL starts over past 400 and is forced
     * to past 1600 (plus what one group appends), against ~5,500 pages written.
     */
    struct store_options o = {.checkpoint_pages = 50};
    struct store *st = open_opts(url, &o);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_BLOB_TABLE);
    CHECK_INT(store_write_wait(st, op, NULL), 0);
    /* ~20 MB through the WAL: background checkpoints, the writer's catch-up, restarts */
    static struct tally t;
    static struct call calls[CK_OPS];
    tally_init(&t);
    unsigned char *blob = calloc(1, CK_BLOB);
    for (int i = 0; i < CK_OPS; i++) {
        blob[i % CK_BLOB] = (unsigned char)i;
        op = store_op_new();
        store_op_add(op, &SQL_BLOB_INSERT);
        store_bind_blob(op, blob, CK_BLOB);
        calls[i] = (struct call){.t = &t, .idx = i, .status = 1};
        CHECK_INT(store_write(st, op, tally_done, &calls[i]), 0);
        if (i % 200 == 199)
            tally_wait(&t, i - 100); /* keep the queue (and memory) small */
    }
    free(blob);
    tally_wait(&t, CK_OPS);
    CHECK_INT(t.by_status[0], CK_OPS);
    struct store_stats s;
    store_stats_get(st, &s);
    CHECK(s.checkpoints >= 3);
    CHECK_INT(query_int(st, "SELECT count(*) FROM big"), CK_OPS);
    CHECK_INT(query_int(st, "SELECT sum(length(b)) FROM big"), (int64_t)CK_OPS * CK_BLOB);
    /* the WAL started over: its file is far smaller than what went through it */
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", url + strlen("sqlite:"));
    struct stat sb;
    CHECK(stat(wal, &sb) == 0);
    CHECK(sb.st_size <= (off_t)2600 * 4120);
    printf("  checkpoints: %llu, wal %lld KB after %d KB written\n",
           (unsigned long long)s.checkpoints, (long long)sb.st_size >> 10, CK_OPS * CK_BLOB >> 10);
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
    RUN(open_urls);
    RUN(durability_pragmas);
    RUN(checkpoints_bound_the_wal);
    rm_rf(g_dir);
    return test_summary();
}
