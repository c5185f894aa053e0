/*
 * The SQLite backend of the store (ADR 0005). One writer thread owns the only
 * read-write connection and commits queued writes in groups: it takes what is
 * queued (up to group_max_ops, and stops adding after group_max_us of
 * statement time), runs every op inside one BEGIN IMMEDIATE ... COMMIT (ops of
 * several statements each inside a SAVEPOINT, so a failing op is undone alone),
 * commits, and only then calls the callbacks. N reader threads each own a
 * query-only connection and run read ops one at a time; WAL lets them read
 * while the writer writes. Every connection caches its prepared statements in
 * a small LRU keyed by SQL text. Nothing here runs on an event loop: callers
 * only take a mutex to queue an op.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"

/* ---- connections and their statement caches ---- */

struct stmt_entry {
    uint64_t hash;
    uint64_t used; /* LRU tick */
    sqlite3_stmt *stmt;
};

enum ctl {
    CTL_BEGIN,
    CTL_BEGIN_IMMEDIATE,
    CTL_COMMIT,
    CTL_ROLLBACK,
    CTL_SAVEPOINT,
    CTL_RELEASE,
    CTL_ROLLBACK_TO,
    CTL_N
};

static const char *const ctl_sql[CTL_N] = {
    "BEGIN",        "BEGIN IMMEDIATE", "COMMIT",         "ROLLBACK",
    "SAVEPOINT op", "RELEASE op",      "ROLLBACK TO op",
};

struct conn {
    sqlite3 *db;
    bool writer;
    struct stmt_entry *cache;
    int ncache, cap_cache;
    uint64_t tick;
    sqlite3_stmt *ctl[CTL_N];
    struct store__result_build rb;
};

struct opq {
    struct store_op *head, *tail;
    size_t len;
    size_t nfn; /* fn ops queued (the writer takes them alone) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int waiting; /* threads sleeping on cv */
    bool closing;
};

/* An op of the current group and its outcome. */
struct slot {
    struct store_op *op;
    int status;
    struct store_result *res;
};

struct sq {
    struct store *st;
    struct opq wq, rq;
    struct opq bq; /* background reads (store_op_background): one reader of their own */
    pthread_t writer;
    pthread_t *readers;
    int nreaders;
    pthread_t breader;
    bool breader_started;
    struct conn wconn;
    struct conn *rconns;
    struct conn bconn;                   /* the background reader's (BACKGROUND_CACHE_KIB) */
    struct slot *slots;                  /* group_max_ops */
    struct store_op *carry, *carry_tail; /* taken but left for the next group */
    int last_group;                      /* ops in the previous group */
    /* background checkpoints (see wal_hook) */
    struct conn cconn;
    pthread_t checkpointer;
    bool checkpointer_started;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    pthread_cond_t ckpt_idle_cv; /* signalled when a background pass ends */
    bool ckpt_wanted, ckpt_running, ckpt_closing;
    atomic_int ckpt_done; /* WAL pages the last checkpoint copied (the WAL may be longer) */
    int ckpt_pages, ckpt_restart, ckpt_catchup, ckpt_hard;
};

/*
 * Checkpoints (copying the WAL into the database file, with fsyncs) never run
 * inside a reader's query and, normally, not on the writer either: the
 * checkpointer thread runs one each time checkpoint_pages more pages have been
 * appended. Under continuous writes a background checkpoint never lets the
 * WAL start over (frames keep arriving while it runs), so once the WAL passes
 * 8 x checkpoint_pages the checkpointer runs back to back, each pass copying
 * only what arrived during the previous one, and as soon as less than
 * CKPT_CATCHUP_PAGES is left the writer copies that rest itself after a
 * commit (a few ms); its next transaction starts the WAL over. Past
 * 32 x checkpoint_pages the writer does it whatever is left, bounding the WAL.
 */
#define CKPT_CATCHUP_PAGES 256

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/*
 * Maps a failed result code to an enum err; logs what is not an expected
 * outcome (report once: callers pass the code up).
 */
static int map_rc(struct conn *c, int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        log_debug("store", "constraint: %s", sqlite3_errmsg(c->db));
        return ERR_EXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        log_debug("store", "constraint: %s", sqlite3_errmsg(c->db));
        return ERR_NOTFOUND;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_DATATYPE:
        log_debug("store", "constraint: %s", sqlite3_errmsg(c->db));
        return ERR_INVAL;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        log_warn("store", "database is busy: %s", sqlite3_errmsg(c->db));
        return ERR_AGAIN;
    default:
        return log_fail(ERR_BACKEND, "store", "cannot run statement: %s (code %d)",
                        sqlite3_errmsg(c->db), rc);
    }
}

/* Runs a control statement (BEGIN, COMMIT...). Returns the SQLite result code. */
static int ctl_run(struct conn *c, enum ctl which)
{
    sqlite3_stmt *s = c->ctl[which];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * True for statements that would end or nest the store's own transactions
 * (an op that commits would leave the rest of its group outside the group).
 */
static bool is_txn_control(const char *sql)
{
    static const char *const words[] = {"BEGIN",    "COMMIT",    "END",
                                        "ROLLBACK", "SAVEPOINT", "RELEASE"};
    while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '\r')
        sql++;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i]);
        if (strncasecmp(sql, words[i], n) == 0 &&
            (sql[n] == '\0' || sql[n] == ' ' || sql[n] == ';' || sql[n] == '\n' || sql[n] == '\t' ||
             sql[n] == '\r'))
            return true;
    }
    return false;
}

/* The cached statement for sql, preparing it on a miss. NULL with *status set on failure. */
static sqlite3_stmt *stmt_get(struct conn *c, const char *sql, int *status)
{
    uint64_t h = fnv1a(sql);
    c->tick++;
    for (int i = 0; i < c->ncache; i++) {
        struct stmt_entry *e = &c->cache[i];
        if (e->hash == h && strcmp(sqlite3_sql(e->stmt), sql) == 0) {
            e->used = c->tick;
            return e->stmt;
        }
    }
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
        *status =
            log_fail(ERR_BACKEND, "store", "cannot prepare statement: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    while (tail &&
           (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';'))
        tail++;
    if (stmt == NULL || (tail && *tail)) {
        sqlite3_finalize(stmt);
        *status = log_fail(ERR_BACKEND, "store", "cannot prepare statement: %s",
                           stmt ? "more than one statement in one step" : "empty statement");
        return NULL;
    }
    if (is_txn_control(sql)) {
        sqlite3_finalize(stmt);
        *status = log_fail(ERR_BACKEND, "store",
                           "cannot prepare statement: transactions belong to the store");
        return NULL;
    }
    struct stmt_entry *slot;
    if (c->ncache < c->cap_cache) {
        slot = &c->cache[c->ncache++];
    } else {
        slot = &c->cache[0];
        for (int i = 1; i < c->ncache; i++)
            if (c->cache[i].used < slot->used)
                slot = &c->cache[i];
        sqlite3_finalize(slot->stmt);
    }
    slot->hash = h;
    slot->used = c->tick;
    slot->stmt = stmt;
    return stmt;
}

static void conn_close(struct conn *c)
{
    for (int i = 0; i < c->ncache; i++)
        sqlite3_finalize(c->cache[i].stmt);
    for (int i = 0; i < CTL_N; i++)
        sqlite3_finalize(c->ctl[i]);
    free(c->cache);
    c->cache = NULL;
    c->ncache = 0;
    store__rb_release(&c->rb);
    if (c->db && sqlite3_close(c->db) != SQLITE_OK)
        log_error("store", "cannot close database: %s", sqlite3_errmsg(c->db));
    c->db = NULL;
}

static int conn_exec(struct conn *c, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "store: %s: %s", sql, msg ? msg : sqlite3_errmsg(c->db));
    sqlite3_free(msg);
    return ERR_BACKEND;
}

/* the page cache of the background reader (store_op_background), KiB */
#define BACKGROUND_CACHE_KIB "2048"

static int conn_open(struct conn *c, const char *path, bool writer, const struct store_options *o,
                     char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->writer = writer;
    store__rb_init(&c->rb);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "store: cannot open %s: %s", path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, o->busy_timeout_ms);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DQS_DML, 0, NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DQS_DDL, 0, NULL);

    if (writer) {
        /* WAL is a property of the file: set once by the writer, before any reader opens */
        sqlite3_stmt *s = NULL;
        rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
        if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
            snprintf(err, errlen, "store: cannot switch %s to WAL mode: %s", path,
                     mode ? (const char *)mode : sqlite3_errmsg(c->db));
            sqlite3_finalize(s);
            goto fail;
        }
        sqlite3_finalize(s);
    }
    const char *sync = o->durability == STORE_DURABILITY_STRICT ? "PRAGMA synchronous=FULL"
                                                                : "PRAGMA synchronous=NORMAL";
    if (conn_exec(c, sync, err, errlen) < 0 ||
        conn_exec(c, "PRAGMA foreign_keys=ON", err, errlen) < 0 ||
        conn_exec(c, "PRAGMA temp_store=MEMORY", err, errlen) < 0 ||
        conn_exec(c, "PRAGMA cache_size=-16384", err, errlen) < 0)
        goto fail;
    if (!writer && conn_exec(c, "PRAGMA query_only=ON", err, errlen) < 0)
        goto fail;
    /* checkpoints are run by the store itself (wal_hook), never inside a reader's query */
    if (conn_exec(c, "PRAGMA wal_autocheckpoint=0", err, errlen) < 0)
        goto fail;
    if (writer && conn_exec(c, "PRAGMA journal_size_limit=67108864", err, errlen) < 0)
        goto fail;

    for (int i = 0; i < CTL_N; i++) {
        if (sqlite3_prepare_v3(c->db, ctl_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->ctl[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "store: cannot prepare %s: %s", ctl_sql[i],
                     sqlite3_errmsg(c->db));
            goto fail;
        }
    }
    c->cap_cache = o->stmt_cache;
    c->cache = xcalloc((size_t)c->cap_cache, sizeof *c->cache);
    return 0;
fail:
    conn_close(c);
    return ERR_BACKEND;
}

/* ---- running ops ---- */

static int bind_params(struct conn *c, sqlite3_stmt *s, const struct store_op *op,
                       const struct store_step *step)
{
    int want = sqlite3_bind_parameter_count(s);
    if (want != (int)step->nparams)
        return log_fail(ERR_BACKEND, "store", "statement has %d parameters but %u were bound", want,
                        step->nparams);
    for (unsigned k = 0; k < step->nparams; k++) {
        const struct store_param *p = &op->params[step->first + k];
        int idx = (int)k + 1, rc;
        switch (p->type) {
        case STORE_INT:
            rc = sqlite3_bind_int64(s, idx, p->v.i);
            break;
        case STORE_REAL:
            rc = sqlite3_bind_double(s, idx, p->v.r);
            break;
        case STORE_TEXT:
            rc = sqlite3_bind_text64(s, idx, store__param_bytes(op, p), p->len, SQLITE_STATIC,
                                     SQLITE_UTF8);
            break;
        case STORE_BLOB:
            rc = sqlite3_bind_blob64(s, idx, store__param_bytes(op, p), p->len, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(s, idx);
            break;
        }
        if (rc != SQLITE_OK)
            return map_rc(c, rc);
    }
    return 0;
}

static void collect_row(struct conn *c, sqlite3_stmt *s, int ncols)
{
    struct store__result_build *rb = &c->rb;
    store__rb_row(rb);
    for (int i = 0; i < ncols; i++) {
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
            store__rb_int(rb, i, sqlite3_column_int64(s, i));
            break;
        case SQLITE_FLOAT:
            store__rb_real(rb, i, sqlite3_column_double(s, i));
            break;
        case SQLITE_TEXT: {
            const unsigned char *t = sqlite3_column_text(s, i);
            store__rb_bytes(rb, i, STORE_TEXT, t, (size_t)sqlite3_column_bytes(s, i));
            break;
        }
        case SQLITE_BLOB: {
            const void *b = sqlite3_column_blob(s, i);
            store__rb_bytes(rb, i, STORE_BLOB, b, (size_t)sqlite3_column_bytes(s, i));
            break;
        }
        default:
            store__rb_null(rb, i);
            break;
        }
    }
}

/* Runs one statement of op, appending its rows to c->rb. Returns 0 or a negative enum err. */
static int run_step(struct conn *c, const struct store_op *op, const struct store_step *step)
{
    const char *sql = store__step_sql(op, step, STORE_KIND_SQLITE);
    if (sql == NULL)
        return log_fail(ERR_BACKEND, "store", "statement has no sqlite text");
    int status = 0;
    sqlite3_stmt *s = stmt_get(c, sql, &status);
    if (s == NULL)
        return status;
    bool readonly = sqlite3_stmt_readonly(s);
    if (!c->writer && !readonly)
        return log_fail(ERR_BACKEND, "store", "read op contains a statement that writes");
    status = bind_params(c, s, op, step);
    if (status < 0) {
        sqlite3_clear_bindings(s);
        return status;
    }
    int ncols = sqlite3_column_count(s);
    store__rb_step(&c->rb, ncols);
    for (int i = 0; i < ncols; i++)
        store__rb_col(&c->rb, i, sqlite3_column_name(s, i));
    int rc, nrows = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        collect_row(c, s, ncols);
        nrows++;
    }
    if (rc != SQLITE_DONE) {
        status = map_rc(c, rc);
    } else {
        int64_t changes = readonly ? 0 : sqlite3_changes64(c->db);
        int64_t last_id = readonly ? 0 : sqlite3_last_insert_rowid(c->db);
        store__rb_counts(&c->rb, changes, last_id);
        if ((step->flags & STORE_STEP_REQUIRE_ROW) && (readonly ? nrows : changes) == 0)
            status = ERR_NOTFOUND;
    }
    sqlite3_reset(s);
    /* the bound text points into the op, which is about to be freed */
    sqlite3_clear_bindings(s);
    return status;
}

static int run_steps(struct conn *c, const struct store_op *op)
{
    for (unsigned i = 0; i < op->nsteps; i++) {
        int status = run_step(c, op, &op->steps[i]);
        if (status < 0)
            return status;
    }
    return 0;
}

/*
 * Runs one write op inside the open group transaction. An op of several
 * statements runs inside a savepoint so a failure undoes it alone; a single
 * statement is undone by SQLite itself when it fails.
 */
static int run_write_op(struct conn *c, struct slot *sl)
{
    struct store_op *op = sl->op;
    bool multi = op->nsteps > 1;
    int rc;
    if (multi && (rc = ctl_run(c, CTL_SAVEPOINT)) != SQLITE_OK)
        return map_rc(c, rc);
    int status = run_steps(c, op);
    if (multi && !sqlite3_get_autocommit(c->db)) {
        if (status < 0)
            ctl_run(c, CTL_ROLLBACK_TO);
        if ((rc = ctl_run(c, CTL_RELEASE)) != SQLITE_OK && status == 0)
            status = map_rc(c, rc);
    }
    if (status == 0)
        sl->res = store__rb_finish(&c->rb);
    else
        store__rb_reset(&c->rb);
    return status;
}

static int run_read_op(struct conn *c, struct store_op *op, struct store_result **res)
{
    bool multi = op->nsteps > 1;
    int rc;
    *res = NULL;
    if (multi && (rc = ctl_run(c, CTL_BEGIN)) != SQLITE_OK)
        return map_rc(c, rc);
    int status = run_steps(c, op);
    if (multi && !sqlite3_get_autocommit(c->db))
        ctl_run(c, status == 0 ? CTL_COMMIT : CTL_ROLLBACK);
    if (status == 0)
        *res = store__rb_finish(&c->rb);
    else
        store__rb_reset(&c->rb);
    return status;
}

/* ---- queues ---- */

static void opq_init(struct opq *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
}

static void opq_destroy(struct opq *q)
{
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

static int sq_submit(struct store *st, struct store_op *op, bool write)
{
    struct sq *s = st->impl;
    struct opq *q = write ? &s->wq : op->background ? &s->bq : &s->rq;
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
        if (op->kind == STORE_OP_FN)
            q->nfn++;
        if (q != &s->bq)
            atomic_store_explicit(write ? &st->stats.write_queue : &st->stats.read_queue, q->len,
                                  memory_order_relaxed);
        if (q->waiting > 0)
            pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    if (rc < 0)
        store_op_free(op);
    return rc;
}

/* Pops the head of q; q->mu held, q non-empty. */
static struct store_op *opq_pop(struct opq *q)
{
    struct store_op *op = q->head;
    q->head = op->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len--;
    if (op->kind == STORE_OP_FN)
        q->nfn--;
    op->next = NULL;
    return op;
}

/*
 * Waits until the writer has something to do. Returns the next fn op to run
 * alone, or NULL with *group_ready set when SQL ops are waiting (carry or
 * queue), or NULL with *group_ready clear when closing and drained.
 */
static struct store_op *writer_wait(struct sq *s, bool *group_ready)
{
    *group_ready = false;
    if (s->carry) {
        *group_ready = true;
        return NULL;
    }
    struct opq *q = &s->wq;
    pthread_mutex_lock(&q->mu);
    while (q->head == NULL && !q->closing) {
        q->waiting++;
        pthread_cond_wait(&q->cv, &q->mu);
        q->waiting--;
    }
    struct store_op *fn = NULL;
    if (q->head && q->head->kind == STORE_OP_FN) {
        fn = opq_pop(q);
        atomic_store_explicit(&s->st->stats.write_queue, q->len, memory_order_relaxed);
    } else if (q->head) {
        *group_ready = true;
    }
    pthread_mutex_unlock(&q->mu);
    return fn;
}

/* Moves up to max SQL ops (carry first, then the queue, stopping at a fn op) into slots[n..]. */
static int group_fill(struct sq *s, int n, int max)
{
    int taken = 0;
    while (s->carry && taken < max) {
        struct store_op *op = s->carry;
        s->carry = op->next;
        op->next = NULL;
        s->slots[n + taken++] = (struct slot){.op = op, .status = 0, .res = NULL};
    }
    if (s->carry == NULL)
        s->carry_tail = NULL;
    if (taken == max)
        return taken;
    struct opq *q = &s->wq;
    pthread_mutex_lock(&q->mu);
    if (q->nfn == 0 && q->len <= (size_t)(max - taken)) {
        /* the common case: take the whole queue at once */
        struct store_op *op = q->head;
        q->head = q->tail = NULL;
        q->len = 0;
        pthread_mutex_unlock(&q->mu);
        atomic_store_explicit(&s->st->stats.write_queue, 0, memory_order_relaxed);
        while (op) {
            struct store_op *next = op->next;
            op->next = NULL;
            s->slots[n + taken++] = (struct slot){.op = op, .status = 0, .res = NULL};
            op = next;
        }
        return taken;
    }
    while (taken < max && q->head && q->head->kind == STORE_OP_SQL)
        s->slots[n + taken++] = (struct slot){.op = opq_pop(q), .status = 0, .res = NULL};
    atomic_store_explicit(&s->st->stats.write_queue, q->len, memory_order_relaxed);
    pthread_mutex_unlock(&q->mu);
    return taken;
}

/* Puts slots[from..n) back in front of the carry list, in order. */
static void group_carry(struct sq *s, int from, int n)
{
    for (int i = n - 1; i >= from; i--) {
        struct store_op *op = s->slots[i].op;
        op->next = s->carry;
        s->carry = op;
        if (s->carry_tail == NULL)
            s->carry_tail = op;
    }
}

/*
 * A group smaller than this, while writes arrive concurrently (the previous
 * group had more than one op), waits up to group_wait_us from its start for
 * more before it commits: fewer, fuller commits write far fewer WAL pages per
 * row. A lone caller (previous group of one) never waits.
 */
#define GROUP_LINGER_BELOW 64

static void sleep_until(uint64_t mono_us)
{
    struct timespec ts = {.tv_sec = (time_t)(mono_us / 1000000u),
                          .tv_nsec = (long)(mono_us % 1000000u) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void fail_all(struct slot *slots, int n, int status)
{
    for (int i = 0; i < n; i++) {
        if (slots[i].status == 0)
            slots[i].status = status;
        store_result_free(slots[i].res);
        slots[i].res = NULL;
    }
}

/*
 * Runs one group: everything in carry and queue (up to the caps) in one
 * transaction, then commits and answers every op.
 */
static void writer_group(struct sq *s)
{
    struct store *st = s->st;
    struct conn *c = &s->wconn;
    const int cap = st->opts.group_max_ops;
    int n = group_fill(s, 0, cap);
    int attempts = 0, rc;
    uint64_t t0;
    if (n == 0)
        return;
restart:
    t0 = clock_mono_us(); /* the cap counts the statement time of this attempt */
    if ((rc = ctl_run(c, CTL_BEGIN_IMMEDIATE)) != SQLITE_OK) {
        fail_all(s->slots, n, map_rc(c, rc));
        goto answer;
    }
    bool lingered = attempts > 0;
    for (int i = 0;; i++) {
        if (i == n) {
            if (!lingered && n < GROUP_LINGER_BELOW && s->last_group > 1 &&
                st->opts.group_wait_us > 0) {
                /* writes arrive concurrently: give this small group time to fill */
                lingered = true;
                sleep_until(t0 + (uint64_t)st->opts.group_wait_us);
            }
            if (n < cap && clock_mono_us() - t0 < (uint64_t)st->opts.group_max_us)
                n += group_fill(s, n, cap - n);
            if (i == n)
                break;
        } else if (i > 0 && clock_mono_us() - t0 >= (uint64_t)st->opts.group_max_us) {
            /* the group has run long enough: commit what ran, the rest goes next */
            group_carry(s, i, n);
            n = i;
            break;
        }
        struct slot *sl = &s->slots[i];
        if (sl->status < 0)
            continue; /* failed in an earlier attempt of this group */
        sl->status = run_write_op(c, sl);
        if (sl->status < 0 && sqlite3_get_autocommit(c->db)) {
            /* the error rolled the whole transaction back: redo the others without this op */
            for (int j = 0; j < i; j++) {
                store_result_free(s->slots[j].res);
                s->slots[j].res = NULL;
            }
            if (++attempts >= 3) {
                fail_all(
                    s->slots, n,
                    log_fail(ERR_BACKEND, "store", "group transaction keeps aborting, failing it"));
                goto answer;
            }
            goto restart;
        }
    }
    if ((rc = ctl_run(c, CTL_COMMIT)) != SQLITE_OK) {
        int status = map_rc(c, rc);
        if (!sqlite3_get_autocommit(c->db))
            ctl_run(c, CTL_ROLLBACK);
        fail_all(s->slots, n, status);
        atomic_fetch_add_explicit(&st->stats.rollbacks, 1, memory_order_relaxed);
        goto answer;
    }
    atomic_fetch_add_explicit(&st->stats.commits, 1, memory_order_relaxed);
    if ((uint64_t)n > atomic_load_explicit(&st->stats.largest_group, memory_order_relaxed))
        atomic_store_explicit(&st->stats.largest_group, (uint64_t)n, memory_order_relaxed);
answer:;
    s->last_group = n;
    uint64_t ok = 0;
    for (int i = 0; i < n; i++)
        ok += s->slots[i].status == 0;
    atomic_fetch_add_explicit(&st->stats.writes, ok, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->stats.write_errors, (uint64_t)n - ok, memory_order_relaxed);
    store__batch_begin();
    for (int i = 0; i < n; i++) {
        struct slot *sl = &s->slots[i];
        store__op_complete(sl->op, sl->status, sl->res);
        sl->op = NULL;
        sl->res = NULL;
    }
    store__batch_end();
}

static void *writer_main(void *arg)
{
    struct sq *s = arg;
    for (;;) {
        bool group_ready;
        struct store_op *fn = writer_wait(s, &group_ready);
        if (fn) {
            int status = fn->fn(&s->wconn, fn->fn_arg);
            store__op_complete(fn, status, NULL);
        } else if (group_ready) {
            writer_group(s);
        } else {
            break;
        }
    }
    return NULL;
}

/* A PASSIVE checkpoint on the writer's connection. Returns the SQLite result code. */
static int writer_checkpoint(struct sq *s, sqlite3 *db, const char *name)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_OK) {
        atomic_store_explicit(&s->ckpt_done, done, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->st->stats.checkpoints, 1, memory_order_relaxed);
    } else if ((rc & 0xff) != SQLITE_BUSY) {
        log_warn("store", "checkpoint failed: %s", sqlite3_errmsg(db));
    }
    return rc;
}

/* Called by SQLite on the writer thread after each commit, with the WAL size in pages. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sq *s = arg;
    int copied = atomic_load_explicit(&s->ckpt_done, memory_order_relaxed);
    if (pages < copied) /* the WAL started over */
        atomic_store_explicit(&s->ckpt_done, copied = 0, memory_order_relaxed);
    int behind = pages - copied;
    if (pages >= s->ckpt_hard) {
        /* the bound: wait for a running background pass, then copy the rest here */
        if ((writer_checkpoint(s, db, name) & 0xff) == SQLITE_BUSY) {
            pthread_mutex_lock(&s->ckpt_mu);
            while (s->ckpt_running)
                pthread_cond_wait(&s->ckpt_idle_cv, &s->ckpt_mu);
            pthread_mutex_unlock(&s->ckpt_mu);
            writer_checkpoint(s, db, name);
        }
    } else if (pages >= s->ckpt_restart && behind <= s->ckpt_catchup) {
        writer_checkpoint(s, db, name); /* BUSY: a background pass runs; next commit retries */
    } else if (behind >= s->ckpt_pages || pages >= s->ckpt_restart) {
        pthread_mutex_lock(&s->ckpt_mu);
        if (!s->ckpt_wanted) {
            s->ckpt_wanted = true;
            pthread_cond_signal(&s->ckpt_cv);
        }
        pthread_mutex_unlock(&s->ckpt_mu);
    }
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    struct sq *s = arg;
    pthread_mutex_lock(&s->ckpt_mu);
    for (;;) {
        while (!s->ckpt_wanted && !s->ckpt_closing)
            pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
        if (s->ckpt_closing)
            break;
        s->ckpt_running = true;
        pthread_mutex_unlock(&s->ckpt_mu);
        int log = 0, done = 0;
        int rc =
            sqlite3_wal_checkpoint_v2(s->cconn.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (rc == SQLITE_OK) {
            atomic_store_explicit(&s->ckpt_done, done, memory_order_relaxed);
            atomic_fetch_add_explicit(&s->st->stats.checkpoints, 1, memory_order_relaxed);
        } else if ((rc & 0xff) != SQLITE_BUSY) {
            log_warn("store", "checkpoint failed: %s", sqlite3_errmsg(s->cconn.db));
        }
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_wanted = false; /* commits meanwhile ask again */
        s->ckpt_running = false;
        pthread_cond_broadcast(&s->ckpt_idle_cv);
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    return NULL;
}

struct reader_arg {
    struct sq *s;
    struct conn *c;
    struct opq *q; /* rq, or bq for the background reader */
};

static void *reader_main(void *arg)
{
    struct sq *s = ((struct reader_arg *)arg)->s;
    struct conn *c = ((struct reader_arg *)arg)->c;
    struct opq *q = ((struct reader_arg *)arg)->q;
    free(arg);
    struct store_counters *stats = &s->st->stats;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (q->head == NULL && !q->closing) {
            q->waiting++;
            pthread_cond_wait(&q->cv, &q->mu);
            q->waiting--;
        }
        if (q->head == NULL) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        struct store_op *op = opq_pop(q);
        if (q == &s->rq)
            atomic_store_explicit(&stats->read_queue, q->len, memory_order_relaxed);
        pthread_mutex_unlock(&q->mu);
        struct store_result *res = NULL;
        int status = op->kind == STORE_OP_SQL ? run_read_op(c, op, &res)
                                              : log_fail(ERR_BACKEND, "store", "fn op on a reader");
        atomic_fetch_add_explicit(status == 0 ? &stats->reads : &stats->read_errors, 1,
                                  memory_order_relaxed);
        store__op_complete(op, status, res);
    }
    return NULL;
}

/* ---- migrations (run on the writer thread through fn ops) ---- */

struct migrate_arg {
    int target;
    int version;
    char *err;
    size_t errlen;
};

static const char SQL_SCHEMA_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       " version INTEGER PRIMARY KEY,"
                                       " name TEXT NOT NULL,"
                                       " applied_at INTEGER NOT NULL"
                                       ") STRICT";

/* Reads and checks the recorded migrations; sets a->version to the current one. */
static int read_applied(struct conn *c, struct migrate_arg *a)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(
        c->db, "SELECT version, name FROM schema_migrations ORDER BY version", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        snprintf(a->err, a->errlen, "store: cannot read schema_migrations: %s",
                 sqlite3_errmsg(c->db));
        return ERR_BACKEND;
    }
    int status = 0, expect = 0; /* the index of the next migration the rows must name */
    const struct store_migration *m = store__sqlite_migrations;
    const int n = store__sqlite_nmigrations;
    a->version = 0;
    while (status == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int v = sqlite3_column_int(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        int k = store__migration_index(m, n, v);
        if (v > m[n - 1].version) {
            snprintf(a->err, a->errlen,
                     "store: the database has schema version %d but this binary knows only up to "
                     "%d; use a newer herald",
                     v, m[n - 1].version);
            status = ERR_INVAL;
        } else if (k != expect) {
            snprintf(a->err, a->errlen, "store: schema_migrations lacks version %d",
                     expect < n ? m[expect].version : v);
            status = ERR_INVAL;
        } else if (name == NULL || strcmp(name, m[k].name) != 0) {
            snprintf(a->err, a->errlen,
                     "store: migration %d is '%s' in the database but '%s' in this binary", v,
                     name ? name : "", m[k].name);
            status = ERR_INVAL;
        } else {
            a->version = v;
            expect++;
        }
    }
    if (status == 0 && rc != SQLITE_DONE) {
        snprintf(a->err, a->errlen, "store: cannot read schema_migrations: %s",
                 sqlite3_errmsg(c->db));
        status = ERR_BACKEND;
    }
    sqlite3_finalize(s);
    return status;
}

static int apply_one(struct conn *c, const struct store_migration *m, struct migrate_arg *a)
{
    char *msg = NULL;
    int rc = ctl_run(c, CTL_BEGIN_IMMEDIATE);
    if (rc != SQLITE_OK) {
        snprintf(a->err, a->errlen, "store: cannot start migration %03d_%s: %s", m->version,
                 m->name, sqlite3_errmsg(c->db));
        return rc == SQLITE_BUSY ? ERR_AGAIN : ERR_BACKEND;
    }
    rc = sqlite3_exec(c->db, m->sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *s = NULL;
        rc = sqlite3_prepare_v2(c->db,
                                "INSERT INTO schema_migrations(version, name, applied_at) "
                                "VALUES (?1, ?2, ?3)",
                                -1, &s, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int(s, 1, m->version);
            sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 3, clock_wall_ms());
            rc = sqlite3_step(s);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        sqlite3_finalize(s);
    }
    if (rc == SQLITE_OK)
        rc = ctl_run(c, CTL_COMMIT);
    if (rc != SQLITE_OK) {
        snprintf(a->err, a->errlen, "store: migration %03d_%s failed: %s", m->version, m->name,
                 msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        if (!sqlite3_get_autocommit(c->db))
            ctl_run(c, CTL_ROLLBACK);
        return ERR_BACKEND;
    }
    log_info("store", "applied migration %03d_%s", m->version, m->name);
    return 0;
}

static int migrate_fn(void *conn, void *arg)
{
    struct conn *c = conn;
    struct migrate_arg *a = arg;
    int status = conn_exec(c, SQL_SCHEMA_TABLE, a->err, a->errlen);
    if (status == 0)
        status = read_applied(c, a);
    const struct store_migration *m = store__sqlite_migrations;
    const int n = store__sqlite_nmigrations;
    int target = a->target ? a->target : m[n - 1].version;
    int k = a->version == 0 ? 0 : store__migration_index(m, n, a->version) + 1;
    for (; status == 0 && k < n && m[k].version <= target; k++) {
        status = apply_one(c, &m[k], a);
        if (status == 0)
            a->version = m[k].version;
    }
    return status;
}

static int version_fn(void *conn, void *arg)
{
    struct conn *c = conn;
    struct migrate_arg *a = arg;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db,
                                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                                "name = 'schema_migrations'",
                                -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE) {
        a->version = 0;
        return 0;
    }
    if (rc != SQLITE_ROW)
        return log_fail(ERR_BACKEND, "store", "cannot read the schema: %s", sqlite3_errmsg(c->db));
    rc = read_applied(c, a);
    if (rc < 0)
        log_error("store", "%s", a->err);
    return rc;
}

static int sq_migrate(struct store *st, int target, int *version, char *err, size_t errlen)
{
    struct migrate_arg a = {.target = target, .version = 0, .err = err, .errlen = errlen};
    int rc = store__fn_wait(st, migrate_fn, &a);
    if (rc == ERR_UNAVAIL && err[0] == '\0')
        snprintf(err, errlen, "store: closing");
    if (version)
        *version = a.version;
    return rc;
}

static int sq_schema_version(struct store *st, int *version)
{
    char err[256] = "";
    struct migrate_arg a = {.target = 0, .version = 0, .err = err, .errlen = sizeof err};
    int rc = store__fn_wait(st, version_fn, &a);
    *version = a.version;
    return rc;
}

static int sq_migrations_latest(void)
{
    return store__sqlite_migrations[store__sqlite_nmigrations - 1].version;
}

/* ---- lifecycle ---- */

static void opq_close(struct opq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closing = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void sq_free(struct sq *s)
{
    for (int i = 0; i < s->nreaders; i++)
        conn_close(&s->rconns[i]);
    conn_close(&s->bconn);
    conn_close(&s->cconn);
    conn_close(&s->wconn); /* last: its close checkpoints and removes the WAL */
    pthread_cond_destroy(&s->ckpt_cv);
    pthread_cond_destroy(&s->ckpt_idle_cv);
    pthread_mutex_destroy(&s->ckpt_mu);
    opq_destroy(&s->wq);
    opq_destroy(&s->rq);
    opq_destroy(&s->bq);
    free(s->rconns);
    free(s->readers);
    free(s->slots);
    free(s);
}

static void stop_checkpointer(struct sq *s)
{
    if (!s->checkpointer_started)
        return;
    pthread_mutex_lock(&s->ckpt_mu);
    s->ckpt_closing = true;
    pthread_cond_signal(&s->ckpt_cv);
    pthread_mutex_unlock(&s->ckpt_mu);
    pthread_join(s->checkpointer, NULL);
    s->checkpointer_started = false;
}

static void sq_close(struct store *st)
{
    struct sq *s = st->impl;
    /*
     * Readers first: their callbacks may still queue writes, which the writer
     * then answers with ERR_UNAVAIL or runs, depending on timing. Every queue
     * is drained before its threads exit.
     */
    opq_close(&s->rq);
    opq_close(&s->bq);
    for (int i = 0; i < s->nreaders; i++)
        pthread_join(s->readers[i], NULL);
    if (s->breader_started)
        pthread_join(s->breader, NULL);
    opq_close(&s->wq);
    pthread_join(s->writer, NULL);
    stop_checkpointer(s);
    sq_free(s);
    st->impl = NULL;
}

static const struct store_backend sqlite_backend = {
    .name = "sqlite",
    .submit = sq_submit,
    .migrate = sq_migrate,
    .migrations_latest = sq_migrations_latest,
    .schema_version = sq_schema_version,
    .close = sq_close,
};

int store__sqlite_open(struct store *st, const char *path, char *err, size_t errlen)
{
    const struct store_options *o = &st->opts;
    struct sq *s = xcalloc(1, sizeof *s);
    s->st = st;
    opq_init(&s->wq);
    opq_init(&s->rq);
    opq_init(&s->bq);
    s->slots = xcalloc((size_t)o->group_max_ops, sizeof *s->slots);
    s->rconns = xcalloc((size_t)o->readers, sizeof *s->rconns);
    s->readers = xcalloc((size_t)o->readers, sizeof *s->readers);
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    pthread_cond_init(&s->ckpt_idle_cv, NULL);
    s->ckpt_pages = o->checkpoint_pages;
    s->ckpt_restart = 8 * o->checkpoint_pages;
    s->ckpt_hard = 32 * o->checkpoint_pages;
    s->ckpt_catchup =
        CKPT_CATCHUP_PAGES < o->checkpoint_pages / 2 ? CKPT_CATCHUP_PAGES : o->checkpoint_pages / 2;

    int rc = conn_open(&s->wconn, path, true, o, err, errlen);
    if (rc == 0)
        rc = conn_open(&s->cconn, path, false, o, err, errlen);
    if (rc == 0)
        rc = conn_open(&s->bconn, path, false, o, err, errlen);
    if (rc == 0)
        rc = conn_exec(&s->bconn, "PRAGMA cache_size=-" BACKGROUND_CACHE_KIB, err, errlen);
    if (rc < 0) {
        sq_free(s);
        return rc;
    }
    sqlite3_wal_hook(s->wconn.db, wal_hook, s);
    for (int i = 0; i < o->readers; i++) {
        rc = conn_open(&s->rconns[i], path, false, o, err, errlen);
        if (rc < 0) {
            s->nreaders = i; /* closes the ones opened */
            sq_free(s);
            return rc;
        }
    }
    s->nreaders = o->readers;
    st->be = &sqlite_backend;
    st->impl = s;

    int started = 0;
    if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0)
        goto fail_threads;
    s->checkpointer_started = true;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        goto fail_threads;
    for (; started < o->readers; started++) {
        struct reader_arg *ra = xmalloc(sizeof *ra);
        ra->s = s;
        ra->c = &s->rconns[started];
        ra->q = &s->rq;
        if (pthread_create(&s->readers[started], NULL, reader_main, ra) != 0) {
            free(ra);
            opq_close(&s->wq);
            pthread_join(s->writer, NULL);
            goto fail_threads;
        }
    }
    struct reader_arg *ba = xmalloc(sizeof *ba);
    *ba = (struct reader_arg){.s = s, .c = &s->bconn, .q = &s->bq};
    if (pthread_create(&s->breader, NULL, reader_main, ba) != 0) {
        free(ba);
        opq_close(&s->wq);
        pthread_join(s->writer, NULL);
        goto fail_threads;
    }
    s->breader_started = true;
    return 0;
fail_threads:
    opq_close(&s->rq);
    opq_close(&s->bq);
    for (int i = 0; i < started; i++)
        pthread_join(s->readers[i], NULL);
    stop_checkpointer(s);
    sq_free(s);
    st->impl = NULL;
    snprintf(err, errlen, "store: cannot start threads");
    return ERR_BACKEND;
}
