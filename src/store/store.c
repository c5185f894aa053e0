/*
 * The backend-neutral half of the store: choosing a backend from the database
 * URL, building ops, building and reading results, and the blocking helpers
 * for the CLI and tests. Everything that touches a database lives in the
 * backend files (store_sqlite.c; store_pg.c later) behind struct store_backend.
 */
#include "store.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/xalloc.h"
#include "internal.h"

/* ---- opening ---- */

static void fill_defaults(struct store_options *o, const struct store_options *in)
{
    memset(o, 0, sizeof *o);
    if (in)
        *o = *in;
    if (o->readers == 0)
        o->readers = 2;
    if (o->group_max_ops == 0)
        o->group_max_ops = 1000;
    if (o->group_max_us == 0)
        o->group_max_us = 2000;
    if (o->group_wait_us == 0)
        o->group_wait_us = 2000;
    else if (o->group_wait_us < 0)
        o->group_wait_us = 0; /* never */
    if (o->max_queue == 0)
        o->max_queue = 100000;
    if (o->busy_timeout_ms == 0)
        o->busy_timeout_ms = 5000;
    if (o->stmt_cache == 0)
        o->stmt_cache = 64;
    if (o->checkpoint_pages == 0)
        o->checkpoint_pages = 2000;
}

static int check_options(const struct store_options *o, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (o->durability != STORE_DURABILITY_NORMAL && o->durability != STORE_DURABILITY_STRICT)
        bad = "durability";
    else if (o->readers < 1 || o->readers > 64)
        bad = "readers (1..64)";
    else if (o->group_max_ops < 1 || o->group_max_ops > 100000)
        bad = "group_max_ops (1..100000)";
    else if (o->group_max_us < 1 || o->group_max_us > 10000000)
        bad = "group_max_us (1..10000000)";
    else if (o->group_wait_us > 100000)
        bad = "group_wait_us (-1..100000)";
    else if (o->max_queue < 1)
        bad = "max_queue";
    else if (o->busy_timeout_ms < 1)
        bad = "busy_timeout_ms";
    else if (o->stmt_cache < 1 || o->stmt_cache > 4096)
        bad = "stmt_cache (1..4096)";
    else if (o->checkpoint_pages < 2 || o->checkpoint_pages > 1000000)
        bad = "checkpoint_pages (2..1000000)";
    if (bad == NULL)
        return 0;
    snprintf(err, errlen, "store: invalid option %s", bad);
    return ERR_INVAL;
}

/* mkdir -p of the directory part of path, mode 0700 for what it creates. */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash == NULL || slash == dir)
        goto out;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "HERALD_DATABASE_URL: cannot create directory %s: %s", dir,
                     strerror(errno));
            rc = ERR_IO;
            goto out;
        }
        *p = c;
        if (c == '\0')
            break;
    }
out:
    free(dir);
    return rc;
}

/* Creates the database file with mode 0600 if it does not exist (it holds secrets). */
static int create_private_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "HERALD_DATABASE_URL: cannot open %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    close(fd);
    return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int store_open_opts(const char *url, const struct store_options *opts, struct store **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    struct store_options o;
    fill_defaults(&o, opts);
    int rc = check_options(&o, err, errlen);
    if (rc < 0)
        return rc;
    if (url == NULL || *url == '\0') {
        snprintf(err, errlen,
                 "HERALD_DATABASE_URL is empty (expected sqlite:PATH or postgres://...)");
        return ERR_INVAL;
    }
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://")) {
        struct store *st = xcalloc(1, sizeof *st);
        pthread_rwlock_init(&st->gate, NULL);
        st->opts = o;
        st->kind = STORE_KIND_PG;
        rc = store__pg_open(st, url, err, errlen);
        if (rc < 0) {
            pthread_rwlock_destroy(&st->gate);
            free(st);
            return rc;
        }
        *out = st;
        return 0;
    }
    if (!has_prefix(url, "sqlite:")) {
        const char *colon = strchr(url, ':');
        int n = colon ? (int)(colon - url) : 0;
        if (n > 32)
            n = 32;
        /* only the scheme is echoed: the rest of a URL may hold a password */
        snprintf(err, errlen,
                 "HERALD_DATABASE_URL: unknown scheme '%.*s' (expected sqlite:PATH or "
                 "postgres://...)",
                 n, url);
        return ERR_INVAL;
    }
    const char *path = url + strlen("sqlite:");
    if (has_prefix(path, "//"))
        path += 2; /* sqlite:///abs/path -> /abs/path */
    if (*path == '\0' || strcmp(path, ":memory:") == 0 || has_prefix(path, "file:")) {
        snprintf(err, errlen,
                 "HERALD_DATABASE_URL: sqlite needs a file path (sqlite:./data/herald.db)");
        return ERR_INVAL;
    }
    rc = make_parent_dirs(path, err, errlen);
    if (rc < 0)
        return rc;
    rc = create_private_file(path, err, errlen);
    if (rc < 0)
        return rc;

    struct store *st = xcalloc(1, sizeof *st);
    pthread_rwlock_init(&st->gate, NULL);
    st->opts = o;
    st->kind = STORE_KIND_SQLITE;
    rc = store__sqlite_open(st, path, err, errlen);
    if (rc < 0) {
        pthread_rwlock_destroy(&st->gate);
        free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int store_open(const char *url, enum store_durability durability, struct store **out, char *err,
               size_t errlen)
{
    struct store_options o;
    memset(&o, 0, sizeof o);
    o.durability = durability;
    return store_open_opts(url, &o, out, err, errlen);
}

int store_migrate(struct store *st, int target, int *version, char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    if (target < 0 || target > st->be->migrations_latest()) {
        snprintf(err, errlen, "store: no migration %d (latest is %d)", target,
                 st->be->migrations_latest());
        return ERR_INVAL;
    }
    return st->be->migrate(st, target, version, err, errlen);
}

int store_schema_version(struct store *st, int *version)
{
    return st->be->schema_version(st, version);
}

int store_migrations_latest(const struct store *st)
{
    return st->be->migrations_latest();
}

void store_stop(struct store *st)
{
    if (st == NULL)
        return;
    pthread_rwlock_wrlock(&st->gate); /* waits for submits in progress */
    bool was = st->stopped;
    st->stopped = true;
    pthread_rwlock_unlock(&st->gate);
    if (!was)
        st->be->close(st);
}

void store_close(struct store *st)
{
    if (st == NULL)
        return;
    store_stop(st);
    pthread_rwlock_destroy(&st->gate);
    free(st);
}

const char *store_backend_name(const struct store *st)
{
    return st->be->name;
}

enum store_durability store_durability(const struct store *st)
{
    return st->opts.durability;
}

void store_stats_get(struct store *st, struct store_stats *out)
{
    struct store_counters *c = &st->stats;
    out->writes = atomic_load_explicit(&c->writes, memory_order_relaxed);
    out->write_errors = atomic_load_explicit(&c->write_errors, memory_order_relaxed);
    out->commits = atomic_load_explicit(&c->commits, memory_order_relaxed);
    out->rollbacks = atomic_load_explicit(&c->rollbacks, memory_order_relaxed);
    out->largest_group = atomic_load_explicit(&c->largest_group, memory_order_relaxed);
    out->reads = atomic_load_explicit(&c->reads, memory_order_relaxed);
    out->read_errors = atomic_load_explicit(&c->read_errors, memory_order_relaxed);
    out->write_queue = atomic_load_explicit(&c->write_queue, memory_order_relaxed);
    out->read_queue = atomic_load_explicit(&c->read_queue, memory_order_relaxed);
    out->checkpoints = atomic_load_explicit(&c->checkpoints, memory_order_relaxed);
}

/* ---- ops ---- */

struct store_op *store_op_new(void)
{
    struct store_op *op = xmalloc(sizeof *op);
    op->next = NULL;
    op->kind = STORE_OP_SQL;
    op->background = false;
    op->steps = op->inline_steps;
    op->nsteps = 0;
    op->cap_steps = STORE_OP_INLINE_STEPS;
    op->params = op->inline_params;
    op->nparams = 0;
    op->cap_params = STORE_OP_INLINE_PARAMS;
    buf_init(&op->bytes);
    op->done = NULL;
    op->ud = NULL;
    op->fn = NULL;
    op->fn_arg = NULL;
    return op;
}

void store_op_background(struct store_op *op)
{
    op->background = true;
}

void store_op_free(struct store_op *op)
{
    if (op == NULL)
        return;
    if (op->steps != op->inline_steps)
        free(op->steps);
    if (op->params != op->inline_params)
        free(op->params);
    buf_release(&op->bytes);
    free(op);
}

static struct store_step *push_step(struct store_op *op)
{
    if (op->nsteps == op->cap_steps) {
        unsigned cap = op->cap_steps * 2;
        struct store_step *s = xmalloc(cap * sizeof *s);
        memcpy(s, op->steps, op->nsteps * sizeof *s);
        if (op->steps != op->inline_steps)
            free(op->steps);
        op->steps = s;
        op->cap_steps = cap;
    }
    struct store_step *s = &op->steps[op->nsteps++];
    memset(s, 0, sizeof *s);
    s->first = op->nparams;
    return s;
}

void store_op_add(struct store_op *op, const struct store_sql *sql)
{
    assert(sql != NULL);
    push_step(op)->sql = sql;
}

unsigned store_op_nsteps(const struct store_op *op)
{
    return op->nsteps;
}

static size_t copy_text(struct store_op *op, const char *s)
{
    if (s == NULL)
        return SIZE_MAX;
    size_t off = op->bytes.len;
    buf_append(&op->bytes, s, strlen(s) + 1);
    return off;
}

void store_op_add_copy(struct store_op *op, const char *sqlite, const char *pg)
{
    size_t a = copy_text(op, sqlite);
    size_t b = copy_text(op, pg);
    struct store_step *s = push_step(op);
    s->flags |= STORE_STEP_COPIED;
    s->text_off[STORE_KIND_SQLITE] = a;
    s->text_off[STORE_KIND_PG] = b;
}

void store_op_require_row(struct store_op *op)
{
    assert(op->nsteps > 0);
    op->steps[op->nsteps - 1].flags |= STORE_STEP_REQUIRE_ROW;
}

const char *store__step_sql(const struct store_op *op, const struct store_step *s,
                            enum store_kind kind)
{
    if (s->flags & STORE_STEP_COPIED) {
        size_t off = s->text_off[kind];
        return off == SIZE_MAX ? NULL : op->bytes.data + off;
    }
    return kind == STORE_KIND_SQLITE ? s->sql->sqlite : store_sql_pg_text(s->sql);
}

/* ---- statements written once (STORE_SQL) ---- */

/* The end of the literal, identifier or comment that starts at s (s when none starts there). */
static const char *skip_quoted(const char *s, bool *bad)
{
    if (*s == '\'' || *s == '"') {
        char q = *s;
        for (s++;; s++) {
            if (*s == '\0') {
                *bad = true;
                return s;
            }
            if (*s == q && s[1] == q)
                s++; /* a doubled quote stands for one */
            else if (*s == q)
                return s + 1;
        }
    }
    if (s[0] == '-' && s[1] == '-') {
        const char *nl = strchr(s, '\n');
        return nl ? nl + 1 : s + strlen(s);
    }
    if (s[0] == '/' && s[1] == '*') {
        const char *end = strstr(s + 2, "*/");
        if (end == NULL) {
            *bad = true;
            return s + strlen(s);
        }
        return end + 2;
    }
    return s;
}

char *store_sql_derive_pg(const char *sqlite)
{
    size_t n = strlen(sqlite);
    char *out = xmalloc(n + 1); /* ?N and $N have the same length */
    char *o = out;
    const char *s = sqlite;
    bool bad = false;
    while (*s != '\0' && !bad) {
        const char *end = skip_quoted(s, &bad);
        if (end != s) {
            memcpy(o, s, (size_t)(end - s));
            o += end - s;
            s = end;
        } else if (*s == '?' && isdigit((unsigned char)s[1])) {
            *o++ = '$';
            s++;
        } else if (*s == '?' || *s == '$') {
            bad = true;
        } else {
            *o++ = *s++;
        }
    }
    if (bad) {
        free(out);
        return NULL;
    }
    *o = '\0';
    return out;
}

const char *store_sql_pg_text(const struct store_sql *sql)
{
    if (sql->pg != NULL || sql->derived == NULL || sql->sqlite == NULL)
        return sql->pg;
    char *text = atomic_load_explicit(&sql->derived->pg, memory_order_acquire);
    if (text != NULL)
        return text;
    char *mine = store_sql_derive_pg(sql->sqlite);
    if (mine == NULL)
        return NULL; /* tests/unit/test_store_sql.c derives every statement */
    /* another thread may have derived it meanwhile: the first one published stays */
    if (atomic_compare_exchange_strong_explicit(&sql->derived->pg, &text, mine,
                                                memory_order_acq_rel, memory_order_acquire))
        return mine;
    free(mine);
    return text;
}

static struct store_param *push_param(struct store_op *op, enum store_type type)
{
    assert(op->nsteps > 0 && "bind before store_op_add");
    if (op->nparams == op->cap_params) {
        unsigned cap = op->cap_params * 2;
        struct store_param *p = xmalloc(cap * sizeof *p);
        memcpy(p, op->params, op->nparams * sizeof *p);
        if (op->params != op->inline_params)
            free(op->params);
        op->params = p;
        op->cap_params = cap;
    }
    op->steps[op->nsteps - 1].nparams++;
    struct store_param *p = &op->params[op->nparams++];
    p->type = type;
    p->off = 0;
    p->len = 0;
    p->v.i = 0;
    return p;
}

void store_bind_null(struct store_op *op)
{
    push_param(op, STORE_NULL);
}

void store_bind_int(struct store_op *op, int64_t v)
{
    push_param(op, STORE_INT)->v.i = v;
}

void store_bind_real(struct store_op *op, double v)
{
    push_param(op, STORE_REAL)->v.r = v;
}

static void bind_bytes(struct store_op *op, enum store_type type, const void *p, size_t n)
{
    struct store_param *prm = push_param(op, type);
    prm->off = op->bytes.len;
    prm->len = n;
    if (n > 0)
        buf_append(&op->bytes, p, n);
    buf_putc(&op->bytes, '\0');
}

void store_bind_text(struct store_op *op, const char *s)
{
    if (s == NULL)
        store_bind_null(op);
    else
        bind_bytes(op, STORE_TEXT, s, strlen(s));
}

void store_bind_textn(struct store_op *op, const char *s, size_t n)
{
    bind_bytes(op, STORE_TEXT, s, n);
}

void store_bind_blob(struct store_op *op, const void *p, size_t n)
{
    bind_bytes(op, STORE_BLOB, p, n);
}

/* ---- submitting ---- */

static void (*batch_begin)(void), (*batch_end)(void);

void store_set_batch_hooks(void (*begin)(void), void (*end)(void))
{
    batch_begin = begin;
    batch_end = end;
}

void store__batch_begin(void)
{
    if (batch_begin)
        batch_begin();
}

void store__batch_end(void)
{
    if (batch_end)
        batch_end();
}

void store__op_complete(struct store_op *op, int status, struct store_result *res)
{
    store_done_fn done = op->done;
    void *ud = op->ud;
    store_op_free(op);
    if (done)
        done(status, res, ud);
    else
        store_result_free(res);
}

static int submit(struct store *st, struct store_op *op, bool write, store_done_fn done, void *ud)
{
    assert(op != NULL);
    if (op->kind == STORE_OP_SQL && op->nsteps == 0) {
        store_op_free(op);
        return ERR_INVAL;
    }
    op->done = done;
    op->ud = ud;
    pthread_rwlock_rdlock(&st->gate);
    bool stopped = st->stopped;
    int rc = stopped ? ERR_UNAVAIL : st->be->submit(st, op, write);
    pthread_rwlock_unlock(&st->gate);
    if (stopped)
        store_op_free(op); /* refused here; the backend frees the ops it refuses itself */
    return rc;
}

int store_write(struct store *st, struct store_op *op, store_done_fn done, void *ud)
{
    return submit(st, op, true, done, ud);
}

int store_read(struct store *st, struct store_op *op, store_done_fn done, void *ud)
{
    return submit(st, op, false, done, ud);
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int status;
    struct store_result *res;
    store_done_fn committed; /* store_write_wait_committed's hook, or NULL */
    void *committed_ud;
};

static void waiter_done(int status, struct store_result *res, void *ud)
{
    struct waiter *w = ud;
    if (w->committed != NULL)
        w->committed(status, res, w->committed_ud);
    pthread_mutex_lock(&w->mu);
    w->status = status;
    w->res = res;
    w->done = true;
    pthread_cond_signal(&w->cv); /* under the lock: w may vanish once it is released */
    pthread_mutex_unlock(&w->mu);
}

static int submit_wait(struct store *st, struct store_op *op, bool write, store_done_fn committed,
                       void *ud, struct store_result **res)
{
    struct waiter w = {
        .done = false, .status = 0, .res = NULL, .committed = committed, .committed_ud = ud};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = submit(st, op, write, waiter_done, &w);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.status;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    if (res)
        *res = w.res;
    else
        store_result_free(w.res);
    return rc;
}

int store__fn_wait(struct store *st, store__fn fn, void *arg)
{
    struct store_op *op = store_op_new();
    op->kind = STORE_OP_FN;
    op->fn = fn;
    op->fn_arg = arg;
    return submit_wait(st, op, true, NULL, NULL, NULL);
}

int store_write_wait(struct store *st, struct store_op *op, struct store_result **res)
{
    return submit_wait(st, op, true, NULL, NULL, res);
}

int store_write_wait_committed(struct store *st, struct store_op *op, store_done_fn committed,
                               void *ud, struct store_result **res)
{
    return submit_wait(st, op, true, committed, ud, res);
}

int store_read_wait(struct store *st, struct store_op *op, struct store_result **res)
{
    return submit_wait(st, op, false, NULL, NULL, res);
}

bool store__is_txn_control(const char *sql)
{
    static const char *const words[] = {"BEGIN", "START",     "COMMIT",  "END",    "ROLLBACK",
                                        "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"};
    while (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '\r' || *sql == '(')
        sql++;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i]);
        if (strncasecmp(sql, words[i], n) == 0 && !isalnum((unsigned char)sql[n]) && sql[n] != '_')
            return true;
    }
    return false;
}

static const struct store_sql SQL_PING = {.sqlite = "SELECT 1", .pg = "SELECT 1"};

int store_ping(struct store *st, store_done_fn done, void *ud)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_PING);
    return store_read(st, op, done, ud);
}

/* ---- results ---- */

/* A result and the storage behind it, freed together. */
struct result_block {
    struct store_result pub;
    char *bytes;
    const char **cols;
    struct store_rows steps[];
};

void store__rb_init(struct store__result_build *b)
{
    memset(b, 0, sizeof *b);
    buf_init(&b->bytes);
}

void store__rb_step(struct store__result_build *b, int ncols)
{
    if (b->nsteps == b->cap_steps) {
        b->cap_steps = b->cap_steps ? b->cap_steps * 2 : 4;
        b->steps = xrealloc(b->steps, (size_t)b->cap_steps * sizeof *b->steps);
    }
    struct store__rows_build *r = &b->steps[b->nsteps++];
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
    if (ncols > 0)
        r->col_offs = xcalloc((size_t)ncols, sizeof *r->col_offs);
}

static struct store__rows_build *cur(struct store__result_build *b)
{
    assert(b->nsteps > 0);
    return &b->steps[b->nsteps - 1];
}

void store__rb_col(struct store__result_build *b, int i, const char *name)
{
    struct store__rows_build *r = cur(b);
    r->col_offs[i] = b->bytes.len;
    buf_append(&b->bytes, name ? name : "", (name ? strlen(name) : 0) + 1);
}

void store__rb_row(struct store__result_build *b)
{
    struct store__rows_build *r = cur(b);
    size_t need = (size_t)(r->nrows + 1) * (size_t)r->ncols;
    if (need > r->cap_vals) {
        size_t cap = r->cap_vals ? r->cap_vals * 2 : (size_t)r->ncols * 4;
        while (cap < need)
            cap *= 2;
        r->vals = xrealloc(r->vals, cap * sizeof *r->vals);
        r->cap_vals = cap;
    }
    memset(&r->vals[(size_t)r->nrows * (size_t)r->ncols], 0, (size_t)r->ncols * sizeof *r->vals);
    r->nrows++;
}

static struct store_value *cell(struct store__result_build *b, int col)
{
    struct store__rows_build *r = cur(b);
    assert(r->nrows > 0 && col >= 0 && col < r->ncols);
    return &r->vals[(size_t)(r->nrows - 1) * (size_t)r->ncols + (size_t)col];
}

void store__rb_null(struct store__result_build *b, int col)
{
    cell(b, col)->type = STORE_NULL;
}

void store__rb_int(struct store__result_build *b, int col, int64_t v)
{
    struct store_value *c = cell(b, col);
    c->type = STORE_INT;
    c->v.i = v;
}

void store__rb_real(struct store__result_build *b, int col, double v)
{
    struct store_value *c = cell(b, col);
    c->type = STORE_REAL;
    c->v.r = v;
}

void store__rb_bytes(struct store__result_build *b, int col, enum store_type type, const void *p,
                     size_t n)
{
    struct store_value *c = cell(b, col);
    c->type = type;
    c->len = n;
    c->v.i = (int64_t)b->bytes.len; /* an offset until store__rb_finish() */
    if (n > 0)
        buf_append(&b->bytes, p, n);
    buf_putc(&b->bytes, '\0');
}

void store__rb_counts(struct store__result_build *b, int64_t changes, int64_t last_id)
{
    struct store__rows_build *r = cur(b);
    r->changes = changes;
    r->last_id = last_id;
}

struct store_result *store__rb_finish(struct store__result_build *b)
{
    size_t ncols_total = 0;
    for (int i = 0; i < b->nsteps; i++)
        ncols_total += (size_t)b->steps[i].ncols;
    struct result_block *blk = xmalloc(sizeof *blk + (size_t)b->nsteps * sizeof(struct store_rows));
    blk->pub.nsteps = b->nsteps;
    blk->pub.steps = blk->steps;
    blk->cols = ncols_total ? xmalloc(ncols_total * sizeof *blk->cols) : NULL;
    blk->bytes = b->bytes.len ? buf_detach(&b->bytes, NULL) : NULL;
    buf_clear(&b->bytes);

    const char **cols = blk->cols;
    for (int i = 0; i < b->nsteps; i++) {
        struct store__rows_build *r = &b->steps[i];
        struct store_rows *out = &blk->steps[i];
        out->ncols = r->ncols;
        out->nrows = r->nrows;
        out->changes = r->changes;
        out->last_id = r->last_id;
        out->cols = cols;
        for (int c = 0; c < r->ncols; c++)
            cols[c] = blk->bytes + r->col_offs[c];
        cols += r->ncols;
        size_t nvals = (size_t)r->nrows * (size_t)r->ncols;
        for (size_t v = 0; v < nvals; v++) {
            struct store_value *val = &r->vals[v];
            if (val->type == STORE_TEXT || val->type == STORE_BLOB)
                val->v.s = blk->bytes + (size_t)val->v.i;
        }
        out->vals = nvals ? r->vals : NULL;
        if (nvals == 0)
            free(r->vals);
        free(r->col_offs);
        r->vals = NULL;
        r->col_offs = NULL;
    }
    b->nsteps = 0;
    return &blk->pub;
}

void store__rb_reset(struct store__result_build *b)
{
    for (int i = 0; i < b->nsteps; i++) {
        free(b->steps[i].vals);
        free(b->steps[i].col_offs);
    }
    b->nsteps = 0;
    buf_clear(&b->bytes);
}

void store__rb_release(struct store__result_build *b)
{
    store__rb_reset(b);
    free(b->steps);
    b->steps = NULL;
    b->cap_steps = 0;
    buf_release(&b->bytes);
}

void store_result_free(struct store_result *res)
{
    if (res == NULL)
        return;
    struct result_block *blk = (struct result_block *)res;
    for (int i = 0; i < blk->pub.nsteps; i++)
        free((void *)blk->steps[i].vals);
    free(blk->cols);
    free(blk->bytes);
    free(blk);
}

const struct store_rows *store_result_step(const struct store_result *res, int i)
{
    if (res == NULL)
        return NULL;
    if (i < 0)
        i += res->nsteps;
    if (i < 0 || i >= res->nsteps)
        return NULL;
    return &res->steps[i];
}

const struct store_value *store_rows_value(const struct store_rows *r, int row, int col)
{
    if (r == NULL || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
        return NULL;
    return &r->vals[(size_t)row * (size_t)r->ncols + (size_t)col];
}

int store_rows_col(const struct store_rows *r, const char *name)
{
    if (r == NULL)
        return -1;
    for (int c = 0; c < r->ncols; c++)
        if (strcmp(r->cols[c], name) == 0)
            return c;
    return -1;
}

const char *store_rows_text(const struct store_rows *r, int row, int col)
{
    const struct store_value *v = store_rows_value(r, row, col);
    return v && v->type == STORE_TEXT ? v->v.s : NULL;
}

int64_t store_rows_inserted_id(const struct store_rows *r)
{
    if (r == NULL)
        return 0;
    if (r->nrows > 0)
        return store_rows_int(r, 0, 0);
    return r->changes > 0 ? r->last_id : 0;
}

int64_t store_rows_int(const struct store_rows *r, int row, int col)
{
    const struct store_value *v = store_rows_value(r, row, col);
    if (v == NULL)
        return 0;
    if (v->type == STORE_INT)
        return v->v.i;
    if (v->type == STORE_REAL) {
        if (!(v->v.r > -9.2e18 && v->v.r < 9.2e18))
            return v->v.r > 0 ? INT64_MAX : v->v.r < 0 ? INT64_MIN : 0; /* also NaN -> 0 */
        return (int64_t)v->v.r;
    }
    return 0;
}

bool store_rows_is_null(const struct store_rows *r, int row, int col)
{
    const struct store_value *v = store_rows_value(r, row, col);
    return v == NULL || v->type == STORE_NULL;
}

int store__migration_index(const struct store_migration *m, int n, int version)
{
    for (int k = 0; k < n; k++)
        if (m[k].version == version)
            return k;
    return -1;
}
