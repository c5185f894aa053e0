/*
 * PostgreSQL connections for the store (ADR 0007): opening one with the
 * session the durability mode asks for, resetting it after a failure,
 * preparing statements once per connection keyed by their text, passing
 * parameters (text, with integers typed int8 and blobs as binary bytea),
 * typing result values by column OID, and mapping SQLSTATEs to enum err.
 * The threads that use these connections are in store_pg.c.
 */
#include "internal_pg.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- connections */

void store__pgconn_close(struct store__pgconn *c)
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
int store__pgconn_exec(struct store__pgconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c->c, sql);
    int st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : ERR_BACKEND;
    if (rc != 0 && err)
        snprintf(err, errlen, "store: %s", PQerrorMessage(c->c));
    PQclear(r);
    return rc;
}

static int session_setup(struct store__pgconn *c, const struct store_options *o, char *err,
                         size_t errlen)
{
    /* durability: strict waits for the WAL flush (survives power loss); normal does not wait
     * for it, and PostgreSQL keeps the commit when Herald crashes (ADR 0007) */
    const char *sync = o->durability == STORE_DURABILITY_STRICT ? "SET synchronous_commit = on"
                                                                : "SET synchronous_commit = off";
    if (store__pgconn_exec(c, sync, err, errlen) != 0 ||
        store__pgconn_exec(c, "SET client_min_messages = warning", err, errlen) != 0)
        return ERR_BACKEND;
    if (!c->writer &&
        store__pgconn_exec(c, "SET default_transaction_read_only = on", err, errlen) != 0)
        return ERR_BACKEND;
    /* a writer holds the nodes' write-order lock (store_pg.c) while its transaction is open:
     * one whose node stopped answering (frozen, cut off) is ended, and the lock freed */
    if (c->writer &&
        store__pgconn_exec(c, "SET idle_in_transaction_session_timeout = 10000", err, errlen) != 0)
        return ERR_BACKEND;
    char t[64];
    snprintf(t, sizeof(t), "SET lock_timeout = %d", o->busy_timeout_ms);
    return store__pgconn_exec(c, t, err, errlen);
}

/*
 * Overwrites with '*' each occurrence of pw[0..n) in s that stands as a whole
 * value: between ':' and '@' (user info), after '=' up to the end of the value
 * (a query parameter), or alone between quotes (the token libpq could not
 * decode). libpq puts the password in a message only when it echoes the URL
 * or a part of it, always in one of these places; anywhere else the same
 * letters are part of ordinary text ("p" in "port 1 failed") and stay.
 */
static void blank(char *s, const char *pw, size_t n)
{
    if (n == 0)
        return;
    for (char *p = s; (p = memmem(p, strlen(p), pw, n)) != NULL; p++) {
        char before = p > s ? p[-1] : '\0', after = p[n];
        bool ends = after == '\0' || after == '&' || after == ' ' || after == '"' ||
                    after == '\'' || after == '@' || after == '/' || after == '?';
        if ((before == ':' && after == '@') || (before == '=' && ends) ||
            (before == '"' && after == '"') || (before == '\'' && after == '\'')) {
            memset(p, '*', n);
            p += n - 1;
        }
    }
}

/*
 * Blanks the password of url (user:PASSWORD@ or password=PASSWORD), raw and
 * percent-decoded, where msg shows it as a value (see blank()).
 */
static void redact_password(char *msg, const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t auth = strcspn(p, "@/?");
    const char *colon = memchr(p, ':', auth);
    const char *spans[2][2] = {{NULL, NULL}, {NULL, NULL}};
    if (p[auth] == '@' && colon)
        spans[0][0] = colon + 1, spans[0][1] = p + auth;
    const char *q = strstr(url, "password=");
    if (q) {
        q += strlen("password=");
        spans[1][0] = q, spans[1][1] = q + strcspn(q, "& ");
    }
    for (int i = 0; i < 2; i++) {
        if (spans[i][0] == NULL)
            continue;
        size_t n = (size_t)(spans[i][1] - spans[i][0]);
        char dec[256];
        size_t k = 0;
        for (size_t j = 0; j < n && k + 1 < sizeof(dec); j++) {
            const char *h = spans[i][0] + j;
            if (h[0] == '%' && j + 2 < n && isxdigit((unsigned char)h[1]) &&
                isxdigit((unsigned char)h[2])) {
                char hex[3] = {h[1], h[2], '\0'};
                dec[k++] = (char)strtol(hex, NULL, 16);
                j += 2;
            } else {
                dec[k++] = spans[i][0][j];
            }
        }
        blank(msg, spans[i][0], n);
        if (k != n)
            blank(msg, dec, k);
    }
}

int store__pgconn_open(struct store__pgconn *c, const char *url, bool writer,
                       const struct store_options *o, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->writer = writer;
    store__rb_init(&c->rb);
    c->c = PQconnectdb(url);
    if (PQstatus(c->c) != CONNECTION_OK) {
        /* libpq names host and port; a malformed URL may be echoed, so blank the password */
        snprintf(err, errlen, "HERALD_DATABASE_URL: cannot connect to PostgreSQL: %s",
                 PQerrorMessage(c->c));
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        redact_password(err, url);
        return ERR_UNAVAIL;
    }
    return session_setup(c, o, err, errlen);
}

/* After a connection failure: reset it (prepared statements are gone with it). */
void store__pgconn_reset(struct store__pgconn *c, const struct store_options *o)
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

static int map_error(struct store__pgconn *c, PGresult *r)
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
        (strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0) ||
        strcmp(state, "57P01") == 0)
        return ERR_AGAIN;
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    return log_fail(ERR_BACKEND, "store", "PostgreSQL error %s: %s", state, msg ? msg : "");
}

/* The prepared statement of sql on c (preparing it on first use); NULL: run unprepared. */
const char *store__pgconn_stmt(struct store__pgconn *c, const char *sql, int nparams,
                               const Oid *types, int *status)
{
    uint64_t h = fnv1a(sql);
    struct store__pgstmt *p = NULL;
    for (int i = 0; i < c->nstmts && p == NULL; i++)
        if (c->stmts[i].hash == h && strcmp(c->stmts[i].sql, sql) == 0)
            p = &c->stmts[i];
    if (p == NULL) {
        if (c->nstmts >= PG_STMT_CACHE_MAX)
            return NULL;
        if (c->nstmts == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 32;
            c->stmts = xrealloc(c->stmts, (size_t)c->cap * sizeof(*c->stmts));
        }
        p = &c->stmts[c->nstmts];
        snprintf(p->name, sizeof(p->name), "h%u", c->next_id++);
        /* prepare, then ask how many parameters the statement has (once per connection) */
        PGresult *r = PQprepare(c->c, p->name, sql, nparams, types);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
            r = PQdescribePrepared(c->c, p->name);
        }
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            *status = map_error(c, r);
            PQclear(r);
            return NULL;
        }
        p->nparams = PQnparams(r);
        PQclear(r);
        p->hash = h;
        p->sql = xstrdup(sql);
        c->nstmts++;
    }
    if (p->nparams != nparams) {
        *status = log_fail(ERR_BACKEND, "store", "statement has %d parameters but %d were bound",
                           p->nparams, nparams);
        return NULL;
    }
    return p->name;
}

/* ---- running statements */

static void collect(struct store__pgconn *c, PGresult *r)
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

void store__pg_params_build(struct store__pg_params *pp, const struct store_op *op,
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

void store__pg_params_free(struct store__pg_params *pp)
{
    free(pp->vals);
    free(pp->lens);
    free(pp->fmts);
    free(pp->types);
    free(pp->nums);
}

/* Turns a statement's result into the op's next step; 0 or a negative enum err. */
int store__pgconn_take_result(struct store__pgconn *c, const struct store_step *step, PGresult *r)
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

/* The PostgreSQL text of a step; NULL with *status set when it has none or is refused. */
const char *store__pg_step_sql(const struct store_op *op, const struct store_step *step,
                               int *status)
{
    const char *sql = store__step_sql(op, step, STORE_KIND_PG);
    if (sql == NULL)
        *status = log_fail(ERR_BACKEND, "store", "statement has no PostgreSQL text");
    else if (store__is_txn_control(sql))
        *status = log_fail(ERR_BACKEND, "store",
                           "cannot prepare statement: transactions belong to the store");
    else
        return sql;
    return NULL;
}

static int run_step(struct store__pgconn *c, const struct store_op *op,
                    const struct store_step *step)
{
    int status = 0;
    const char *sql = store__pg_step_sql(op, step, &status);
    if (sql == NULL)
        return status;
    struct store__pg_params pp;
    store__pg_params_build(&pp, op, step);
    const char *name = store__pgconn_stmt(c, sql, pp.n, pp.types, &status);
    if (status == 0) {
        PGresult *r = name ? PQexecPrepared(c->c, name, pp.n, pp.vals, pp.lens, pp.fmts, 0)
                           : PQexecParams(c->c, sql, pp.n, pp.types, pp.vals, pp.lens, pp.fmts, 0);
        status = store__pgconn_take_result(c, step, r);
        PQclear(r);
    }
    store__pg_params_free(&pp);
    return status;
}

int store__pgconn_run_steps(struct store__pgconn *c, const struct store_op *op)
{
    for (unsigned i = 0; i < op->nsteps; i++) {
        int status = run_step(c, op, &op->steps[i]);
        if (status < 0)
            return status;
    }
    return 0;
}
