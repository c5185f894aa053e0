/*
 * The PostgreSQL backend of the store (ADR 0007), on libpq. The same shape
 * as the SQLite backend: one writer thread owns one connection and commits
 * queued writes in groups (every op inside its own SAVEPOINT, because a
 * failed statement aborts a PostgreSQL transaction; the callbacks run after
 * COMMIT), and N reader threads each own a read-only connection. Statements
 * are prepared once per connection, keyed by their text. Parameters travel
 * as text (integers typed int8, blobs as binary bytea); results are typed by
 * column OID. A lost connection is reset and the op fails with ERR_AGAIN.
 */
#include "internal.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"

/* type OIDs (pg_type.h is not part of libpq-dev's public headers) */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

#define PG_STMT_CACHE_MAX 1024 /* prepared statements per connection; then unprepared */

struct pstmt {
    uint64_t hash;
    char *sql;
    char name[24];
};

struct pconn {
    PGconn *c;
    bool writer;
    struct pstmt *stmts;
    int nstmts, cap;
    unsigned next_id;
    struct store__result_build rb;
};

struct popq {
    struct store_op *head, *tail;
    size_t len;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closing;
};

struct pg {
    struct store *st;
    char *url;
    struct popq wq, rq;
    pthread_t writer;
    pthread_t *readers;
    int nreaders, started_readers;
    bool writer_started;
    struct pconn wconn;
    struct pconn *rconns;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- connections */

static void pconn_close(struct pconn *c)
{
    for (int i = 0; i < c->nstmts; i++)
        free(c->stmts[i].sql);
    free(c->stmts);
    c->stmts = NULL;
    c->nstmts = c->cap = 0;
    if (c->c)
        PQfinish(c->c);
    c->c = NULL;
    store__rb_release(&c->rb);
}

/* Runs a command without results; 0 or ERR_BACKEND (message in err when given). */
static int pexec(struct pconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c->c, sql);
    int st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : ERR_BACKEND;
    if (rc != 0 && err)
        snprintf(err, errlen, "store: %s", PQerrorMessage(c->c));
    PQclear(r);
    return rc;
}

static int session_setup(struct pconn *c, const struct store_options *o, char *err, size_t errlen)
{
    /* SPEC §4a: both modes commit with a WAL flush; see ADR 0007 for why normal is not 'off' */
    (void)o;
    if (pexec(c, "SET synchronous_commit = on", err, errlen) != 0 ||
        pexec(c, "SET client_min_messages = warning", err, errlen) != 0)
        return ERR_BACKEND;
    if (!c->writer && pexec(c, "SET default_transaction_read_only = on", err, errlen) != 0)
        return ERR_BACKEND;
    char t[64];
    snprintf(t, sizeof(t), "SET lock_timeout = %d", o->busy_timeout_ms);
    return pexec(c, t, err, errlen);
}

static int pconn_open(struct pconn *c, const char *url, bool writer, const struct store_options *o,
                      char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->writer = writer;
    store__rb_init(&c->rb);
    c->c = PQconnectdb(url);
    if (PQstatus(c->c) != CONNECTION_OK) {
        /* libpq's messages name host and port, never the password */
        snprintf(err, errlen, "HERALD_DATABASE_URL: cannot connect to PostgreSQL: %s",
                 PQerrorMessage(c->c));
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        return ERR_UNAVAIL;
    }
    return session_setup(c, o, err, errlen);
}

/* After a connection failure: reset it (prepared statements are gone with it). */
static void pconn_reset(struct pconn *c, const struct store_options *o)
{
    for (int i = 0; i < c->nstmts; i++)
        free(c->stmts[i].sql);
    c->nstmts = 0;
    PQreset(c->c);
    char err[256];
    if (PQstatus(c->c) != CONNECTION_OK || session_setup(c, o, err, sizeof(err)) != 0)
        log_warn("store", "PostgreSQL connection lost; reconnecting on the next op");
    else
        log_info("store", "PostgreSQL connection re-established");
}

static int map_error(struct pconn *c, PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c->c) != CONNECTION_OK)
        return ERR_AGAIN;
    if (state == NULL)
        return log_fail(ERR_BACKEND, "store", "PostgreSQL: %s", PQerrorMessage(c->c));
    if (strcmp(state, "23505") == 0)
        return ERR_EXISTS;
    if (strcmp(state, "23503") == 0)
        return ERR_NOTFOUND;
    if (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0 || strncmp(state, "22", 2) == 0)
        return ERR_INVAL;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
        strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0)
        return ERR_AGAIN;
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    return log_fail(ERR_BACKEND, "store", "PostgreSQL error %s: %s", state, msg ? msg : "");
}

/* The prepared statement of sql on c (preparing it on first use); NULL: run unprepared. */
static const char *stmt_name(struct pconn *c, const char *sql, int nparams, const Oid *types,
                             int *status)
{
    uint64_t h = fnv1a(sql);
    for (int i = 0; i < c->nstmts; i++)
        if (c->stmts[i].hash == h && strcmp(c->stmts[i].sql, sql) == 0)
            return c->stmts[i].name;
    if (c->nstmts >= PG_STMT_CACHE_MAX)
        return NULL;
    if (c->nstmts == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 32;
        c->stmts = xrealloc(c->stmts, (size_t)c->cap * sizeof(*c->stmts));
    }
    struct pstmt *p = &c->stmts[c->nstmts];
    snprintf(p->name, sizeof(p->name), "h%u", c->next_id++);
    PGresult *r = PQprepare(c->c, p->name, sql, nparams, types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        *status = map_error(c, r);
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    p->hash = h;
    p->sql = xstrdup(sql);
    c->nstmts++;
    return p->name;
}

/* ---- running statements */

static void collect(struct pconn *c, PGresult *r)
{
    int nrows = PQntuples(r), ncols = PQnfields(r);
    store__rb_step(&c->rb, ncols);
    for (int i = 0; i < ncols; i++)
        store__rb_col(&c->rb, i, PQfname(r, i));
    for (int row = 0; row < nrows; row++) {
        store__rb_row(&c->rb);
        for (int col = 0; col < ncols; col++) {
            if (PQgetisnull(r, row, col)) {
                store__rb_null(&c->rb, col);
                continue;
            }
            const char *v = PQgetvalue(r, row, col);
            switch (PQftype(r, col)) {
            case OID_INT2:
            case OID_INT4:
            case OID_INT8:
            case OID_OID:
                store__rb_int(&c->rb, col, strtoll(v, NULL, 10));
                break;
            case OID_BOOL:
                store__rb_int(&c->rb, col, v[0] == 't');
                break;
            case OID_FLOAT4:
            case OID_FLOAT8:
            case OID_NUMERIC:
                store__rb_real(&c->rb, col, strtod(v, NULL));
                break;
            case OID_BYTEA: {
                size_t n = 0;
                unsigned char *b = PQunescapeBytea((const unsigned char *)v, &n);
                store__rb_bytes(&c->rb, col, STORE_BLOB, b ? b : (const unsigned char *)"",
                                b ? n : 0);
                PQfreemem(b);
                break;
            }
            default:
                store__rb_bytes(&c->rb, col, STORE_TEXT, v, (size_t)PQgetlength(r, row, col));
                break;
            }
        }
    }
}

#define PG_INLINE_PARAMS 16

static int run_step(struct pconn *c, const struct store_op *op, const struct store_step *step)
{
    const char *sql = store__step_sql(op, step, STORE_KIND_PG);
    if (sql == NULL)
        return log_fail(ERR_BACKEND, "store", "statement has no PostgreSQL text");
    int n = (int)step->nparams;
    const char *vals_s[PG_INLINE_PARAMS];
    int lens_s[PG_INLINE_PARAMS], fmts_s[PG_INLINE_PARAMS];
    Oid types_s[PG_INLINE_PARAMS];
    char nums_s[PG_INLINE_PARAMS][32];
    const char **vals = vals_s;
    int *lens = lens_s, *fmts = fmts_s;
    Oid *types = types_s;
    char(*nums)[32] = nums_s;
    if (n > PG_INLINE_PARAMS) {
        vals = xcalloc((size_t)n, sizeof(*vals));
        lens = xcalloc((size_t)n, sizeof(*lens));
        fmts = xcalloc((size_t)n, sizeof(*fmts));
        types = xcalloc((size_t)n, sizeof(*types));
        nums = xcalloc((size_t)n, sizeof(*nums));
    }
    for (int i = 0; i < n; i++) {
        const struct store_param *p = &op->params[step->first + (unsigned)i];
        fmts[i] = 0;
        lens[i] = 0;
        types[i] = 0;
        switch (p->type) {
        case STORE_NULL:
            vals[i] = NULL;
            break;
        case STORE_INT:
            snprintf(nums[i], sizeof(nums[i]), "%" PRId64, p->v.i);
            vals[i] = nums[i];
            types[i] = OID_INT8;
            break;
        case STORE_REAL:
            snprintf(nums[i], sizeof(nums[i]), "%.17g", p->v.r);
            vals[i] = nums[i];
            types[i] = OID_FLOAT8;
            break;
        case STORE_TEXT:
            vals[i] = store__param_bytes(op, p);
            break;
        case STORE_BLOB:
            vals[i] = store__param_bytes(op, p);
            lens[i] = (int)p->len;
            fmts[i] = 1;
            types[i] = OID_BYTEA;
            break;
        }
    }
    int status = 0;
    const char *name = stmt_name(c, sql, n, types, &status);
    PGresult *r = NULL;
    if (status == 0) {
        r = name ? PQexecPrepared(c->c, name, n, vals, lens, fmts, 0)
                 : PQexecParams(c->c, sql, n, types, vals, lens, fmts, 0);
        int st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            status = map_error(c, r);
        } else {
            collect(c, r);
            const char *ct = PQcmdTuples(r);
            bool is_select = strncmp(PQcmdStatus(r), "SELECT", 6) == 0;
            int64_t changes = is_select || ct[0] == '\0' ? 0 : strtoll(ct, NULL, 10);
            store__rb_counts(&c->rb, changes, 0);
            if ((step->flags & STORE_STEP_REQUIRE_ROW) && (is_select ? PQntuples(r) : changes) == 0)
                status = ERR_NOTFOUND;
        }
    }
    PQclear(r);
    if (n > PG_INLINE_PARAMS) {
        free(vals);
        free(lens);
        free(fmts);
        free(types);
        free(nums);
    }
    return status;
}

static int run_steps(struct pconn *c, const struct store_op *op)
{
    for (unsigned i = 0; i < op->nsteps; i++) {
        int status = run_step(c, op, &op->steps[i]);
        if (status < 0)
            return status;
    }
    return 0;
}

/* ---- queues */

static void popq_init(struct popq *q)
{
    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
}

static int pg_submit(struct store *st, struct store_op *op, bool write)
{
    struct pg *g = st->impl;
    struct popq *q = write ? &g->wq : &g->rq;
    int rc = 0;
    op->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->closing) {
        rc = ERR_UNAVAIL;
    } else if (q->len >= (size_t)st->opts.max_queue) {
        rc = ERR_AGAIN;
    } else {
        if (q->tail)
            q->tail->next = op;
        else
            q->head = op;
        q->tail = op;
        q->len++;
        atomic_store_explicit(write ? &st->stats.write_queue : &st->stats.read_queue, q->len,
                              memory_order_relaxed);
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    if (rc < 0)
        store_op_free(op);
    return rc;
}

/* Takes up to max ops (an fn op only alone, first). 0: closing and drained. */
static int take(struct popq *q, struct store_op **out, int max, struct store_counters *stats,
                bool write)
{
    pthread_mutex_lock(&q->mu);
    while (q->head == NULL && !q->closing)
        pthread_cond_wait(&q->cv, &q->mu);
    int n = 0;
    while (q->head && n < max) {
        struct store_op *op = q->head;
        if (op->kind == STORE_OP_FN && n > 0)
            break;
        q->head = op->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->len--;
        op->next = NULL;
        out[n++] = op;
        if (op->kind == STORE_OP_FN)
            break;
    }
    atomic_store_explicit(write ? &stats->write_queue : &stats->read_queue, q->len,
                          memory_order_relaxed);
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* ---- the writer: group commit */

struct pslot {
    struct store_op *op;
    int status;
    struct store_result *res;
};

static void writer_group(struct pg *g, struct pslot *sl, int n)
{
    struct pconn *c = &g->wconn;
    struct store_counters *stats = &g->st->stats;
    if (PQstatus(c->c) != CONNECTION_OK)
        pconn_reset(c, &g->st->opts);
    int rc = pexec(c, "BEGIN", NULL, 0);
    for (int i = 0; i < n; i++) {
        sl[i].res = NULL;
        if (rc != 0) {
            sl[i].status = PQstatus(c->c) != CONNECTION_OK ? ERR_AGAIN : ERR_BACKEND;
            continue;
        }
        if (pexec(c, "SAVEPOINT op", NULL, 0) != 0) {
            rc = ERR_BACKEND;
            sl[i].status = PQstatus(c->c) != CONNECTION_OK ? ERR_AGAIN : ERR_BACKEND;
            continue;
        }
        sl[i].status = run_steps(c, sl[i].op);
        if (sl[i].status == 0) {
            sl[i].res = store__rb_finish(&c->rb);
            if (pexec(c, "RELEASE SAVEPOINT op", NULL, 0) != 0)
                rc = ERR_BACKEND;
        } else {
            store__rb_reset(&c->rb);
            if (pexec(c, "ROLLBACK TO SAVEPOINT op", NULL, 0) != 0 ||
                pexec(c, "RELEASE SAVEPOINT op", NULL, 0) != 0)
                rc = ERR_BACKEND;
        }
    }
    if (rc == 0 && pexec(c, "COMMIT", NULL, 0) == 0) {
        atomic_fetch_add_explicit(&stats->commits, 1, memory_order_relaxed);
        uint64_t largest = atomic_load_explicit(&stats->largest_group, memory_order_relaxed);
        if ((uint64_t)n > largest)
            atomic_store_explicit(&stats->largest_group, (uint64_t)n, memory_order_relaxed);
    } else {
        /* nothing of this group is kept: every op fails */
        if (PQstatus(c->c) == CONNECTION_OK)
            pexec(c, "ROLLBACK", NULL, 0);
        else
            pconn_reset(c, &g->st->opts);
        atomic_fetch_add_explicit(&stats->rollbacks, 1, memory_order_relaxed);
        log_warn("store", "a group of %d writes could not commit", n);
        for (int i = 0; i < n; i++) {
            store_result_free(sl[i].res);
            sl[i].res = NULL;
            if (sl[i].status == 0)
                sl[i].status = ERR_AGAIN;
        }
    }
    for (int i = 0; i < n; i++) {
        atomic_fetch_add_explicit(sl[i].status == 0 ? &stats->writes : &stats->write_errors, 1,
                                  memory_order_relaxed);
        store__op_complete(sl[i].op, sl[i].status, sl[i].res);
    }
}

static void *writer_main(void *arg)
{
    struct pg *g = arg;
    int max = g->st->opts.group_max_ops;
    struct store_op **ops = xcalloc((size_t)max, sizeof(*ops));
    struct pslot *sl = xcalloc((size_t)max, sizeof(*sl));
    for (;;) {
        int n = take(&g->wq, ops, max, &g->st->stats, true);
        if (n == 0)
            break;
        if (ops[0]->kind == STORE_OP_FN) {
            int status = ops[0]->fn(&g->wconn, ops[0]->fn_arg);
            store__op_complete(ops[0], status, NULL);
            continue;
        }
        for (int i = 0; i < n; i++)
            sl[i].op = ops[i];
        writer_group(g, sl, n);
    }
    free(ops);
    free(sl);
    return NULL;
}

/* ---- readers */

struct reader_arg {
    struct pg *g;
    struct pconn *c;
};

static int run_read_op(struct pg *g, struct pconn *c, struct store_op *op,
                       struct store_result **res)
{
    *res = NULL;
    if (PQstatus(c->c) != CONNECTION_OK)
        pconn_reset(c, &g->st->opts);
    bool multi = op->nsteps > 1;
    if (multi && pexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, 0) != 0)
        return PQstatus(c->c) != CONNECTION_OK ? ERR_AGAIN : ERR_BACKEND;
    int status = run_steps(c, op);
    if (multi)
        pexec(c, status == 0 ? "COMMIT" : "ROLLBACK", NULL, 0);
    if (status == 0)
        *res = store__rb_finish(&c->rb);
    else
        store__rb_reset(&c->rb);
    return status;
}

static void *reader_main(void *arg)
{
    struct pg *g = ((struct reader_arg *)arg)->g;
    struct pconn *c = ((struct reader_arg *)arg)->c;
    free(arg);
    struct store_counters *stats = &g->st->stats;
    for (;;) {
        struct store_op *op = NULL;
        if (take(&g->rq, &op, 1, stats, false) == 0)
            break;
        struct store_result *res = NULL;
        int status = op->kind == STORE_OP_SQL ? run_read_op(g, c, op, &res)
                                              : log_fail(ERR_BACKEND, "store", "fn op on a reader");
        atomic_fetch_add_explicit(status == 0 ? &stats->reads : &stats->read_errors, 1,
                                  memory_order_relaxed);
        store__op_complete(op, status, res);
    }
    return NULL;
}

/* ---- migrations (fn ops on the writer) */

struct migrate_arg {
    int target;
    int version;
    char *err;
    size_t errlen;
};

static int read_applied(struct pconn *c, struct migrate_arg *a)
{
    PGresult *r = PQexec(c->c, "SELECT version, name FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(a->err, a->errlen, "store: cannot read schema_migrations: %s",
                 PQerrorMessage(c->c));
        PQclear(r);
        return ERR_BACKEND;
    }
    int status = 0;
    a->version = 0;
    for (int i = 0; i < PQntuples(r) && status == 0; i++) {
        int v = atoi(PQgetvalue(r, i, 0));
        const char *name = PQgetvalue(r, i, 1);
        if (v > store__pg_nmigrations) {
            snprintf(a->err, a->errlen,
                     "store: the database has schema version %d but this binary knows only up to "
                     "%d; use a newer herald",
                     v, store__pg_nmigrations);
            status = ERR_INVAL;
        } else if (v != i + 1) {
            snprintf(a->err, a->errlen, "store: schema_migrations lacks version %d", i + 1);
            status = ERR_INVAL;
        } else if (strcmp(name, store__pg_migrations[v - 1].name) != 0) {
            snprintf(a->err, a->errlen,
                     "store: migration %d is '%s' in the database but '%s' in this binary", v, name,
                     store__pg_migrations[v - 1].name);
            status = ERR_INVAL;
        } else {
            a->version = v;
        }
    }
    PQclear(r);
    return status;
}

static int apply_one(struct pconn *c, const struct store_migration *m, struct migrate_arg *a)
{
    char sql[160];
    snprintf(sql, sizeof(sql),
             "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, '%s', "
             "%" PRId64 ")",
             m->version, m->name, clock_wall_ms());
    if (pexec(c, "BEGIN", a->err, a->errlen) != 0)
        return ERR_BACKEND;
    /* one migration at a time across nodes starting together */
    if (pexec(c, "LOCK TABLE schema_migrations IN EXCLUSIVE MODE", a->err, a->errlen) != 0 ||
        pexec(c, m->sql, a->err, a->errlen) != 0 || pexec(c, sql, a->err, a->errlen) != 0 ||
        pexec(c, "COMMIT", a->err, a->errlen) != 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", a->err);
        snprintf(a->err, a->errlen, "store: migration %03d_%s failed: %s", m->version, m->name,
                 msg);
        pexec(c, "ROLLBACK", NULL, 0);
        return ERR_BACKEND;
    }
    log_info("store", "applied migration %03d_%s", m->version, m->name);
    return 0;
}

static int migrate_fn(void *conn, void *arg)
{
    struct pconn *c = conn;
    struct migrate_arg *a = arg;
    int status = pexec(c,
                       "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                       " name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                       a->err, a->errlen);
    if (status == 0)
        status = read_applied(c, a);
    int target = a->target ? a->target : store__pg_nmigrations;
    for (int v = a->version + 1; status == 0 && v <= target; v++) {
        status = apply_one(c, &store__pg_migrations[v - 1], a);
        if (status == 0)
            a->version = v;
        else if (v > 1 && read_applied(c, a) == 0 && a->version >= v)
            status = 0; /* another node applied it meanwhile */
    }
    return status;
}

static int version_fn(void *conn, void *arg)
{
    struct pconn *c = conn;
    struct migrate_arg *a = arg;
    PGresult *r = PQexec(c->c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    a->version = 0;
    return exists ? read_applied(c, a) : 0;
}

static int pg_migrate(struct store *st, int target, int *version, char *err, size_t errlen)
{
    struct migrate_arg a = {.target = target, .err = err, .errlen = errlen};
    if (target < 0 || target > store__pg_nmigrations) {
        snprintf(err, errlen, "store: no migration %d (latest is %d)", target,
                 store__pg_nmigrations);
        return ERR_INVAL;
    }
    int rc = store__fn_wait(st, migrate_fn, &a);
    if (version)
        *version = a.version;
    return rc;
}

static int pg_schema_version(struct store *st, int *version)
{
    char err[256] = "";
    struct migrate_arg a = {.err = err, .errlen = sizeof(err)};
    int rc = store__fn_wait(st, version_fn, &a);
    if (rc != 0 && err[0])
        log_error("store", "%s", err);
    *version = a.version;
    return rc;
}

static int pg_migrations_latest(void)
{
    return store__pg_nmigrations;
}

/* ---- life cycle */

static void popq_close(struct popq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closing = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void pg_free(struct pg *g)
{
    pconn_close(&g->wconn);
    for (int i = 0; i < g->nreaders; i++)
        pconn_close(&g->rconns[i]);
    free(g->rconns);
    free(g->readers);
    pthread_mutex_destroy(&g->wq.mu);
    pthread_cond_destroy(&g->wq.cv);
    pthread_mutex_destroy(&g->rq.mu);
    pthread_cond_destroy(&g->rq.cv);
    free(g->url);
    free(g);
}

static void pg_close(struct store *st)
{
    struct pg *g = st->impl;
    popq_close(&g->wq);
    popq_close(&g->rq);
    if (g->writer_started)
        pthread_join(g->writer, NULL);
    for (int i = 0; i < g->started_readers; i++)
        pthread_join(g->readers[i], NULL);
    pg_free(g);
    st->impl = NULL;
}

static const struct store_backend pg_backend = {
    .name = "postgres",
    .submit = pg_submit,
    .migrate = pg_migrate,
    .migrations_latest = pg_migrations_latest,
    .schema_version = pg_schema_version,
    .close = pg_close,
};

int store__pg_open(struct store *st, const char *url, char *err, size_t errlen)
{
    struct pg *g = xcalloc(1, sizeof(*g));
    g->st = st;
    g->url = xstrdup(url);
    popq_init(&g->wq);
    popq_init(&g->rq);
    g->nreaders = st->opts.readers;
    g->rconns = xcalloc((size_t)g->nreaders, sizeof(*g->rconns));
    g->readers = xcalloc((size_t)g->nreaders, sizeof(*g->readers));
    int rc = pconn_open(&g->wconn, url, true, &st->opts, err, errlen);
    for (int i = 0; rc == 0 && i < g->nreaders; i++)
        rc = pconn_open(&g->rconns[i], url, false, &st->opts, err, errlen);
    if (rc != 0) {
        pg_free(g);
        return rc;
    }
    st->impl = g;
    st->be = &pg_backend;
    if (pthread_create(&g->writer, NULL, writer_main, g) != 0) {
        pg_free(g);
        st->impl = NULL;
        snprintf(err, errlen, "store: cannot start the writer thread");
        return ERR_BACKEND;
    }
    g->writer_started = true;
    for (int i = 0; i < g->nreaders; i++) {
        struct reader_arg *ra = xmalloc(sizeof(*ra));
        ra->g = g;
        ra->c = &g->rconns[i];
        if (pthread_create(&g->readers[i], NULL, reader_main, ra) != 0) {
            free(ra);
            pg_close(st);
            snprintf(err, errlen, "store: cannot start the reader threads");
            return ERR_BACKEND;
        }
        g->started_readers++;
    }
    return 0;
}
