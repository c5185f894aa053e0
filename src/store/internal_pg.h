/*
 * Shared by the PostgreSQL backend's two files (and nothing else): a
 * connection with its prepared statements and result builder
 * (store_pg_conn.c), used by the writer and reader threads (store_pg.c).
 * Every function takes a connection owned by the calling thread.
 */
#ifndef HERALD_STORE_INTERNAL_PG_H
#define HERALD_STORE_INTERNAL_PG_H

#include <libpq-fe.h>

#include "internal.h"

struct store__pgstmt {
    uint64_t hash;
    char *sql;
    char name[24];
    int nparams; /* as PostgreSQL counts them ($n) */
};

struct store__pgconn {
    PGconn *c;
    bool writer;
    struct store__pgstmt *stmts;
    int nstmts, cap;
    unsigned next_id;
    struct store__result_build rb;
};

/* A statement's parameters in libpq's arrays (text, int8 and float8 as text, bytea binary). */
struct store__pg_params {
    int n;
    const char **vals;
    int *lens, *fmts;
    Oid *types;
    char (*nums)[32];
};

/* Connects to url and sets the session up (durability, read-only for readers, lock wait). */
int store__pgconn_open(struct store__pgconn *c, const char *url, bool writer,
                       const struct store_options *o, char *err, size_t errlen);
/* Closes the connection and frees what it holds. */
void store__pgconn_close(struct store__pgconn *c);
/* After a connection failure: reconnects (prepared statements are gone with the old one). */
void store__pgconn_reset(struct store__pgconn *c, const struct store_options *o);
/* Runs a command without parameters; 0 or ERR_BACKEND (libpq's message in err if given). */
int store__pgconn_exec(struct store__pgconn *c, const char *sql, char *err, size_t errlen);
/* The prepared statement for sql (prepared on first use); NULL: run it unprepared, or
 * *status was set (preparing failed). */
const char *store__pgconn_stmt(struct store__pgconn *c, const char *sql, int nparams,
                               const Oid *types, int *status);
/* A step's PostgreSQL text; NULL with *status set when it has none or is refused. */
const char *store__pg_step_sql(const struct store_op *op, const struct store_step *step,
                               int *status);
/* Fills pp with the parameters of step (freed with store__pg_params_free). */
void store__pg_params_build(struct store__pg_params *pp, const struct store_op *op,
                            const struct store_step *step);
void store__pg_params_free(struct store__pg_params *pp);
/* Turns a statement's result into the op's next step in c->rb; 0 or a negative enum err
 * (ERR_NOTFOUND when a "require a row" step found none). */
int store__pgconn_take_result(struct store__pgconn *c, const struct store_step *step, PGresult *r);
/* Runs every step of op one round trip each, results into c->rb; 0 or a negative enum err. */
int store__pgconn_run_steps(struct store__pgconn *c, const struct store_op *op);

#endif
