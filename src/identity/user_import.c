/*
 * User import from JSON lines or CSV (see user_import.h). Records become
 * cJSON objects in the shape of POST /users, so that one validator
 * (identity__user_fields_parse, on the kit's decoder) serves the API and the import.
 */
#include "user_import.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "auth/password.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/json_check.h"
#include "core/xalloc.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define IMPORT_LINE_MAX (1024 * 1024) /* bytes of one record */
#define IMPORT_COLS_MAX 64
#define IMPORT_ERRORS_SHOWN 20

/* The ids seen by the validating pass, with their first line: a repeat is refused. */
struct seen {
    struct seen_slot {
        char *id; /* owned; NULL: free */
        long line;
    } * slots;
    size_t cap, n;
};

struct reader {
    FILE *f;
    bool csv;
    long line;        /* lines read so far */
    long record_line; /* first line of the current record */
    char *cols[IMPORT_COLS_MAX];
    int ncols;
    struct buf field;
    char msg[256];   /* a record's message when it is not static */
    char where[256]; /* a record's field when it is not static */
};

static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Records id at line; returns 0, or the line of its first appearance. */
static long seen_add(struct seen *st, const char *id, long line)
{
    if (2 * (st->n + 1) > st->cap) {
        struct seen old = *st;
        st->cap = old.cap ? old.cap * 2 : 1024;
        st->slots = xcalloc(st->cap, sizeof(*st->slots));
        st->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i].id) {
                size_t k = id_hash(old.slots[i].id) & (st->cap - 1);
                while (st->slots[k].id)
                    k = (k + 1) & (st->cap - 1);
                st->slots[k] = old.slots[i];
                st->n++;
            }
        free(old.slots);
    }
    size_t k = id_hash(id) & (st->cap - 1);
    for (; st->slots[k].id; k = (k + 1) & (st->cap - 1))
        if (strcmp(st->slots[k].id, id) == 0)
            return st->slots[k].line;
    st->slots[k].id = xstrdup(id);
    st->slots[k].line = line;
    st->n++;
    return 0;
}

static void seen_release(struct seen *st)
{
    for (size_t i = 0; i < st->cap; i++)
        free(st->slots[i].id);
    free(st->slots);
    memset(st, 0, sizeof(*st));
}

/* ---- CSV (RFC 4180: quoted fields may hold commas, quotes as "" and newlines) */

/* Reads one record into fields (owned strings). 1: a record, 0: end, -1: error (msg). */
static int csv_record(struct reader *r, char **fields, int *n, const char **msg)
{
    *n = 0;
    int c = fgetc(r->f);
    if (c == EOF)
        return 0;
    r->line++;
    r->record_line = r->line;
    size_t total = 0;
    for (;;) {
        bool quoted = false;
        r->field.len = 0;
        if (c == '"') {
            quoted = true;
            for (;;) {
                c = fgetc(r->f);
                if (c == EOF) {
                    *msg = "unterminated quoted field";
                    return -1;
                }
                if (c == '"') {
                    c = fgetc(r->f);
                    if (c != '"')
                        break; /* closing quote; c is what follows */
                } else if (c == '\n') {
                    r->line++;
                } else if (c == '\0') {
                    *msg = "a NUL byte in a field";
                    return -1;
                }
                buf_putc(&r->field, (char)c);
                if (++total > IMPORT_LINE_MAX) {
                    *msg = "record longer than 1 MiB";
                    return -1;
                }
            }
        } else {
            while (c != ',' && c != '\n' && c != EOF) {
                if (c == '"') {
                    *msg = "a quote inside an unquoted field";
                    return -1;
                }
                if (c == '\0') {
                    *msg = "a NUL byte in a field";
                    return -1;
                }
                if (c != '\r')
                    buf_putc(&r->field, (char)c);
                if (++total > IMPORT_LINE_MAX) {
                    *msg = "record longer than 1 MiB";
                    return -1;
                }
                c = fgetc(r->f);
            }
        }
        if (quoted && c == '\r')
            c = fgetc(r->f);
        if (quoted && c != ',' && c != '\n' && c != EOF) {
            *msg = "text after a closing quote";
            return -1;
        }
        if (*n == IMPORT_COLS_MAX) {
            *msg = "more than 64 columns";
            return -1;
        }
        buf_putc(&r->field, '\0');
        fields[(*n)++] = xstrdup(r->field.data);
        if (c != ',')
            return 1; /* newline or end of file */
        c = fgetc(r->f);
    }
}

static const char *const contact_columns[] = {"email", "phone", "wechat_openid", NULL};

static bool is_contact(const char *name)
{
    for (int i = 0; contact_columns[i]; i++)
        if (strcmp(name, contact_columns[i]) == 0)
            return true;
    return strncmp(name, "contacts.", 9) == 0 && name[9] != '\0';
}

static bool column_is_known(const char *name)
{
    static const char *const plain[] = {"id",       "name",     "avatar",        "kind",
                                        "disabled", "metadata", "password_hash", NULL};
    for (int i = 0; plain[i]; i++)
        if (strcmp(name, plain[i]) == 0)
            return true;
    return is_contact(name);
}

/* A CSV row as a user object; NULL with msg/field on error. Empty cells are "not given". */
static cJSON *csv_object(struct reader *r, char **fields, int n, const char **msg,
                         const char **field)
{
    if (n != r->ncols) {
        *msg = "the number of columns differs from the header";
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < n; i++) {
        const char *col = r->cols[i], *v = fields[i];
        if (v[0] == '\0')
            continue;
        if (!json_utf8_is_valid(v, strlen(v))) {
            *msg = "not valid UTF-8";
            *field = col;
            cJSON_Delete(o);
            return NULL;
        }
        if (strcmp(col, "disabled") == 0) {
            bool t = strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
            bool f = strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0;
            if (!t && !f) {
                *msg = "must be true, false, 1 or 0";
                *field = col;
                cJSON_Delete(o);
                return NULL;
            }
            cJSON_AddBoolToObject(o, col, t);
        } else if (strcmp(col, "metadata") == 0) {
            struct json_check_result chk;
            int rc = json_check(v, strlen(v), REQUEST_JSON_DEPTH, &chk);
            cJSON *m = rc == 0 ? cJSON_Parse(v) : NULL;
            if (m == NULL) {
                /* the field names the place inside the JSON text where there is one */
                snprintf(r->where, sizeof(r->where), "%.64s%s%s", col, chk.path[0] ? "." : "",
                         chk.path);
                snprintf(r->msg, sizeof(r->msg), "%s%s",
                         rc == ERR_INVAL || chk.path[0] ? "" : "must be JSON text: ", chk.message);
                *msg = rc != 0 ? r->msg : "must be JSON text";
                *field = r->where;
                cJSON_Delete(o);
                return NULL;
            }
            cJSON_AddItemToObject(o, col, m);
        } else if (is_contact(col)) {
            const char *name = strncmp(col, "contacts.", 9) == 0 ? col + 9 : col;
            cJSON *contacts = cJSON_GetObjectItemCaseSensitive(o, "contacts");
            if (contacts == NULL)
                contacts = cJSON_AddObjectToObject(o, "contacts");
            cJSON_AddStringToObject(contacts, name, v);
        } else {
            cJSON_AddStringToObject(o, col, v);
        }
    }
    return o;
}

/* ---- records */

static int jsonl_record(struct reader *r, cJSON **out, const char **msg, const char **field)
{
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&line, &cap, r->f);
        if (n < 0) {
            free(line);
            return errno ? -2 : 0;
        }
        r->line++;
        r->record_line = r->line;
        if ((size_t)n > IMPORT_LINE_MAX) {
            free(line);
            *msg = "line longer than 1 MiB";
            return -1;
        }
        size_t i = 0;
        while (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')
            i++;
        if ((size_t)n == i)
            continue; /* blank line */
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        struct json_check_result chk;
        int rc = json_check(line, len, REQUEST_JSON_DEPTH, &chk);
        *out = rc == 0 ? cJSON_ParseWithLength(line, len) : NULL;
        free(line);
        if (rc != 0 && chk.path[0] != '\0') {
            /* a bad value, a repeated key or \u0000: name the field as the API does */
            snprintf(r->where, sizeof(r->where), "%s", chk.path);
            snprintf(r->msg, sizeof(r->msg), "%s", chk.message);
            *field = r->where;
            *msg = r->msg;
            return -1;
        }
        if (rc != 0) {
            snprintf(r->msg, sizeof(r->msg), "not a JSON object (%s)", chk.message);
            *msg = r->msg;
            return -1;
        }
        if (*out == NULL || !cJSON_IsObject(*out)) {
            cJSON_Delete(*out);
            *out = NULL;
            *msg = "not a JSON object";
            return -1;
        }
        return 1;
    }
}

/*
 * The next record as a user object. 1: *out set; 0: end; -1: invalid record
 * (msg, field); -2: I/O error.
 */
static int next_record(struct reader *r, cJSON **out, const char **msg, const char **field)
{
    *out = NULL;
    *field = NULL;
    if (!r->csv)
        return jsonl_record(r, out, msg, field);
    char *fields[IMPORT_COLS_MAX];
    int n = 0;
    int rc = csv_record(r, fields, &n, msg);
    while (rc == 1 && n == 1 && fields[0][0] == '\0' && r->ncols != 1) {
        free(fields[0]); /* a blank line */
        rc = csv_record(r, fields, &n, msg);
    }
    if (rc != 1) {
        for (int i = 0; i < n; i++)
            free(fields[i]);
        return rc;
    }
    *out = csv_object(r, fields, n, msg, field);
    for (int i = 0; i < n; i++)
        free(fields[i]);
    return *out ? 1 : -1;
}

static int read_header(struct reader *r, FILE *progress)
{
    char *fields[IMPORT_COLS_MAX];
    int n = 0;
    const char *msg = NULL;
    int rc = csv_record(r, fields, &n, &msg);
    if (rc != 1) {
        fprintf(progress, "line 1: %s\n", rc == 0 ? "no header row" : msg);
        for (int i = 0; i < n; i++)
            free(fields[i]);
        return ERR_INVAL;
    }
    bool has_id = false;
    for (int i = 0; i < n; i++) {
        r->cols[i] = fields[i];
        if (!column_is_known(fields[i])) {
            fprintf(progress, "line 1: unknown column \"%s\"\n", fields[i]);
            rc = ERR_INVAL;
        }
        has_id |= strcmp(fields[i], "id") == 0;
        for (int k = 0; k < i; k++)
            if (strcmp(fields[k], fields[i]) == 0) {
                fprintf(progress, "line 1: column \"%s\" appears twice\n", fields[i]);
                rc = ERR_INVAL;
            }
    }
    r->ncols = n;
    if (!has_id) {
        fprintf(progress, "line 1: the header has no id column\n");
        rc = ERR_INVAL;
    }
    return rc == 1 ? 0 : rc;
}

static bool hash_is_plausible(const char *h)
{
    size_t n = strlen(h);
    if (n < 8 || n >= PASSWORD_HASH_MAX ||
        !(strncmp(h, "$y$", 3) == 0 || strncmp(h, "$2a$", 4) == 0 || strncmp(h, "$2b$", 4) == 0 ||
          strncmp(h, "$2y$", 4) == 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/' || c == '$'))
            return false;
    }
    return true;
}

static int reader_open(struct reader *r, const char *path, bool csv, FILE *progress)
{
    memset(r, 0, sizeof(*r));
    r->csv = csv;
    r->f = fopen(path, "r");
    if (r->f == NULL) {
        fprintf(progress, "herald: cannot read %s: %s\n", path, strerror(errno));
        return ERR_IO;
    }
    /* a UTF-8 byte-order mark (spreadsheets' "CSV UTF-8" export) is not part of the first line */
    int c0 = fgetc(r->f), c1 = c0 == 0xEF ? fgetc(r->f) : EOF, c2 = c1 == 0xBB ? fgetc(r->f) : EOF;
    if (!(c0 == 0xEF && c1 == 0xBB && c2 == 0xBF))
        rewind(r->f);
    return csv ? read_header(r, progress) : 0;
}

static void reader_close(struct reader *r)
{
    if (r->f)
        fclose(r->f);
    for (int i = 0; i < r->ncols; i++)
        free(r->cols[i]);
    buf_release(&r->field);
}

/*
 * Commits one batch. Users whose record disables them or sets a password hash lose their
 * sessions as through the API: their refresh tokens in the same transaction, and, for the
 * users that existed before (read first), their access tokens and sockets by a revocation
 * that every server node reads from the store within about a second.
 */
static int batch_commit(struct identity *id, const char *app_id, struct store_op *op,
                        cJSON *flagged)
{
    int64_t now = clock_wall_ms();
    cJSON *existing = NULL;
    int rc = 0;
    if (cJSON_GetArraySize(flagged) > 0) {
        char *ids = cJSON_PrintUnformatted(flagged);
        struct store_op *q = store_op_new();
        store_op_add(q, &SQL_USERS_EXISTING);
        store_bind_text(q, app_id);
        store_bind_text(q, ids);
        struct store_result *res = NULL;
        rc = store_read_wait(id->store, q, &res);
        if (rc == 0) {
            existing = cJSON_CreateArray();
            const struct store_rows *rows = store_result_step(res, 0);
            for (int i = 0; rows && i < rows->nrows; i++)
                cJSON_AddItemToArray(existing, cJSON_CreateString(store_rows_text(rows, i, 0)));
            identity__refresh_revoke_many_add(op, app_id, ids, now);
        }
        store_result_free(res);
        cJSON_free(ids);
    }
    if (rc == 0)
        rc = store_write_wait(id->store, op, NULL);
    else
        store_op_free(op);
    const cJSON *u;
    cJSON_ArrayForEach(u, existing)
    {
        if (rc == 0)
            revoke_subject(id->revoke, REVOKE_USER, app_id, u->valuestring);
    }
    cJSON_Delete(existing);
    return rc;
}

/*
 * One pass. validate_only: count errors (printing the first ones), refusing an id that
 * appears twice; else write every record to app_id in batches.
 */
static int pass(struct identity *id, const char *app_id, struct reader *r, bool validate_only,
                FILE *progress, int64_t *count, int64_t *errors)
{
    struct store_op *op = NULL;
    cJSON *flagged = NULL; /* ids in op whose sessions end */
    struct seen seen = {0};
    int batch = 0, rc = 0;
    bool tty = isatty(fileno(progress));
    for (;;) {
        cJSON *o = NULL;
        const char *msg = NULL, *field = NULL;
        int got = next_record(r, &o, &msg, &field);
        if (got == 0)
            break;
        if (got == -2) {
            fprintf(progress, "herald: read error: %s\n", strerror(errno));
            rc = ERR_IO;
            break;
        }
        struct kit_error err;
        const char *hash = NULL;
        struct user_fields f;
        memset(&f, 0, sizeof(f));
        if (got == 1) {
            cJSON *h = cJSON_DetachItemFromObjectCaseSensitive(o, "password_hash");
            long first = 0;
            if (h && (!cJSON_IsString(h) || !hash_is_plausible(h->valuestring))) {
                msg = "must be a yescrypt ($y$) or bcrypt ($2b$) hash";
                field = "password_hash";
                got = -1;
            } else if (identity__user_fields_parse(o, USER_CREATE, "", &f, &err) != 0) {
                field = err.field;
                msg = err.message;
                got = -1;
            } else if (f.id == NULL) {
                msg = "is required";
                field = "id";
                got = -1;
            } else if (validate_only && (first = seen_add(&seen, f.id, r->record_line)) != 0) {
                /* as /users/batch: one record per user, or which one wins is a guess */
                snprintf(r->msg, sizeof(r->msg), "\"%s\" appears twice (lines %ld and %ld)", f.id,
                         first, r->record_line);
                msg = r->msg;
                field = "id";
                got = -1;
            }
            if (got == 1 && h)
                hash = h->valuestring;
            if (got == 1 && !validate_only) {
                if (op == NULL) {
                    op = store_op_new();
                    flagged = cJSON_CreateArray();
                }
                identity__user_upsert_add(op, app_id, &f, clock_wall_ms());
                if (hash) {
                    store_op_add(op, &SQL_USERS_SET_HASH);
                    store_bind_text(op, app_id);
                    store_bind_text(op, f.id);
                    store_bind_text(op, hash);
                }
                if (hash || f.disabled == 1)
                    cJSON_AddItemToArray(flagged, cJSON_CreateString(f.id));
            }
            identity__user_fields_release(&f);
            cJSON_Delete(h);
        }
        cJSON_Delete(o);
        if (got == -1) {
            if (++*errors <= IMPORT_ERRORS_SHOWN)
                fprintf(progress, "line %ld: %s%s%s\n", r->record_line, field ? field : "",
                        field ? ": " : "", msg);
            if (r->csv && msg && strstr(msg, "quote"))
                break; /* the rest of a broken CSV cannot be framed */
            continue;
        }
        ++*count;
        if (!validate_only && ++batch == USER_BATCH_MAX) {
            rc = batch_commit(id, app_id, op, flagged);
            cJSON_Delete(flagged);
            op = NULL;
            flagged = NULL;
            batch = 0;
            if (rc != 0)
                break;
            if (tty)
                fprintf(progress, "\rimported %lld users", (long long)*count);
            else if (*count % 100000 == 0)
                fprintf(progress, "imported %lld users\n", (long long)*count);
            fflush(progress);
        }
    }
    if (op != NULL && rc == 0)
        rc = batch_commit(id, app_id, op, flagged);
    else
        store_op_free(op);
    cJSON_Delete(flagged);
    seen_release(&seen);
    return rc;
}

int identity_users_import_check(FILE *in, bool csv, FILE *progress, int64_t *count, int64_t *errors)
{
    struct reader r;
    memset(&r, 0, sizeof(r));
    r.csv = csv;
    r.f = in;
    *count = *errors = 0;
    int rc = csv ? read_header(&r, progress) : 0;
    if (rc == 0)
        rc = pass(NULL, NULL, &r, true, progress, count, errors);
    r.f = NULL; /* the caller's */
    reader_close(&r);
    if (rc == 0 && *errors > 0)
        rc = ERR_INVAL;
    return rc;
}

int identity_users_import(struct identity *id, const char *app_key, const char *path,
                          enum user_import_format fmt, FILE *progress, int64_t *count)
{
    size_t plen = strlen(path);
    bool csv = fmt == USER_IMPORT_CSV ||
               (fmt == USER_IMPORT_AUTO && plen > 4 && strcasecmp(path + plen - 4, ".csv") == 0);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_ID_BY_KEY);
    store_bind_text(op, app_key);
    struct store_result *res = NULL;
    int rc = store_read_wait(id->store, op, &res);
    if (rc != 0)
        return rc;
    char app_id[JWT_APP_MAX + 1] = "";
    const char *found = store_rows_text(store_result_step(res, 0), 0, 0);
    if (found)
        snprintf(app_id, sizeof(app_id), "%s", found);
    store_result_free(res);
    if (app_id[0] == '\0')
        return ERR_NOTFOUND;

    struct reader r;
    int64_t n = 0, errors = 0;
    rc = reader_open(&r, path, csv, progress);
    if (rc == 0)
        rc = pass(id, app_id, &r, true, progress, &n, &errors);
    reader_close(&r);
    if (rc == 0 && errors > 0) {
        fprintf(progress, "%lld invalid record%s: nothing imported\n", (long long)errors,
                errors == 1 ? "" : "s");
        return ERR_INVAL;
    }
    if (rc != 0)
        return rc == 1 ? ERR_INVAL : rc;
    n = 0;
    rc = reader_open(&r, path, csv, progress);
    if (rc == 0)
        rc = pass(id, app_id, &r, false, progress, &n, &errors);
    reader_close(&r);
    if (isatty(fileno(progress)))
        fputc('\n', progress);
    if (count)
        *count = n;
    return rc;
}
