/*
 * Shared between the store's files: the op and store structures, the backend
 * table that store.c dispatches through, the result builder the backends fill
 * rows with, and the embedded migration lists. Nothing outside src/store/
 * includes this file.
 */
#ifndef HERALD_STORE_INTERNAL_H
#define HERALD_STORE_INTERNAL_H

#include "store.h"

#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum store_kind { STORE_KIND_SQLITE = 0, STORE_KIND_PG = 1 };

/* A bound parameter; text and blob bytes live in the op's bytes buffer. */
struct store_param {
    enum store_type type;
    size_t off, len; /* STORE_TEXT, STORE_BLOB */
    union {
        int64_t i;
        double r;
    } v;
};

#define STORE_STEP_REQUIRE_ROW 1u
#define STORE_STEP_COPIED 2u /* texts are offsets into the op's bytes, not sql */

struct store_step {
    const struct store_sql *sql;
    size_t text_off[2]; /* STORE_STEP_COPIED: offsets of the sqlite and pg texts (SIZE_MAX: none) */
    unsigned first;     /* index of the first parameter */
    unsigned nparams;
    unsigned flags;
};

/* Internal op kinds: SQL statements, or a function run by the writer alone. */
enum store_op_kind { STORE_OP_SQL = 0, STORE_OP_FN = 1 };

/* fn ops: run on the writer thread outside any group, with the backend's connection. */
typedef int (*store__fn)(void *conn, void *arg);

#define STORE_OP_INLINE_STEPS 2
#define STORE_OP_INLINE_PARAMS 8

struct store_op {
    struct store_op *next; /* queue link */
    enum store_op_kind kind;
    bool background; /* store_op_background */
    struct store_step *steps;
    unsigned nsteps, cap_steps;
    struct store_param *params;
    unsigned nparams, cap_params;
    struct buf bytes;
    store_done_fn done;
    void *ud;
    store__fn fn;
    void *fn_arg;
    struct store_step inline_steps[STORE_OP_INLINE_STEPS];
    struct store_param inline_params[STORE_OP_INLINE_PARAMS];
};

/* The text of step s for backend kind, or NULL. */
const char *store__step_sql(const struct store_op *op, const struct store_step *s,
                            enum store_kind kind);

/* A param's text/blob bytes (NUL-terminated). */
static inline const char *store__param_bytes(const struct store_op *op, const struct store_param *p)
{
    return op->bytes.data + p->off;
}

struct store_backend {
    const char *name;
    /* Queues op (ownership taken). Returns 0, ERR_UNAVAIL or ERR_AGAIN (op freed, no callback). */
    int (*submit)(struct store *st, struct store_op *op, bool write);
    int (*migrate)(struct store *st, int target, int *version, char *err, size_t errlen);
    int (*migrations_latest)(void);
    int (*schema_version)(struct store *st, int *version);
    /* Drains, joins, closes and frees the backend part (st->impl). */
    void (*close)(struct store *st);
};

struct store_counters {
    atomic_uint_fast64_t writes, write_errors, commits, rollbacks, largest_group;
    atomic_uint_fast64_t reads, read_errors, write_queue, read_queue, checkpoints;
};

struct store {
    const struct store_backend *be;
    enum store_kind kind;
    struct store_options opts; /* defaults filled in */
    struct store_counters stats;
    void *impl;
    pthread_rwlock_t gate; /* submits hold it shared; store_stop takes it once, exclusively */
    bool stopped;          /* under gate: ops are refused, impl is being (or was) closed */
};

/* Opens the SQLite backend on path (store.c has made the parent directory). */
int store__sqlite_open(struct store *st, const char *path, char *err, size_t errlen);

/* Opens the PostgreSQL backend on a libpq connection URL (postgres://...). */
int store__pg_open(struct store *st, const char *url, char *err, size_t errlen);

/* The PostgreSQL migration runner (migrations_pg.c); fn ops get the writer's PGconn *. */
int store__pg_migrate(struct store *st, int target, int *version, char *err, size_t errlen);
int store__pg_schema_version(struct store *st, int *version);
int store__pg_migrations_latest(void);

/*
 * True for a statement that would end or nest the store's own transactions
 * (BEGIN, START, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE):
 * inside a group it would commit or undo other ops. Backends refuse them.
 */
bool store__is_txn_control(const char *sql);

/* Runs fn(conn, arg) on the writer thread, outside any group, and waits; returns its status. */
int store__fn_wait(struct store *st, store__fn fn, void *arg);

/* Completes op: calls its callback with status/res and frees the op. */
void store__op_complete(struct store_op *op, int status, struct store_result *res);
/* Around a batch of store__op_complete calls (store_set_batch_hooks). */
void store__batch_begin(void);
void store__batch_end(void);

/* ---- result builder (backends fill one result per op) ---- */

struct store__rows_build {
    int ncols;
    int nrows;
    size_t *col_offs;         /* ncols offsets into bytes */
    struct store_value *vals; /* text/blob values hold offsets in v.i until finished */
    size_t cap_vals;
    int64_t changes, last_id;
};

struct store__result_build {
    struct store__rows_build *steps;
    int nsteps, cap_steps;
    struct buf bytes;
};

void store__rb_init(struct store__result_build *b);
/* Starts the rows of the next statement, with ncols columns. */
void store__rb_step(struct store__result_build *b, int ncols);
/* Sets the name of column i of the current statement. */
void store__rb_col(struct store__result_build *b, int i, const char *name);
/* Starts a new row in the current statement. */
void store__rb_row(struct store__result_build *b);
/* Sets value col of the current row. */
void store__rb_null(struct store__result_build *b, int col);
void store__rb_int(struct store__result_build *b, int col, int64_t v);
void store__rb_real(struct store__result_build *b, int col, double v);
void store__rb_bytes(struct store__result_build *b, int col, enum store_type type, const void *p,
                     size_t n);
/* Records changes and last id of the current statement. */
void store__rb_counts(struct store__result_build *b, int64_t changes, int64_t last_id);
/* Turns the builder into a result (the builder is empty afterwards). */
struct store_result *store__rb_finish(struct store__result_build *b);
/* Discards what the builder holds; it can be reused. */
void store__rb_reset(struct store__result_build *b);
void store__rb_release(struct store__result_build *b);

/* ---- embedded migrations ---- */

struct store_migration {
    int version; /* ascending; a number may be skipped (a branch's own number, merged later) */
    const char *name;
    const char *sql;
};

extern const struct store_migration store__sqlite_migrations[];
extern const int store__sqlite_nmigrations;
extern const struct store_migration store__pg_migrations[];
extern const int store__pg_nmigrations;

/* The index in m (n entries, ascending versions) of version, or -1 when m has no such one. */
int store__migration_index(const struct store_migration *m, int n, int version);

#endif
