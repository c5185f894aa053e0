/*
 * The store: Herald's backend-neutral persistence interface (ADR 0005).
 * Feature modules describe work as ops — one or more SQL statements with bound
 * parameters, each a static struct store_sql (Herald's in store/sql.h) — and
 * submit them without blocking: writes go to the one writer thread, which runs
 * everything queued in one transaction and commits it (group commit); reads go
 * to a small pool of reader threads, each with its own connection. The event
 * loop never waits on the database.
 *
 * Threads: store_write() and store_read() may be called from any thread,
 * including from inside a completion callback. The completion callback runs
 * ON A STORE THREAD (the writer or a reader), never on the caller's loop: it
 * must be short and must not touch loop-owned state; the usual callback takes
 * ownership of the result and posts it to its loop (http_req_post) — the loop
 * hops back by itself. A write's callback runs only after the transaction that
 * holds the write has committed (with the durability chosen at open), which is
 * what lets a handler send its 2xx.
 *
 * Feature modules include this header only; sqlite3.h and libpq-fe.h stay
 * inside src/store/.
 */
#ifndef HERALD_STORE_STORE_H
#define HERALD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_op;

/* HERALD_DURABILITY: a 2xx means committed; strict also means fsynced. */
enum store_durability {
    STORE_DURABILITY_NORMAL = 0, /* survives a process crash: SQLite synchronous=NORMAL,
                                    PostgreSQL synchronous_commit=off */
    STORE_DURABILITY_STRICT = 1, /* also survives power loss: SQLite synchronous=FULL,
                                    PostgreSQL synchronous_commit=on */
};

/*
 * The SQL text of one statement, per backend. The store picks the text of the
 * backend it runs on; a NULL text makes ops using it fail with ERR_BACKEND on
 * that backend. Parameters are numbered: `?1, ?2` for SQLite, `$1, $2` for
 * PostgreSQL. Keep statements static (one text per statement, optional
 * filters written as `(?1 IS NULL OR col = ?1)`, lists passed as one JSON
 * parameter): the connections cache prepared statements keyed by their text.
 *
 * Write a statement once with STORE_SQL("... ?1 ..."): the SQLite text, from
 * which the PostgreSQL text is derived on first use (store_sql_derive_pg()),
 * kept for the life of the process. Give both texts — {.sqlite = ..., .pg =
 * ...} — only where the dialects differ in more than the parameter marks.
 * Herald's statements live in src/store/sql/<table>.c (store/sql.h).
 */
struct store_sql {
    const char *sqlite;
    const char *pg;
    struct store_sql_derived *derived; /* STORE_SQL(): the store's cache of the derived pg text */
};

/* Private to the store: where STORE_SQL() keeps the derived PostgreSQL text. */
struct store_sql_derived {
    char *_Atomic pg; /* set once by the first thread that needs it, then read-only */
};

/*
 * A statement written once: text is SQLite's, with ?N parameters; the
 * PostgreSQL text is derived from it. Only at file scope (the cache is a
 * static compound literal), as the initializer of a const struct store_sql.
 */
#define STORE_SQL(text)                                                                            \
    {                                                                                              \
        .sqlite = (text), .pg = NULL, .derived = &(struct store_sql_derived)                       \
        {                                                                                          \
            NULL                                                                                   \
        }                                                                                          \
    }

/*
 * The PostgreSQL text of a SQLite text written with ?N parameters: each ?N
 * outside string literals ('...'), quoted identifiers ("...") and comments
 * becomes $N; everything else is copied. Returns a new string (the caller
 * frees it), or NULL when the text cannot be derived: a ? without a number,
 * a $ outside a literal (a parameter mark on SQLite, something else on
 * PostgreSQL) or an unterminated literal, identifier or comment. Any thread.
 */
char *store_sql_derive_pg(const char *sqlite);

/*
 * The PostgreSQL text of sql: .pg, or for STORE_SQL() the derived text
 * (derived on the first call, then cached; safe from any thread), or NULL
 * when it has none or cannot be derived. The text lives as long as sql.
 */
const char *store_sql_pg_text(const struct store_sql *sql);

/* The type of a bound parameter or a result value. */
enum store_type {
    STORE_NULL = 0,
    STORE_INT = 1,  /* int64_t */
    STORE_REAL = 2, /* double; results only (aggregates) */
    STORE_TEXT = 3, /* UTF-8, NUL-terminated, len excludes the NUL */
    STORE_BLOB = 4,
};

/* One value of a result row. Text and blobs point into the result's storage. */
struct store_value {
    enum store_type type;
    size_t len; /* STORE_TEXT and STORE_BLOB: bytes (a NUL follows them either way) */
    union {
        int64_t i;
        double r;
        const char *s;
        const void *p;
    } v;
};

/* What one statement of an op produced. */
struct store_rows {
    int ncols;
    int nrows;
    const char **cols;              /* ncols column names */
    const struct store_value *vals; /* nrows * ncols values, row-major */
    int64_t changes;                /* rows inserted, updated or deleted by the statement */
    int64_t last_id;                /* SQLite: rowid of the last insert on the connection */
};

/* The result of an op: one struct store_rows per statement, in order. */
struct store_result {
    int nsteps;
    struct store_rows *steps;
};

/*
 * Completion of an op. status is 0 or a negative enum err: ERR_EXISTS (a unique
 * or primary-key constraint), ERR_NOTFOUND (a foreign key points nowhere, or a
 * statement marked with store_op_require_row() touched no row), ERR_INVAL (a
 * CHECK or NOT NULL constraint), ERR_AGAIN (the database stayed locked or the
 * queue is full), ERR_UNAVAIL (the store is closing), ERR_BACKEND (anything
 * else; the store has logged it). res is NULL unless status is 0; the callback
 * owns it and frees it with store_result_free(), possibly on another thread
 * after handing it over. Called exactly once, on a store thread (see the top
 * of this file).
 */
typedef void (*store_done_fn)(int status, struct store_result *res, void *ud);

/* Tuning; zero fields take the defaults in brackets. */
struct store_options {
    enum store_durability durability; /* [NORMAL] */
    int readers;                      /* reader threads and connections [2] */
    int group_max_ops;                /* ops per group commit [1000] */
    int group_max_us;                 /* statement time per group before it commits [2000] */
    int group_wait_us;                /* a small group under concurrent writes waits this long
                                         from its start for more [2000]; -1: never wait */
    int max_queue;                    /* queued ops per queue before ERR_AGAIN [100000] */
    int busy_timeout_ms;              /* wait for another process's lock [5000] */
    int stmt_cache;                   /* prepared statements kept per connection [64] */
    int checkpoint_pages;             /* SQLite: WAL growth that starts a checkpoint [2000] */
};

/* Counters since open; see store_stats_get(). */
struct store_stats {
    uint64_t writes;        /* write ops completed with status 0 */
    uint64_t write_errors;  /* write ops completed with an error */
    uint64_t commits;       /* group transactions committed */
    uint64_t rollbacks;     /* group transactions that could not commit */
    uint64_t largest_group; /* most ops committed by one transaction */
    uint64_t reads;         /* read ops completed with status 0 */
    uint64_t read_errors;   /* read ops completed with an error */
    uint64_t write_queue;   /* write ops waiting now */
    uint64_t read_queue;    /* read ops waiting now */
    uint64_t checkpoints;   /* WAL checkpoints completed (SQLite) */
};

/* ---- opening, migrating, closing (synchronous; start-up, CLI, tests) ---- */

/*
 * Opens the store named by url (HERALD_DATABASE_URL): `sqlite:PATH` (relative
 * to the working directory; `sqlite:///abs` also accepted; the parent
 * directory and the file are created, mode 0700/0600), `postgres://` or
 * `postgresql://` (a libpq connection URI; ERR_UNAVAIL when the server cannot
 * be reached). Starts the writer and reader threads (and, for SQLite, a
 * checkpointer). Does not migrate: call
 * store_migrate() next. Returns 0 and sets *out, or a negative enum err with
 * one line naming the problem in err (errlen bytes, NUL-terminated; never
 * contains a password); nothing is logged. Any thread that is not an event
 * loop.
 */
int store_open(const char *url, enum store_durability durability, struct store **out, char *err,
               size_t errlen);

/*
 * Hooks a store thread calls around handing out a batch of completions (the writes of one
 * group commit): begin before the first callback, end after the last. The server sets them
 * to its loops' server_post_hold/server_post_release, so a loop gets the batch in one
 * wake-up. Call before store_open (the store threads read them unlocked); NULL: none.
 */
void store_set_batch_hooks(void (*begin)(void), void (*end)(void));

/* store_open() with tuning; opts may be NULL for all defaults. */
int store_open_opts(const char *url, const struct store_options *opts, struct store **out,
                    char *err, size_t errlen);

/*
 * Applies the backend's pending migrations up to version target (0 = the
 * latest this binary knows), each in its own transaction, recording them in
 * schema_migrations(version, name, applied_at). Runs on the writer thread and
 * waits for it. A database newer than the binary, or one whose recorded
 * migration names differ from the binary's, is refused. Returns 0 and sets
 * *version (may be NULL) to the schema version now in place, or a negative
 * enum err with the reason in err. Not from an event loop.
 */
int store_migrate(struct store *st, int target, int *version, char *err, size_t errlen);

/*
 * Sets *version to the schema version in place (0 for a new database) without
 * changing anything. Returns 0 or a negative enum err (logged). Not from an
 * event loop.
 */
int store_schema_version(struct store *st, int *version);

/* The highest migration version this binary carries for st's backend. Any thread. */
int store_migrations_latest(const struct store *st);

/*
 * Stops accepting ops (they fail with ERR_UNAVAIL at once, from any thread),
 * lets the threads finish every op already queued — each callback is still
 * called once — then joins the threads and closes the connections. st stays
 * allocated (stats, refusals) until store_close. Idempotent, NULL-safe. Must
 * not be called from a store callback; not from an event loop (it waits for
 * the queue to drain).
 */
void store_stop(struct store *st);

/* store_stop if not done yet, then frees st. NULL-safe. Same threads as store_stop. */
void store_close(struct store *st);

/* "sqlite" or "postgres". Any thread. */
const char *store_backend_name(const struct store *st);

/* The durability st was opened with. Any thread. */
enum store_durability store_durability(const struct store *st);

/* Copies the counters into out. Any thread. */
void store_stats_get(struct store *st, struct store_stats *out);

/* ---- building ops (any thread; an op belongs to one thread until submitted) ---- */

/* A new, empty op. Owned by the caller until submitted. */
struct store_op *store_op_new(void);

/* Frees an op that was never submitted. NULL-safe. */
void store_op_free(struct store_op *op);

/*
 * Marks a read op as background work: many small reads that no request waits on (presence's
 * audience of each connection that opens). On SQLite they run in order on a reader of their
 * own with a 2 MiB page cache, so that their pages (at 10,000 users, every membership page)
 * neither fill the request readers' caches (kept for the working set of history and search)
 * nor are cached once per reader; PostgreSQL runs them as any read. Before submitting.
 */
void store_op_background(struct store_op *op);

/*
 * Appends a statement to op; the store_bind_* calls that follow bind its
 * parameters in order (?1, ?2, ...). sql is borrowed until the op completes
 * (normally static storage). Every parameter of the statement must be bound.
 */
void store_op_add(struct store_op *op, const struct store_sql *sql);

/* The number of statements added to op so far. */
unsigned store_op_nsteps(const struct store_op *op);

/* store_op_add() with texts copied into the op (for SQL built at run time). */
void store_op_add_copy(struct store_op *op, const char *sqlite, const char *pg);

/*
 * Marks the last added statement as required to change (or, for a query,
 * return) at least one row; otherwise the op fails with ERR_NOTFOUND and
 * nothing it did is kept. For "update by id" ops.
 */
void store_op_require_row(struct store_op *op);

/* Binds the next parameter of the last added statement. Text and blobs are copied. */
void store_bind_null(struct store_op *op);
void store_bind_int(struct store_op *op, int64_t v);
void store_bind_real(struct store_op *op, double v);
/* s may be NULL, which binds NULL. */
void store_bind_text(struct store_op *op, const char *s);
void store_bind_textn(struct store_op *op, const char *s, size_t n);
void store_bind_blob(struct store_op *op, const void *p, size_t n);

/* ---- submitting ---- */

/*
 * Queues op for the writer. Its statements run in one transaction shared with
 * the other queued writes (group commit); if one of them fails, only this op
 * is undone and failed, the rest of the group commits. done is called once,
 * on the writer thread, after the commit. Takes ownership of op in every
 * case. Returns 0, or ERR_UNAVAIL (closing) or ERR_AGAIN (queue full), in
 * which case done is never called. Any thread; never blocks on the database.
 */
int store_write(struct store *st, struct store_op *op, store_done_fn done, void *ud);

/*
 * Queues op for a reader connection (an op of several statements sees one
 * snapshot). Ops that write fail with ERR_BACKEND. done is called once on a
 * reader thread. Ownership and returns as store_write().
 */
int store_read(struct store *st, struct store_op *op, store_done_fn done, void *ud);

/*
 * Submits and waits: store_write()/store_read() followed by waiting for the
 * completion. For the CLI, start-up, tests and threads of their own that may
 * block (the revocation poller, chat's retention) ONLY — an event loop must
 * never call these, nor may a store callback (it would wait on itself). Takes
 * ownership of op. Returns the op's status; on 0 sets *res (may be NULL to
 * discard the result; the caller owns it otherwise).
 */
int store_write_wait(struct store *st, struct store_op *op, struct store_result **res);
/*
 * store_write_wait, and committed(status, res, ud) runs ON THE WRITER THREAD once the op is
 * done (right after the group commit that holds it, in commit order with the other writes'
 * completions), before the caller wakes; res is borrowed (NULL unless status is 0). What it
 * publishes leaves in commit order with the events of kit_store_committed (docs/chat.md,
 * "Order"). Not called when the store refuses the op (ERR_UNAVAIL, ERR_AGAIN). The same
 * rules as a store callback: it must not wait on the store.
 */
int store_write_wait_committed(struct store *st, struct store_op *op, store_done_fn committed,
                               void *ud, struct store_result **res);
int store_read_wait(struct store *st, struct store_op *op, struct store_result **res);

/* Checks that a reader can run a query (readiness probe). done as store_read(). */
int store_ping(struct store *st, store_done_fn done, void *ud);

/* ---- results (any thread, by their owner) ---- */

/* Frees a result. NULL-safe. */
void store_result_free(struct store_result *res);

/* Statement i of the op (negative counts from the end: -1 is the last); NULL if out of range. */
const struct store_rows *store_result_step(const struct store_result *res, int i);

/* The value at (row, col); NULL if out of range. */
const struct store_value *store_rows_value(const struct store_rows *r, int row, int col);

/* The index of the column called name, or -1. */
int store_rows_col(const struct store_rows *r, const char *name);

/* The text at (row, col), or NULL when it is NULL, not text, or out of range. */
const char *store_rows_text(const struct store_rows *r, int row, int col);

/* The integer at (row, col); 0 when NULL or out of range; reals are truncated. */
int64_t store_rows_int(const struct store_rows *r, int row, int col);

/*
 * The integer key an INSERT of one row gave it: the first column of its first returned row
 * (PostgreSQL, RETURNING), else the rowid SQLite reports (a statement written without
 * RETURNING on SQLite, which would collect the row in a temporary table); 0 when the
 * statement inserted nothing.
 */
int64_t store_rows_inserted_id(const struct store_rows *r);

/* True when (row, col) is NULL or out of range. */
bool store_rows_is_null(const struct store_rows *r, int row, int col);

#endif
