/*
 * The PostgreSQL backend of the store (ADR 0007), on libpq. The same shape
 * as the SQLite backend: one writer thread owns one connection and commits
 * queued writes in groups, and N reader threads each own a read-only
 * connection. The writer sends a whole group in one libpq pipeline (BEGIN,
 * every statement, a sync), then COMMIT, and only then calls the callbacks; a
 * small group lingers group_wait_us for more, as on SQLite.
 * PostgreSQL aborts a transaction at its first error, so an op that fails
 * makes the writer roll back, fail that op alone, commit the ops before it
 * and go on with the ops after it (each op runs at most twice; no savepoints).
 * Statements are prepared once per connection, keyed by their text.
 * Parameters travel as text (integers typed int8, blobs as binary bytea);
 * results are typed by column OID. A lost connection is reset and what was in
 * flight is sent once more when nothing of it can have committed (reads; a
 * group lost before its COMMIT), and fails with ERR_AGAIN otherwise.
 * Migrations are in migrations_pg.c.
 */
#include "internal_pg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"

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
    struct store__pgconn wconn;
    struct store__pgconn *rconns;
};

/* ---- queues */

#define LINGER_BELOW                                                                               \
    64 /* a group smaller than this lingers when the previous one was not alone                    \
        */

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

/*
 * Takes up to max ops (an fn op only alone, first), waiting for one unless more is set;
 * with more, takes only SQL ops (the group being built goes on). 0: closing and drained,
 * or (more) nothing queued.
 */
static int take(struct popq *q, struct store_op **out, int max, struct store_counters *stats,
                bool write, bool more)
{
    pthread_mutex_lock(&q->mu);
    while (!more && q->head == NULL && !q->closing)
        pthread_cond_wait(&q->cv, &q->mu);
    int n = 0;
    while (q->head && n < max) {
        struct store_op *op = q->head;
        if (op->kind == STORE_OP_FN && (n > 0 || more))
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
static PGresult *next_result(struct store__pgconn *c)
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
 * Every write transaction of every node takes this lock first and holds it until it ends
 * (docs/chat.md, "Several nodes"). So the writes of all the nodes sharing a database commit
 * one after the other, in the order they took their event cursors (a sequence): a reader
 * sees a prefix of the cursors, and a sync page can never end on a cursor committed before
 * a smaller one. Taken before any row lock, it also leaves no cycle of row locks between two
 * nodes' groups. One node alone never waits on it.
 */
#define WRITE_ORDER_LOCK "SELECT pg_advisory_xact_lock(1213352004)" /* 0x48524c44, "HRLD" */

/*
 * One round trip for the whole group (libpq pipeline mode): BEGIN, every statement of the
 * ops in live[0..n), a sync; the transaction stays open. All went well: ROUND_OK, results in
 * the slots (COMMIT is the caller's). An op failed (an error, or a required row missing):
 * the transaction is rolled back, that op gets its status, ROUND_OP_FAILED; the caller
 * retries the others. ROUND_BROKEN: the connection failed.
 */
static int pipeline_round(struct store__pgconn *c, struct pslot *sl, int *live, int n, int *failed)
{
    *failed = -1;
    for (int k = 0; k < n; k++) { /* prepare new statements first: not inside the pipeline */
        const struct store_op *op = sl[live[k]].op;
        for (unsigned i = 0; i < op->nsteps; i++) {
            int status = 0;
            const char *sql = store__pg_step_sql(op, &op->steps[i], &status);
            if (sql == NULL) {
                sl[live[k]].status = status;
                *failed = k;
                return ROUND_OP_FAILED;
            }
            struct store__pg_params pp;
            store__pg_params_build(&pp, op, &op->steps[i]);
            (void)store__pgconn_stmt(c, sql, pp.n, pp.types, &status);
            store__pg_params_free(&pp);
            if (status != 0 && PQstatus(c->c) != CONNECTION_OK)
                return ROUND_BROKEN;
            if (status != 0) {
                sl[live[k]].status = status;
                *failed = k;
                return ROUND_OP_FAILED;
            }
        }
    }
    if (PQenterPipelineMode(c->c) != 1)
        return ROUND_BROKEN;
    bool ok = PQsendQueryParams(c->c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1 &&
              PQsendQueryParams(c->c, WRITE_ORDER_LOCK, 0, NULL, NULL, NULL, NULL, 0) == 1;
    for (int k = 0; ok && k < n; k++) {
        const struct store_op *op = sl[live[k]].op;
        for (unsigned i = 0; ok && i < op->nsteps; i++) {
            const char *sql = store__step_sql(op, &op->steps[i], STORE_KIND_PG);
            struct store__pg_params pp;
            store__pg_params_build(&pp, op, &op->steps[i]);
            int status = 0;
            const char *name = store__pgconn_stmt(c, sql, pp.n, pp.types, &status);
            ok = name ? PQsendQueryPrepared(c->c, name, pp.n, pp.vals, pp.lens, pp.fmts, 0) == 1
                      : PQsendQueryParams(c->c, sql, pp.n, pp.types, pp.vals, pp.lens, pp.fmts,
                                          0) == 1;
            store__pg_params_free(&pp);
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
    r = next_result(c); /* the write-order lock */
    broken = broken || r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK;
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
                s->status = store__pgconn_take_result(c, &op->steps[i], r);
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
        store__pgconn_exec(c, "ROLLBACK", NULL, 0);
        for (int k = 0; k < n; k++) {
            store_result_free(sl[live[k]].res);
            sl[live[k]].res = NULL;
        }
        return ROUND_OP_FAILED;
    }
    return ROUND_OK;
}

/* COMMIT; 0 only when PostgreSQL answers COMMIT (an aborted transaction answers ROLLBACK). */
static int pcommit(struct store__pgconn *c)
{
    PGresult *r = PQexec(c->c, "COMMIT");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0
                 ? 0
                 : ERR_AGAIN;
    if (rc != 0 && PQstatus(c->c) == CONNECTION_OK)
        log_warn("store", "PostgreSQL did not commit: %s %s", PQcmdStatus(r),
                 PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/*
 * Commits the ops of sl[0..n), as one transaction when none fails. An op that fails is
 * decided (its slot holds the error) and dropped; the round's transaction is gone with it,
 * so the ops before it, which ran without error, are sent again and committed on their own,
 * then the ops after it go on. Each op thus runs at most twice, whatever the number of
 * failures (re-sending everything but the failed op would be quadratic in a group full of
 * conflicts); a group costs two round trips, plus two per failing op.
 */
static void writer_group(struct pg *g, struct pslot *sl, int n)
{
    struct store__pgconn *c = &g->wconn;
    struct store_counters *stats = &g->st->stats;
    if (PQstatus(c->c) != CONNECTION_OK)
        store__pgconn_reset(c, &g->st->opts);
    int *live = xcalloc((size_t)n, sizeof(*live));
    int nlive = n;
    for (int i = 0; i < n; i++) {
        live[i] = i;
        sl[i].res = NULL;
        sl[i].status = 0;
    }
    int start = 0; /* live[0..start) are committed */
    int limit = n; /* ops the next round sends: after a failure, the good ones before it */
    int resets = 0;
    while (start < nlive) {
        int m = nlive - start < limit ? nlive - start : limit;
        int failed = -1;
        int rc = pipeline_round(c, sl, live + start, m, &failed);
        if (rc == ROUND_OP_FAILED) {
            int f = start + failed;
            memmove(&live[f], &live[f + 1], (size_t)(nlive - f - 1) * sizeof(*live));
            nlive--;
            limit = failed > 0 ? failed : n;
            continue;
        }
        if (rc == ROUND_OK && pcommit(c) == 0) {
            atomic_fetch_add_explicit(&stats->commits, 1, memory_order_relaxed);
            uint64_t largest = atomic_load_explicit(&stats->largest_group, memory_order_relaxed);
            if ((uint64_t)m > largest)
                atomic_store_explicit(&stats->largest_group, (uint64_t)m, memory_order_relaxed);
            start += m;
            limit = n;
            continue;
        }
        if (rc == ROUND_BROKEN && PQstatus(c->c) != CONNECTION_OK && resets++ == 0) {
            /* lost before COMMIT was sent, so nothing of the round is kept: send it again */
            store__pgconn_reset(c, &g->st->opts);
            for (int k = start; k < start + m; k++) {
                store_result_free(sl[live[k]].res);
                sl[live[k]].res = NULL;
            }
            continue;
        }
        /* the connection broke or the commit failed: the undecided ops fail, none is kept */
        if (PQstatus(c->c) == CONNECTION_OK)
            store__pgconn_exec(c, "ROLLBACK", NULL, 0);
        else
            store__pgconn_reset(c, &g->st->opts);
        atomic_fetch_add_explicit(&stats->rollbacks, 1, memory_order_relaxed);
        log_warn("store", "a group of %d writes could not commit", nlive - start);
        for (int k = start; k < nlive; k++) {
            struct pslot *s = &sl[live[k]];
            store_result_free(s->res);
            s->res = NULL;
            s->status = ERR_AGAIN;
        }
        break;
    }
    free(live);
    store__batch_begin();
    for (int i = 0; i < n; i++) {
        atomic_fetch_add_explicit(sl[i].status == 0 ? &stats->writes : &stats->write_errors, 1,
                                  memory_order_relaxed);
        store__op_complete(sl[i].op, sl[i].status, sl[i].res);
    }
    store__batch_end();
}

static void *writer_main(void *arg)
{
    struct pg *g = arg;
    int max = g->st->opts.group_max_ops;
    struct store_op **ops = xcalloc((size_t)max, sizeof(*ops));
    struct pslot *sl = xcalloc((size_t)max, sizeof(*sl));
    int wait_us = g->st->opts.group_wait_us, last = 0;
    for (;;) {
        int n = take(&g->wq, ops, max, &g->st->stats, true, false);
        if (n == 0)
            break;
        if (ops[0]->kind == STORE_OP_FN) {
            if (PQstatus(g->wconn.c) != CONNECTION_OK)
                store__pgconn_reset(&g->wconn, &g->st->opts);
            int status = ops[0]->fn(g->wconn.c, ops[0]->fn_arg);
            store__op_complete(ops[0], status, NULL);
            last = 0;
            continue;
        }
        /* linger (ADR 0005): writes arrive concurrently but sparsely; a lone caller never waits */
        if (wait_us > 0 && last > 1 && n < LINGER_BELOW && n < max) {
            usleep((useconds_t)wait_us);
            n += take(&g->wq, ops + n, max - n, &g->st->stats, true, true);
        }
        last = n;
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
    struct store__pgconn *c;
};

/* One attempt at a read op; rows in c->rb. */
static int read_once(struct store__pgconn *c, const struct store_op *op)
{
    bool multi = op->nsteps > 1;
    if (multi &&
        store__pgconn_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, 0) != 0)
        return PQstatus(c->c) != CONNECTION_OK
                   ? ERR_AGAIN
                   : log_fail(ERR_BACKEND, "store", "cannot begin a read: %s",
                              PQerrorMessage(c->c));
    int status = store__pgconn_run_steps(c, op);
    if (multi)
        store__pgconn_exec(c, status == 0 ? "COMMIT" : "ROLLBACK", NULL, 0);
    return status;
}

static int run_read_op(struct pg *g, struct store__pgconn *c, struct store_op *op,
                       struct store_result **res)
{
    *res = NULL;
    int status = ERR_AGAIN;
    /* a connection found broken is reset and the read tried once more (reads are idempotent) */
    for (int attempt = 0; attempt < 2 && status == ERR_AGAIN; attempt++) {
        if (attempt > 0 && PQstatus(c->c) == CONNECTION_OK)
            break; /* ERR_AGAIN from the server (a lock wait): the caller retries */
        if (PQstatus(c->c) != CONNECTION_OK)
            store__pgconn_reset(c, &g->st->opts);
        store__rb_reset(&c->rb);
        status = read_once(c, op);
    }
    if (status == 0)
        *res = store__rb_finish(&c->rb);
    else
        store__rb_reset(&c->rb);
    return status;
}

static void *reader_main(void *arg)
{
    struct pg *g = ((struct reader_arg *)arg)->g;
    struct store__pgconn *c = ((struct reader_arg *)arg)->c;
    free(arg);
    struct store_counters *stats = &g->st->stats;
    for (;;) {
        struct store_op *op = NULL;
        if (take(&g->rq, &op, 1, stats, false, false) == 0)
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
    store__pgconn_close(&g->wconn);
    for (int i = 0; i < g->nreaders; i++)
        store__pgconn_close(&g->rconns[i]);
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
    .migrate = store__pg_migrate,
    .migrations_latest = store__pg_migrations_latest,
    .schema_version = store__pg_schema_version,
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
    int rc = store__pgconn_open(&g->wconn, url, true, &st->opts, err, errlen);
    for (int i = 0; rc == 0 && i < g->nreaders; i++)
        rc = store__pgconn_open(&g->rconns[i], url, false, &st->opts, err, errlen);
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
