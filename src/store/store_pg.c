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
    /* SPEC §4a: strict waits for the WAL flush (survives power loss); normal does not wait
     * for it, and PostgreSQL keeps the commit when Herald crashes (ADR 0007) */
    const char *sync = o->durability == STORE_DURABILITY_STRICT ? "SET synchronous_commit = on"
                                                                : "SET synchronous_commit = off";
    if (pexec(c, sync, err, errlen) != 0 ||
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

/* A statement's parameters in libpq's arrays (text, int8 and float8 as text, bytea binary). */
struct pparams {
    int n;
    const char **vals;
    int *lens, *fmts;
    Oid *types;
    char (*nums)[32];
};

static void params_build(struct pparams *pp, const struct store_op *op,
                         const struct store_step *step)
{
    int n = pp->n = (int)step->nparams;
    size_t k = n ? (size_t)n : 1;
    pp->vals = xcalloc(k, sizeof(*pp->vals));
    pp->lens = xcalloc(k, sizeof(*pp->lens));
    pp->fmts = xcalloc(k, sizeof(*pp->fmts));
    pp->types = xcalloc(k, sizeof(*pp->types));
    pp->nums = xcalloc(k, sizeof(*pp->nums));
    for (int i = 0; i < n; i++) {
        const struct store_param *p = &op->params[step->first + (unsigned)i];
        switch (p->type) {
        case STORE_NULL:
            break;
        case STORE_INT:
            snprintf(pp->nums[i], sizeof(pp->nums[i]), "%" PRId64, p->v.i);
            pp->vals[i] = pp->nums[i];
            pp->types[i] = OID_INT8;
            break;
        case STORE_REAL:
            snprintf(pp->nums[i], sizeof(pp->nums[i]), "%.17g", p->v.r);
            pp->vals[i] = pp->nums[i];
            pp->types[i] = OID_FLOAT8;
            break;
        case STORE_TEXT:
            pp->vals[i] = store__param_bytes(op, p);
            break;
        case STORE_BLOB:
            pp->vals[i] = store__param_bytes(op, p);
            pp->lens[i] = (int)p->len;
            pp->fmts[i] = 1;
            pp->types[i] = OID_BYTEA;
            break;
        }
    }
}

static void params_free(struct pparams *pp)
{
    free(pp->vals);
    free(pp->lens);
    free(pp->fmts);
    free(pp->types);
    free(pp->nums);
}

/* Turns a statement's result into the op's next step; 0 or a negative enum err. */
static int take_result(struct pconn *c, const struct store_step *step, PGresult *r)
{
    int st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return map_error(c, r);
    collect(c, r);
    const char *ct = PQcmdTuples(r);
    bool is_select = strncmp(PQcmdStatus(r), "SELECT", 6) == 0;
    int64_t changes = is_select || ct[0] == '\0' ? 0 : strtoll(ct, NULL, 10);
    store__rb_counts(&c->rb, changes, 0);
    if ((step->flags & STORE_STEP_REQUIRE_ROW) && (is_select ? PQntuples(r) : changes) == 0)
        return ERR_NOTFOUND;
    return 0;
}

static int run_step(struct pconn *c, const struct store_op *op, const struct store_step *step)
{
    const char *sql = store__step_sql(op, step, STORE_KIND_PG);
    if (sql == NULL)
        return log_fail(ERR_BACKEND, "store", "statement has no PostgreSQL text");
    struct pparams pp;
    params_build(&pp, op, step);
    int status = 0;
    const char *name = stmt_name(c, sql, pp.n, pp.types, &status);
    if (status == 0) {
        PGresult *r = name ? PQexecPrepared(c->c, name, pp.n, pp.vals, pp.lens, pp.fmts, 0)
                           : PQexecParams(c->c, sql, pp.n, pp.types, pp.vals, pp.lens, pp.fmts, 0);
        status = take_result(c, step, r);
        PQclear(r);
    }
    params_free(&pp);
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

/* Reads results up to the NULL that ends one command; returns the first, others cleared. */
static PGresult *next_result(struct pconn *c)
{
    PGresult *first = PQgetResult(c->c);
    if (first == NULL)
        return NULL;
    PGresult *more;
    while ((more = PQgetResult(c->c)) != NULL)
        PQclear(more);
    return first;
}

enum { ROUND_OK = 0, ROUND_OP_FAILED = 1, ROUND_BROKEN = 2 };

/*
 * One round trip for the whole group (libpq pipeline mode): BEGIN, every statement of the
 * ops in live[0..n), a sync; the transaction stays open. All went well: ROUND_OK, results in
 * the slots (COMMIT is the caller's). An op failed (an error, or a required row missing):
 * the transaction is rolled back, that op gets its status, ROUND_OP_FAILED; the caller
 * retries the others. ROUND_BROKEN: the connection failed.
 */
static int pipeline_round(struct pconn *c, struct pslot *sl, int *live, int n, int *failed)
{
    *failed = -1;
    for (int k = 0; k < n; k++) { /* prepare new statements first: not inside the pipeline */
        const struct store_op *op = sl[live[k]].op;
        for (unsigned i = 0; i < op->nsteps; i++) {
            const char *sql = store__step_sql(op, &op->steps[i], STORE_KIND_PG);
            int status = 0;
            if (sql == NULL) {
                sl[live[k]].status =
                    log_fail(ERR_BACKEND, "store", "statement has no PostgreSQL text");
                *failed = k;
                return ROUND_OP_FAILED;
            }
            struct pparams pp;
            params_build(&pp, op, &op->steps[i]);
            (void)stmt_name(c, sql, pp.n, pp.types, &status);
            params_free(&pp);
            if (status != 0) {
                sl[live[k]].status = status;
                *failed = k;
                return ROUND_OP_FAILED;
            }
        }
    }
    if (PQenterPipelineMode(c->c) != 1)
        return ROUND_BROKEN;
    bool ok = PQsendQueryParams(c->c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1;
    for (int k = 0; ok && k < n; k++) {
        const struct store_op *op = sl[live[k]].op;
        for (unsigned i = 0; ok && i < op->nsteps; i++) {
            const char *sql = store__step_sql(op, &op->steps[i], STORE_KIND_PG);
            struct pparams pp;
            params_build(&pp, op, &op->steps[i]);
            int status = 0;
            const char *name = stmt_name(c, sql, pp.n, pp.types, &status);
            ok = name ? PQsendQueryPrepared(c->c, name, pp.n, pp.vals, pp.lens, pp.fmts, 0) == 1
                      : PQsendQueryParams(c->c, sql, pp.n, pp.types, pp.vals, pp.lens, pp.fmts,
                                          0) == 1;
            params_free(&pp);
        }
    }
    ok = ok && PQpipelineSync(c->c) == 1;
    if (!ok) {
        PQexitPipelineMode(c->c);
        return ROUND_BROKEN;
    }
    PGresult *r = next_result(c); /* BEGIN */
    bool broken = r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK;
    PQclear(r);
    for (int k = 0; k < n; k++) {
        struct pslot *s = &sl[live[k]];
        const struct store_op *op = s->op;
        s->status = 0;
        for (unsigned i = 0; i < op->nsteps; i++) {
            r = next_result(c);
            if (r == NULL) {
                broken = true;
                continue;
            }
            if (s->status == 0 && *failed < 0 && !broken) {
                s->status = take_result(c, &op->steps[i], r);
                if (s->status != 0)
                    *failed = k;
            }
            PQclear(r);
        }
        if (s->status == 0 && *failed < 0 && !broken)
            s->res = store__rb_finish(&c->rb);
        else
            store__rb_reset(&c->rb);
    }
    r = PQgetResult(c->c); /* the sync */
    if (r == NULL || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
        broken = true;
    PQclear(r);
    if (PQexitPipelineMode(c->c) != 1)
        broken = true;
    if (broken && *failed < 0)
        return ROUND_BROKEN;
    if (*failed >= 0) {
        pexec(c, "ROLLBACK", NULL, 0);
        for (int k = 0; k < n; k++) {
            store_result_free(sl[live[k]].res);
            sl[live[k]].res = NULL;
        }
        return ROUND_OP_FAILED;
    }
    return ROUND_OK;
}

static void writer_group(struct pg *g, struct pslot *sl, int n)
{
    struct pconn *c = &g->wconn;
    struct store_counters *stats = &g->st->stats;
    if (PQstatus(c->c) != CONNECTION_OK)
        pconn_reset(c, &g->st->opts);
    int *live = xcalloc((size_t)n, sizeof(*live));
    int nlive = n;
    for (int i = 0; i < n; i++) {
        live[i] = i;
        sl[i].res = NULL;
        sl[i].status = 0;
    }
    /* each failed round decides one op; the others are sent again */
    int rc = ROUND_OP_FAILED;
    while (nlive > 0 && rc == ROUND_OP_FAILED) {
        int failed = -1;
        rc = pipeline_round(c, sl, live, nlive, &failed);
        if (rc == ROUND_OP_FAILED) {
            memmove(&live[failed], &live[failed + 1], (size_t)(nlive - failed - 1) * sizeof(*live));
            nlive--;
        }
    }
    if (nlive > 0 && rc == ROUND_OK && pexec(c, "COMMIT", NULL, 0) == 0) {
        atomic_fetch_add_explicit(&stats->commits, 1, memory_order_relaxed);
        uint64_t largest = atomic_load_explicit(&stats->largest_group, memory_order_relaxed);
        if ((uint64_t)nlive > largest)
            atomic_store_explicit(&stats->largest_group, (uint64_t)nlive, memory_order_relaxed);
    } else if (nlive > 0) {
        /* nothing of this group is kept: the undecided ops fail and may be retried */
        if (PQstatus(c->c) == CONNECTION_OK)
            pexec(c, "ROLLBACK", NULL, 0);
        else
            pconn_reset(c, &g->st->opts);
        atomic_fetch_add_explicit(&stats->rollbacks, 1, memory_order_relaxed);
        log_warn("store", "a group of %d writes could not commit", nlive);
        for (int k = 0; k < nlive; k++) {
            struct pslot *s = &sl[live[k]];
            store_result_free(s->res);
            s->res = NULL;
            s->status = ERR_AGAIN;
        }
    }
    free(live);
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
