/*
 * Statements written once (store.h STORE_SQL, src/store/sql/): the ?N -> $N
 * derivation of the PostgreSQL text, its cache under concurrent first use,
 * the list of every statement in store/sql.h, and every statement prepared on
 * SQLite (an in-memory database with the embedded migrations) and, when
 * HERALD_TEST_PG_URL names a server (make test-pg), on PostgreSQL with the
 * same number of parameters on both.
 */
#include "test.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/internal.h"
#include "store/sql.h"
#include "store/store.h"

/* Checks that text derives to want (NULL: refused). */
static void check_derive(const char *text, const char *want)
{
    char *got = store_sql_derive_pg(text);
    if (want == NULL) {
        if (got != NULL) {
            fprintf(stderr, "FAIL %s: \"%s\" derived to \"%s\", expected a refusal\n",
                    test_cur_name, text, got);
            test_cur_failed = 1;
        }
    } else {
        CHECK_STR(got, want);
    }
    free(got);
}

TEST(derive_parameters)
{
    check_derive("SELECT 1", "SELECT 1");
    check_derive("", "");
    check_derive("SELECT a FROM t WHERE b = ?1 AND c = ?2",
                 "SELECT a FROM t WHERE b = $1 AND c = $2");
    check_derive("UPDATE t SET a = ?2 WHERE id = ?1 AND ?2 > a",
                 "UPDATE t SET a = $2 WHERE id = $1 AND $2 > a");
    check_derive("VALUES (?1,?9,?10,?11,?99,?100)", "VALUES ($1,$9,$10,$11,$99,$100)");
    check_derive("SELECT ?12", "SELECT $12");
    check_derive("x=?3)", "x=$3)");
}

TEST(derive_leaves_literals_identifiers_and_comments)
{
    check_derive("SELECT '?1', ?1", "SELECT '?1', $1");
    check_derive("SELECT 'a ? b', '?\?', '?', ?2", "SELECT 'a ? b', '?\?', '?', $2");
    check_derive("SELECT 'it''s ?1 ''?2''', ?3", "SELECT 'it''s ?1 ''?2''', $3");
    check_derive("SELECT '$2', '$$', ?1", "SELECT '$2', '$$', $1");
    check_derive("SELECT \"col?1\", \"a\"\"?2\" FROM \"t?\" WHERE x = ?1",
                 "SELECT \"col?1\", \"a\"\"?2\" FROM \"t?\" WHERE x = $1");
    check_derive("SELECT '\"?1', \"'?2\", ?3", "SELECT '\"?1', \"'?2\", $3");
    check_derive("SELECT 1 -- why ?1\n, ?2", "SELECT 1 -- why ?1\n, $2");
    check_derive("SELECT /* ?1 '? */ ?1", "SELECT /* ?1 '? */ $1");
    check_derive("SELECT 1 -- ?", "SELECT 1 -- ?");
    check_derive("SELECT a - ?1, b / ?2", "SELECT a - $1, b / $2");
}

TEST(derive_refuses_what_it_cannot_map)
{
    check_derive("SELECT ?", NULL);     /* anonymous parameter */
    check_derive("SELECT ?1, ?", NULL); /* at the end */
    check_derive("SELECT ??", NULL);    /* outside a literal */
    check_derive("SELECT ?a", NULL);    /* not a number */
    check_derive("SELECT $1", NULL);    /* a named parameter on SQLite */
    check_derive("SELECT a FROM t$x", NULL);
    check_derive("SELECT 'abc", NULL);  /* unterminated literal */
    check_derive("SELECT 'a''", NULL);  /* the doubled quote does not end it */
    check_derive("SELECT \"abc", NULL); /* unterminated identifier */
    check_derive("SELECT /* ?1", NULL); /* unterminated comment */
}

static const struct store_sql SQL_ONE = STORE_SQL("SELECT ?1 || '?2'");
static const struct store_sql SQL_TWO = {.sqlite = "SELECT max(?1, ?2)",
                                         .pg = "SELECT GREATEST($1, $2)"};
static const struct store_sql SQL_SQLITE_ONLY = {.sqlite = "PRAGMA user_version"};
static const struct store_sql SQL_BAD = STORE_SQL("SELECT ?");

TEST(pg_text_explicit_derived_cached)
{
    CHECK(store_sql_pg_text(&SQL_TWO) == SQL_TWO.pg);
    CHECK(store_sql_pg_text(&SQL_SQLITE_ONLY) == NULL);
    CHECK(store_sql_pg_text(&SQL_BAD) == NULL);
    CHECK(store_sql_pg_text(&SQL_BAD) == NULL);
    const char *a = store_sql_pg_text(&SQL_ONE);
    CHECK_STR(a, "SELECT $1 || '?2'");
    CHECK(store_sql_pg_text(&SQL_ONE) == a); /* derived once */
    CHECK_STR(SQL_ONE.sqlite, "SELECT ?1 || '?2'");
}

/* Statements nobody has used yet, derived first by several threads at once. */
#define RACE_STMT(n) STORE_SQL("SELECT ?1 + " #n " FROM t WHERE a = ?2 AND b = '?3'")
static const struct store_sql RACE[] = {
    RACE_STMT(0),  RACE_STMT(1),  RACE_STMT(2),  RACE_STMT(3),  RACE_STMT(4),  RACE_STMT(5),
    RACE_STMT(6),  RACE_STMT(7),  RACE_STMT(8),  RACE_STMT(9),  RACE_STMT(10), RACE_STMT(11),
    RACE_STMT(12), RACE_STMT(13), RACE_STMT(14), RACE_STMT(15),
};
#define NRACE ((int)(sizeof RACE / sizeof RACE[0]))
#define RACE_THREADS 8

static pthread_barrier_t race_barrier;
static const char *race_seen[RACE_THREADS][NRACE];

static void *race_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    pthread_barrier_wait(&race_barrier);
    for (int k = 0; k < NRACE; k++) {
        int i = (k + t) % NRACE; /* threads start on different statements, then collide */
        race_seen[t][i] = store_sql_pg_text(&RACE[i]);
    }
    return NULL;
}

TEST(pg_text_concurrent_first_use)
{
    pthread_t th[RACE_THREADS];
    pthread_barrier_init(&race_barrier, NULL, RACE_THREADS);
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_create(&th[t], NULL, race_thread, (void *)(intptr_t)t);
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&race_barrier);
    for (int i = 0; i < NRACE; i++) {
        char want[80];
        snprintf(want, sizeof want, "SELECT $1 + %d FROM t WHERE a = $2 AND b = '?3'", i);
        CHECK_STR(race_seen[0][i], want);
        for (int t = 1; t < RACE_THREADS; t++)
            CHECK(race_seen[t][i] == race_seen[0][i]); /* one text for everybody */
    }
}

static const struct store_sql *find_entry(const char *name)
{
    for (size_t i = 0; i < store_sql_all_count; i++)
        if (strcmp(store_sql_all[i].name, name) == 0)
            return store_sql_all[i].sql;
    return NULL;
}

/* Every `extern const struct store_sql NAME;` of store/sql.h is in store_sql_all, once. */
TEST(list_is_complete)
{
    FILE *f = fopen("src/store/sql.h", "r");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    static const char decl[] = "extern const struct store_sql ";
    char line[512];
    size_t declared = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, decl, sizeof decl - 1) != 0)
            continue;
        char name[128];
        if (sscanf(line + sizeof decl - 1, "%127[A-Z0-9_]", name) != 1)
            continue;
        declared++;
        if (find_entry(name) == NULL) {
            fprintf(stderr, "FAIL %s: %s is not in store_sql_all\n", test_cur_name, name);
            test_cur_failed = 1;
        }
    }
    fclose(f);
    CHECK(declared > 50);
    CHECK_INT(declared, store_sql_all_count);
    for (size_t i = 0; i < store_sql_all_count; i++)
        for (size_t j = i + 1; j < store_sql_all_count; j++) {
            CHECK(strcmp(store_sql_all[i].name, store_sql_all[j].name) != 0);
            CHECK(store_sql_all[i].sql != store_sql_all[j].sql);
        }
}

/* Each statement's parameter count on SQLite (-1: did not prepare), for the PostgreSQL test. */
static int sqlite_nparams[1024];

TEST(every_statement_prepares_on_sqlite)
{
    CHECK(store_sql_all_count <= sizeof sqlite_nparams / sizeof sqlite_nparams[0]);
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (int i = 0; i < store__sqlite_nmigrations; i++) {
        char *err = NULL;
        int rc = sqlite3_exec(db, store__sqlite_migrations[i].sql, NULL, NULL, &err);
        if (rc != SQLITE_OK)
            fprintf(stderr, "migration %d: %s\n", store__sqlite_migrations[i].version, err);
        CHECK_INT(rc, SQLITE_OK);
        sqlite3_free(err);
    }
    int derived = 0;
    for (size_t i = 0; i < store_sql_all_count; i++) {
        const char *name = store_sql_all[i].name;
        const struct store_sql *s = store_sql_all[i].sql;
        sqlite_nparams[i] = -1;
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(db, s->sqlite, -1, &st, &tail);
        if (rc != SQLITE_OK || st == NULL) {
            fprintf(stderr, "FAIL %s: %s: %s\n", test_cur_name, name, sqlite3_errmsg(db));
            test_cur_failed = 1;
            continue;
        }
        while (tail && isspace((unsigned char)*tail))
            tail++;
        CHECK(tail == NULL || *tail == '\0'); /* one statement per text */
        sqlite_nparams[i] = sqlite3_bind_parameter_count(st);
        /* numbered parameters only, 1..n without gaps: the PostgreSQL text numbers them alike */
        for (int p = 1; p <= sqlite_nparams[i]; p++) {
            const char *pn = sqlite3_bind_parameter_name(st, p);
            char want[16];
            snprintf(want, sizeof want, "?%d", p);
            if (pn == NULL || strcmp(pn, want) != 0) {
                fprintf(stderr, "FAIL %s: %s: parameter %d is %s\n", test_cur_name, name, p,
                        pn ? pn : "anonymous or unused");
                test_cur_failed = 1;
            }
        }
        sqlite3_finalize(st);
        if (s->pg == NULL) {
            derived++;
            CHECK(s->derived != NULL);
            if (store_sql_pg_text(s) == NULL) {
                fprintf(stderr, "FAIL %s: %s has no PostgreSQL text\n", test_cur_name, name);
                test_cur_failed = 1;
            }
        }
    }
    CHECK(derived > (int)store_sql_all_count / 2);
    printf("%zu statements, %d written once, %zu with two texts\n", store_sql_all_count, derived,
           store_sql_all_count - (size_t)derived);
    sqlite3_close(db);
}

/* 100,000 events in 2,000 conversations of one app, 300 users each in about 13 of them. */
static const char SYNC_FIXTURE[] =
    "INSERT INTO apps (id, name, key, created_at, updated_at) VALUES ('a', 'a', 'k', 0, 0);"
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 299)"
    " INSERT INTO users (app_id, id, name, created_at, updated_at) SELECT 'a', 'u' || i, '', 0, 0"
    " FROM n;"
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)"
    " INSERT INTO conversations (id, app_id, type, created_at, updated_at, last_activity_at)"
    " SELECT 'c' || i, 'a', 'group', 0, 0, 0 FROM n;"
    "INSERT INTO conversation_members (conversation_id, app_id, user_id, joined_at, joined_cursor)"
    " SELECT id, 'a', 'u' || (CAST(substr(id, 2) AS INTEGER) % 300), 0, 0 FROM conversations;"
    "INSERT INTO conversation_members (conversation_id, app_id, user_id, joined_at, joined_cursor)"
    " SELECT id, 'a', 'u' || ((CAST(substr(id, 2) AS INTEGER) + 1) % 300), 0, 0 FROM"
    " conversations;"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
    " INSERT INTO events (cursor, app_id, conversation_id, kind, message_id, seq, created_at)"
    " SELECT i, 'a', 'c' || (i % 2000), 'message.new', 'm' || i, i, i FROM n;";

/* A database in memory with every migration and then fixture applied: where the plan tests
 * ask SQLite how it would run a statement. */
static sqlite3 *plan_db(const char *fixture)
{
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (int i = 0; i < store__sqlite_nmigrations; i++)
        CHECK_INT(sqlite3_exec(db, store__sqlite_migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, fixture, NULL, NULL, NULL), SQLITE_OK);
    return db;
}

/* Each line of EXPLAIN QUERY PLAN for sql's SQLite text goes to bad(line, arg), which says
 * whether the line is wrong; a wrong line fails the test, naming statement k. */
static void plan_each(sqlite3 *db, const struct store_sql *sql, size_t k,
                      bool (*bad)(const char *line, void *arg), void *arg)
{
    char q[8192];
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql->sqlite);
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        if (d != NULL && bad(d, arg)) {
            fprintf(stderr, "FAIL %s: statement %zu: %s\n", test_cur_name, k, d);
            test_cur_failed = 1;
        }
    }
    sqlite3_finalize(st);
}

struct sync_plan {
    bool per_user;  /* reads the user's events: through events_conversation */
    bool via_index; /* out: a line read events_conversation */
};

static bool sync_line_bad(const char *d, void *arg)
{
    struct sync_plan *p = arg;
    p->via_index = p->via_index || strstr(d, "USING INDEX events_conversation") != NULL;
    /* a scan of a subquery's rows (the page's conversation ids) is no table scan */
    bool scan = strncmp(d, "SCAN ", 5) == 0 && strcmp(d, "SCAN CONSTANT ROW") != 0 &&
                strcmp(d, "SCAN s") != 0;
    bool log_range = p->per_user && strstr(d, "(rowid>?)") != NULL;
    /* every conversation of the app for each sync: a reconnect storm goes quadratic
     * (events_pruned holds one row per app: that search is a lookup) */
    bool app_wide =
        p->per_user && strstr(d, "(app_id=?)") != NULL && strstr(d, "events_pruned") == NULL;
    return scan || log_range || app_wide;
}

/* Sync's statements read a user's events through the index by conversation and cursor, never
 * by a range of the whole log after the cursor nor through every conversation of the app, and
 * no statement of sync or pruning scans a table (docs/chat.md, "Sync"): EXPLAIN QUERY PLAN
 * with 100,000 events, without ANALYZE (a server never runs it, so its planner has no
 * statistics either). */
TEST(sync_reads_events_through_indexes_on_sqlite)
{
    sqlite3 *db = plan_db(SYNC_FIXTURE);
    const struct {
        const struct store_sql *sql;
        bool per_user;
    } checked[] = {
        {&SQL_EVENTS_SYNC, true},
        {&SQL_CONVERSATIONS_SYNCED, true},
        {&SQL_CONVERSATION_MEMBERS_SYNCED, true},
        {&SQL_EVENTS_HELD, true},
        {&SQL_EVENTS_PRUNED_NOTE, false},
        {&SQL_MESSAGES_PRUNE, false},
        {&SQL_EVENTS_PRUNE, false},
    };
    for (size_t k = 0; k < sizeof(checked) / sizeof(checked[0]); k++) {
        struct sync_plan p = {.per_user = checked[k].per_user};
        plan_each(db, checked[k].sql, k, sync_line_bad, &p);
        CHECK(p.via_index == checked[k].per_user);
    }
    sqlite3_close(db);
}

/* 100,000 text messages of one conversation, all indexed but the newest ten, which are listed. */
static const char SEARCH_FIXTURE[] =
    "INSERT INTO apps (id, name, key, created_at, updated_at) VALUES ('a', 'a', 'k', 0, 0);"
    "INSERT INTO users (app_id, id, name, created_at, updated_at) VALUES ('a', 'u', '', 0, 0);"
    "INSERT INTO conversations (id, app_id, type, created_at, updated_at, last_activity_at)"
    " VALUES ('c', 'a', 'group', 0, 0, 0);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
    " INSERT INTO messages (id, app_id, conversation_id, seq, sender_id, type, content,"
    " created_at) SELECT printf('m%08d', i), 'a', 'c', i, 'u', 'text', '{}', i FROM n;"
    "INSERT INTO message_search_pending (message_id) SELECT id FROM messages;"
    "DELETE FROM message_search_pending WHERE message_id < 'm00099991';"
    "UPDATE message_search_pending SET terms = 'x';";

/* messages (alias m) read other than by one id */
static bool messages_not_by_id(const char *d, void *arg)
{
    (void)arg;
    bool messages = strncmp(d, "SEARCH m ", 9) == 0 || strcmp(d, "SCAN m") == 0;
    return messages && strstr(d, "(id=?)") == NULL;
}

/* The search indexer's batch reads the listed messages and looks each one up: never a range of
 * every message older than the batch, which made each batch cost as much as the whole
 * history (docs/chat.md, "Search"). */
TEST(search_batch_reads_only_listed_messages_on_sqlite)
{
    sqlite3 *db = plan_db(SEARCH_FIXTURE);
    const struct store_sql *checked[] = {&SQL_MESSAGE_SEARCH_MOVE, &SQL_MESSAGE_SEARCH_MOVED};
    for (size_t k = 0; k < sizeof(checked) / sizeof(checked[0]); k++)
        plan_each(db, checked[k], k, messages_not_by_id, NULL);
    /* and the batch indexes exactly the ten listed */
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, SQL_MESSAGE_SEARCH_MOVE.sqlite, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int(st, 1, 250);
    CHECK_INT(sqlite3_step(st), SQLITE_DONE);
    CHECK_INT(sqlite3_changes(db), 10);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* a table scanned other than through the rooms' index; *arg set when a line uses that index */
static bool rooms_line_bad(const char *d, void *arg)
{
    bool rooms = strstr(d, "conversations_rooms_activity") != NULL;
    *(bool *)arg = *(bool *)arg || rooms;
    return strncmp(d, "SCAN ", 5) == 0 && !rooms;
}

/* The room list reads the index that holds rooms only (migration 020): a send into a direct
 * or group conversation moves no entry of it, and listing rooms still scans no table. */
TEST(rooms_list_reads_the_rooms_index_on_sqlite)
{
    sqlite3 *db = plan_db(SYNC_FIXTURE);
    const struct store_sql *checked[] = {&SQL_CONVERSATIONS_ROOMS_COUNT,
                                         &SQL_CONVERSATIONS_ROOMS_PAGE};
    for (size_t k = 0; k < sizeof(checked) / sizeof(checked[0]); k++) {
        bool via_index = false;
        plan_each(db, checked[k], k, rooms_line_bad, &via_index);
        CHECK(via_index);
    }
    sqlite3_close(db);
}

/* A fresh database on the test server, migrated by the store; its URL in url. */
static int pg_fresh_migrated(const char *base, char *url, size_t urllen)
{
    char name[48], cmd[800];
    snprintf(name, sizeof name, "sqlunit_%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "psql '%s' -qc 'CREATE DATABASE %s' >/dev/null", base, name);
    const char *slash = strrchr(base, '/');
    if (slash == NULL || strchr(base, '\'') || system(cmd) != 0)
        return -1;
    snprintf(url, urllen, "%.*s/%s", (int)(slash - base), base, name);
    struct store *st = NULL;
    char err[256];
    if (store_open(url, STORE_DURABILITY_NORMAL, &st, err, sizeof err) != 0) {
        fprintf(stderr, "open: %s\n", err);
        return -1;
    }
    int rc = store_migrate(st, 0, NULL, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "migrate: %s\n", err);
    store_close(st);
    return rc;
}

TEST(every_statement_prepares_on_postgresql)
{
    const char *base = getenv("HERALD_TEST_PG_URL");
    char url[600];
    CHECK_INT(pg_fresh_migrated(base, url, sizeof url), 0);
    PGconn *c = PQconnectdb(url);
    CHECK(PQstatus(c) == CONNECTION_OK);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return;
    }
    for (size_t i = 0; i < store_sql_all_count; i++) {
        const char *name = store_sql_all[i].name;
        const char *text = store_sql_pg_text(store_sql_all[i].sql);
        if (text == NULL) {
            fprintf(stderr, "FAIL %s: %s has no PostgreSQL text\n", test_cur_name, name);
            test_cur_failed = 1;
            continue;
        }
        char sname[32];
        snprintf(sname, sizeof sname, "s%zu", i);
        /* no parameter types: the statement must let PostgreSQL infer each one */
        PGresult *r = PQprepare(c, sname, text, 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "FAIL %s: %s: %s", test_cur_name, name, PQresultErrorMessage(r));
            test_cur_failed = 1;
            PQclear(r);
            continue;
        }
        PQclear(r);
        r = PQdescribePrepared(c, sname);
        if (PQresultStatus(r) == PGRES_COMMAND_OK && PQnparams(r) != sqlite_nparams[i]) {
            fprintf(stderr, "FAIL %s: %s: %d parameters on PostgreSQL, %d on SQLite\n",
                    test_cur_name, name, PQnparams(r), sqlite_nparams[i]);
            test_cur_failed = 1;
        }
        CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(r);
    }
    PQfinish(c);
}

int main(void)
{
    RUN(derive_parameters);
    RUN(derive_leaves_literals_identifiers_and_comments);
    RUN(derive_refuses_what_it_cannot_map);
    RUN(pg_text_explicit_derived_cached);
    RUN(pg_text_concurrent_first_use);
    RUN(list_is_complete);
    RUN(every_statement_prepares_on_sqlite);
    RUN(sync_reads_events_through_indexes_on_sqlite);
    RUN(search_batch_reads_only_listed_messages_on_sqlite);
    RUN(rooms_list_reads_the_rooms_index_on_sqlite);
    if (getenv("HERALD_TEST_PG_URL") != NULL)
        RUN(every_statement_prepares_on_postgresql);
    else
        printf("HERALD_TEST_PG_URL not set: PostgreSQL case skipped (make test-pg runs it)\n");
    return test_summary();
}
