/*
 * Message search (docs/chat.md, "Search"): GET /api/v1/search/messages?q=&conversation_id=
 * &page=&page_size= for an end user over the conversations they belong to (from the seq they
 * joined at, as the history), and for an operator holding `conversations:monitor` over one
 * app they hold it on (app_id=). One read op: the scope check (the app, the conversation),
 * then the newest 1,000 hits with their messages, which this file ranks (BM25's term
 * frequency over the texts, the same on both stores) and pages, with their snippets. The index is
 * kept by the writes themselves (chat__search_put in the send and the edit,
 * SQL_MESSAGE_SEARCH_DELETE in the recall, the foreign key for deletions); chat__search_backfill
 * indexes at start-up what was written before migration 013. The terms, the query expression and
 * the snippet: search_text.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "chat/search_text.h"
#include "console/console.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "kit/paging.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define MONITOR_PERM "conversations:monitor"
#define SEARCH_HITS_MAX 1000       /* the newest hits read, ranked, counted and served */
#define SEARCH_Q_BYTES 2048        /* the q parameter read, decoded (100 characters fit) */
#define MOVE_BATCH 250             /* sent messages indexed per write by the indexer */
#define BACKFILL_BATCH 1000        /* messages indexed per write at start-up, at most */
#define BACKFILL_CHARS (32 * 1024) /* and characters of text per write, past the first */

#define SEARCH_FLUSH_MAX 1000 /* listed messages a search indexes before it reads */

/* A search's steps: the listed messages indexed first (S_MOVE, S_MOVED), then the read. */
enum { S_MOVE, S_MOVED, S_SCOPE, S_HITS };

static enum search_dialect dialect_of(struct store *st)
{
    return strcmp(store_backend_name(st), "postgres") == 0 ? SEARCH_TSVECTOR : SEARCH_FTS5;
}

/* The terms of a JSON string's text for st's backend (owned). */
static char *terms_of(struct store *st, const char *text)
{
    return search_index_terms(text, strlen(text), dialect_of(st));
}

void chat__search_put(struct store_op *op, struct store *st, const char *msg_id, const char *type,
                      const cJSON *content)
{
    if (type == NULL || strcmp(type, "text") != 0 || !cJSON_IsString(content))
        return;
    char *terms = terms_of(st, content->valuestring);
    store_op_add(op, &SQL_MESSAGE_SEARCH_PUT);
    store_bind_text(op, msg_id);
    store_bind_text(op, terms);
    free(terms);
}

void chat__search_queue(struct store_op *op, struct store *st, const char *msg_id, const char *type,
                        const cJSON *content)
{
    if (type == NULL || strcmp(type, "text") != 0 || !cJSON_IsString(content))
        return;
    char *terms = terms_of(st, content->valuestring);
    store_op_add(op, &SQL_MESSAGE_SEARCH_QUEUE);
    store_bind_text(op, msg_id);
    store_bind_text(op, terms);
    free(terms);
}

int chat__search_move(struct store *st)
{
    for (;;) {
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_MESSAGE_SEARCH_MOVE);
        store_bind_int(op, MOVE_BATCH);
        store_op_add(op, &SQL_MESSAGE_SEARCH_MOVED);
        store_bind_int(op, MOVE_BATCH);
        struct store_result *res = NULL;
        int rc = store_write_wait(st, op, &res);
        int64_t moved = rc == 0 ? store_result_step(res, 1)->changes : 0;
        store_result_free(res);
        if (rc != 0)
            return log_fail(rc, "chat", "cannot index messages: %s", err_code(rc));
        if (moved < MOVE_BATCH)
            return 0;
    }
}

int chat__search_backfill(struct store *st, bool announce)
{
    long total = 0;
    for (;;) {
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_MESSAGE_SEARCH_PENDING);
        store_bind_int(op, BACKFILL_BATCH);
        store_bind_int(op, BACKFILL_CHARS);
        struct store_result *res = NULL;
        int rc = store_read_wait(st, op, &res);
        if (rc != 0)
            return log_fail(rc, "chat", "cannot read the messages to index: %s", err_code(rc));
        const struct store_rows *r = store_result_step(res, 0);
        if (r == NULL || r->nrows == 0) {
            store_result_free(res);
            break;
        }
        op = store_op_new();
        for (int i = 0; i < r->nrows; i++) {
            const char *id = store_rows_text(r, i, 0);
            const char *content = store_rows_text(r, i, 1);
            cJSON *v = content != NULL ? cJSON_Parse(content) : NULL;
            if (cJSON_IsString(v)) {
                char *terms = terms_of(st, v->valuestring);
                store_op_add(op, &SQL_MESSAGE_SEARCH_BACKFILL);
                store_bind_text(op, id);
                store_bind_int(op, store_rows_int(r, i, 2));
                store_bind_text(op, terms);
                free(terms);
            }
            cJSON_Delete(v);
            store_op_add(op, &SQL_MESSAGE_SEARCH_PENDING_DONE);
            store_bind_text(op, id);
        }
        total += r->nrows;
        store_result_free(res);
        rc = store_write_wait(st, op, NULL);
        if (rc != 0)
            return log_fail(rc, "chat", "cannot index messages: %s", err_code(rc));
    }
    if (total > 0 && announce)
        log_info("chat", "search: indexed %ld messages written before the search index", total);
    return chat__search_move(st); /* sends listed before the last stop */
}

/* ---- GET /api/v1/search/messages */

/* SQL_MESSAGES_COLS read for ranking */
enum { H_ID, H_SEQ = 2, H_CONTENT = 5, H_CREATED = 8 };

/* One hit: its row and its score. */
struct hit {
    int row;
    double score;
    int64_t at, seq;
    const char *id;
};

/* Best first, then newest (created_at, seq, id). */
static int hit_cmp(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->at != y->at)
        return x->at > y->at ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq > y->seq ? -1 : 1;
    return strcmp(y->id, x->id);
}

/* The text of a text message's content (its JSON string), parsed into *v (freed by the caller),
 * or NULL. */
static const char *text_of(const struct store_rows *r, int i, cJSON **v)
{
    const char *content = store_rows_text(r, i, H_CONTENT);
    *v = content != NULL ? cJSON_Parse(content) : NULL;
    return cJSON_IsString(*v) ? (*v)->valuestring : NULL;
}

/*
 * Scores the hits: BM25's term-frequency part (k1 1.2, b 0.75) over the query's terms as they
 * occur in each text, lengths in characters against the hits' average. Every hit holds every
 * term (the match requires them all), so the terms' rarity (BM25's IDF) would weigh them the
 * same way in every hit and is left out; the ranking is the same on both stores.
 */
static struct hit *rank_hits(const struct search_query *q, const struct store_rows *r)
{
    struct hit *h = xcalloc((size_t)r->nrows + 1, sizeof(*h));
    int *len = xcalloc((size_t)r->nrows + 1, sizeof(*len));
    int *tf = xcalloc((size_t)r->nrows * (size_t)q->npieces + 1, sizeof(*tf));
    double total = 0;
    for (int i = 0; i < r->nrows; i++) {
        cJSON *v;
        const char *text = text_of(r, i, &v);
        len[i] = text != NULL ? search_term_counts(q, text, strlen(text), tf + i * q->npieces) : 0;
        total += len[i];
        cJSON_Delete(v);
    }
    double avg = r->nrows > 0 && total > 0 ? total / r->nrows : 1;
    for (int i = 0; i < r->nrows; i++) {
        double score = 0, norm = 1.2 * (0.25 + 0.75 * len[i] / avg);
        for (int k = 0; k < q->npieces; k++) {
            int f = tf[i * q->npieces + k];
            score += f * 2.2 / (f + norm);
        }
        h[i] = (struct hit){.row = i,
                            .score = score,
                            .at = store_rows_int(r, i, H_CREATED),
                            .seq = store_rows_int(r, i, H_SEQ),
                            .id = store_rows_text(r, i, H_ID)};
    }
    free(len);
    free(tf);
    qsort(h, (size_t)r->nrows, sizeof(*h), hit_cmp);
    return h;
}

static void answer(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    if (j->status != 0) {
        chat__fail_store(j);
        return;
    }
    const struct store_rows *scope = store_result_step(j->res, S_SCOPE);
    const struct store_rows *r = store_result_step(j->res, S_HITS);
    if (scope == NULL || scope->nrows == 0 || store_rows_int(scope, 0, 0) == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    if (store_rows_int(scope, 0, 1) == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such conversation", "conversation_id");
        return;
    }
    struct hit *h = rank_hits(c->search, r);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, r->nrows, c->page, c->page_size);
    for (int64_t k = c->search_offset; k < r->nrows && k < c->search_offset + c->page_size; k++) {
        int i = h[k].row;
        cJSON *hit = cJSON_CreateObject();
        cJSON_AddItemToObject(hit, "message", chat__msg_json(r, i));
        cJSON_AddStringToObject(hit, "conversation_id", store_rows_text(r, i, 1));
        cJSON *v;
        const char *text = text_of(r, i, &v);
        char *snip = text != NULL ? search_snippet(c->search, text, strlen(text)) : xstrdup("");
        cJSON_AddStringToObject(hit, "snippet", snip);
        free(snip);
        cJSON_Delete(v);
        cJSON_AddItemToArray(arr, hit);
    }
    free(h);
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

static void search_start(struct kit_job *j)
{
    struct chctx *c = chat__ctx(j);
    const char *user = c->operator? NULL : c->user_id;
    const char *conv = c->conv_id[0] != '\0' ? c->conv_id : NULL;
    struct store_op *op = store_op_new();
    /* what the indexer has not taken yet is indexed first, in this search's own write: a
     * message is found as soon as its send is answered (the indexer's batches stay the cheap
     * path when nobody searches) */
    store_op_add(op, &SQL_MESSAGE_SEARCH_MOVE);
    store_bind_int(op, SEARCH_FLUSH_MAX);
    store_op_add(op, &SQL_MESSAGE_SEARCH_MOVED);
    store_bind_int(op, SEARCH_FLUSH_MAX);
    store_op_add(op, &SQL_MESSAGE_SEARCH_SCOPE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, user);
    store_bind_text(op, conv);
    store_op_add(op, &SQL_MESSAGE_SEARCH_HITS);
    store_bind_text(op, c->app_id);
    store_bind_text(op, user);
    store_bind_text(op, c->search_expr);
    store_bind_text(op, conv);
    store_bind_int(op, SEARCH_HITS_MAX);
    kit_store(j, op, KIT_WRITE, answer);
}

static const char *const spaces[] = {" ", "\t", "\r", "\n", "\v", "\f", "\xC2\xA0", "\xE3\x80\x80"};
#define NSPACES (sizeof(spaces) / sizeof(spaces[0]))

/* The bytes of the space (ASCII, no-break, ideographic) s[0..n) starts (at_end: ends) with. */
static size_t space_len(const char *s, size_t n, bool at_end)
{
    for (size_t k = 0; k < NSPACES; k++) {
        size_t l = strlen(spaces[k]);
        if (l <= n && memcmp(at_end ? s + n - l : s, spaces[k], l) == 0)
            return l;
    }
    return 0;
}

static void fail_q(struct http_req *req, const char *message)
{
    http_respond_error(req, 422, "validation_failed", message, "q");
}

/*
 * Reads and checks q (trimmed, 1 to 100 characters, at least one term), conversation_id and
 * the paging into a new job for the asker; NULL after answering.
 */
static struct kit_job *search_job(struct http_req *req, struct chat *chat,
                                  const struct user_principal *p)
{
    char q[SEARCH_Q_BYTES];
    int n = http_req_query_param(req, "q", q, sizeof(q));
    if (n < 0) {
        fail_q(req,
               http_req_has_query_param(req, "q") ? "must be 1 to 100 characters" : "is required");
        return NULL;
    }
    size_t a = 0, b = (size_t)n, w;
    while ((w = space_len(q + a, b - a, false)) > 0)
        a += w;
    while ((w = space_len(q + a, b - a, true)) > 0)
        b -= w;
    long chars = search_utf8_chars(q + a, b - a);
    if (chars < 0) {
        fail_q(req, "must be UTF-8 text");
        return NULL;
    }
    if (chars < 1 || chars > SEARCH_Q_MAX_CHARS) {
        fail_q(req, chars < 1 ? "is required" : "must be 1 to 100 characters");
        return NULL;
    }
    struct search_query *sq = xmalloc(sizeof(*sq));
    if (!search_query_parse(sq, q + a, b - a)) {
        free(sq);
        fail_q(req, "must contain a letter, a digit or a CJK character");
        return NULL;
    }
    char conv[KIT_ID_MAX + 2] = "";
    int cn = http_req_query_param(req, "conversation_id", conv, sizeof(conv));
    if ((cn < 0 && http_req_has_query_param(req, "conversation_id")) ||
        (cn > 0 && !kit_id_is_valid(conv)) ||
        (cn == 0 && http_req_has_query_param(req, "conversation_id"))) {
        free(sq);
        http_respond_err(req, ERR_NOTFOUND, "no such conversation", "conversation_id");
        return NULL;
    }
    struct chctx tmp = {0};
    if (!chat__paging(req, &tmp)) {
        free(sq);
        return NULL;
    }
    struct kit_job *j = chat__job_new(req, chat, p);
    struct chctx *c = chat__ctx(j);
    c->page = tmp.page;
    c->page_size = tmp.page_size;
    c->search_offset = (tmp.page - 1) * tmp.page_size;
    if (cn > 0)
        snprintf(c->conv_id, sizeof(c->conv_id), "%s", conv);
    c->search = sq;
    c->search_expr = search_query_expr(sq, dialect_of(chat->id->store));
    return j;
}

static void search_user(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = search_job(req, ud, p);
    if (j != NULL)
        kit_run(j, search_start);
}

static void search_operator(struct http_req *req, const char *operator_id, const char *apps_json,
                            void *ud)
{
    char app[JWT_APP_MAX + 1];
    int n = http_req_query_param(req, "app_id", app, sizeof(app));
    if (n <= 0) {
        http_respond_error(req, 422, "validation_failed", "is required for an operator", "app_id");
        return;
    }
    /* an app the operator has not the right on is walled off like another tenant */
    if (!chat__app_granted(apps_json, app)) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    struct user_principal nobody = {.user_id = ""};
    snprintf(nobody.app_id, sizeof(nobody.app_id), "%s", app);
    struct kit_job *j = search_job(req, ud, &nobody);
    if (j == NULL)
        return;
    struct chctx *c = chat__ctx(j);
    c->operator= true;
    snprintf(c->operator_id, sizeof(c->operator_id), "%s", operator_id);
    kit_run(j, search_start);
}

void chat_search(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    if (console_bearer_is_operator(c->id, req))
        console_authorize(c->id, req, MONITOR_PERM, search_operator, c);
    else
        identity_user_auth(c->id, req, search_user, c);
}
