/*
 * Sending (docs/notifications.md, "Sending", "Idempotency"): POST /api/v1/notifications
 * (app authentication) and the console's POST /admin/notifications share this path. The body
 * is decoded by the kit's tables, the recipients and channels checked, and one store write
 * holds everything: the idempotency record (when a key is given), the notification, one
 * delivery per recipient per channel kind (a user the app does not know is `skipped`), and a
 * job per pending delivery, due at send_at. Only after that write has committed the caller
 * gets 202 {"id","delivery_count","deliveries"} and the dispatcher is woken.
 *
 * Idempotency (SPEC §4a): the key (Idempotency-Key header or idempotency_key) is scoped per
 * app and sender (the app itself, or the operator of a console send), for the engine's window
 * (HERALD_IDEMPOTENCY_WINDOW). A repeat inside the window finds the record
 * (the write's upsert changes no row, which undoes the whole op): the same body (its SHA-256, key
 * left out) is answered with the first answer and `Idempotency-Replay: true`, another body 422, and
 * a record not readable yet (the first send is still being written) 409. The body's hash does not
 * depend on whitespace or on the order of an object's members.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/app_auth.h"
#include "identity/identity.h"
#include "kit/decode.h"
#include "kit/job.h"
#include "net/http.h"
#include "notify/driver.h"
#include "notify/engine.h"
#include "notify/quota.h"
#include "notify/template.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define CONTENT_MAX 8192 /* characters */
#define KEY_MAX 128      /* bytes of an idempotency key */
#define KINDS_MAX NOTIFY_KINDS_MAX

/* ---- the job */

struct sctx {
    struct notify_engine *n;
    cJSON *body;               /* owned */
    struct notify_send_req in; /* borrows from body; owns its recipients */
    char app_id[72];
    char operator_id[72];
    char ip[64];
    char nid[32];
    char key[KEY_MAX + 1];
    char hash[65];
    char locale[24];
    int64_t now, send_at;
    bool escalating; /* the kinds are the type's escalation chain (resolved) */
};

static void sctx_free(void *p)
{
    struct sctx *c = p;
    notify__send_req_release(&c->in);
    cJSON_Delete(c->body);
    free(c);
}

static void answer(struct kit_job *j, const char *id, int64_t deliveries, bool replay)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"id\":");
    buf_json_str(&b, id);
    /* delivery_count as in GET /notifications/{id}; deliveries, the same number, kept for the
     * clients written before it */
    buf_printf(&b, ",\"delivery_count\":%lld,\"deliveries\":%lld}", (long long)deliveries,
               (long long)deliveries);
    if (replay)
        http_res_header(j->req, "Idempotency-Replay", "true");
    http_respond_json(j->req, 202, b.data, b.len);
    buf_release(&b);
}

static void replayed(struct kit_job *j)
{
    struct sctx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "notification", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r == NULL || r->nrows == 0) {
        http_respond_error(j->req, 409, "conflict",
                           "a notification with this idempotency key is being sent; retry to get"
                           " its result",
                           "idempotency_key");
        return;
    }
    const char *h = store_rows_text(r, 0, 0);
    if (h == NULL || strcmp(h, c->hash) != 0) {
        http_respond_error(j->req, 422, "validation_failed",
                           "this idempotency key was used for a different request",
                           "idempotency_key");
        return;
    }
    answer(j, store_rows_text(r, 0, 1), store_rows_int(r, 0, 2), true);
}

static void written(struct kit_job *j)
{
    struct sctx *c = j->ctx;
    if (j->status == ERR_NOTFOUND && c->key[0]) { /* the key is live: replay or refuse */
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_IDEMPOTENCY_KEYS_GET);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->operator_id); /* the sender: "" for the app itself */
        store_bind_text(op, c->key);
        store_bind_int(op, clock_wall_ms());
        kit_store(j, op, KIT_READ, replayed);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "notification", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, -1);
    answer(j, c->nid, store_rows_int(r, 0, 0), false);
    if (c->send_at <= clock_wall_ms() + 1000)
        notify__queue_kick(c->n->q);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Sorts the members of every object in v by name (the request's hash does not depend on the
 * order the client wrote them in). Depth is bounded by the request decoder's. */
static void sort_keys(cJSON *v)
{
    int n = 0;
    for (cJSON *e = v->child; e != NULL; e = e->next, n++)
        sort_keys(e);
    if (!cJSON_IsObject(v) || n < 2)
        return;
    cJSON **m = xmalloc((size_t)n * sizeof(*m));
    int i = 0;
    for (cJSON *e = v->child; e != NULL; e = e->next)
        m[i++] = e;
    qsort(m, (size_t)n, sizeof(*m), key_cmp);
    for (i = 0; i < n; i++) {
        m[i]->prev = i > 0 ? m[i - 1] : m[n - 1]; /* cJSON: the first's prev is the last */
        m[i]->next = i + 1 < n ? m[i + 1] : NULL;
    }
    v->child = m[0];
    free(m);
}

/* The notification id: the time in hex (ids sort by creation), then 40 random bits. */
static void nid_new(char out[32], int64_t now)
{
    char rnd[11];
    rand_hex(rnd, 5);
    snprintf(out, 32, "n%011llx%s", (unsigned long long)now, rnd);
}

static char *json_text(const cJSON *v)
{
    if (v == NULL)
        return NULL;
    char *s = cJSON_PrintUnformatted(v);
    char *r = xstrdup(s);
    cJSON_free(s);
    return r;
}

/* ---- resolving: the type's channels, the app's channels, the templates */

/* What one channel kind of this send gets: its channel and its rendered texts. */
struct kind_out {
    const char *kind;
    int64_t after_ms; /* an escalation step's delay after send_at (0: the first step, or none) */
    const char *channel_id;       /* NULL: inapp, or no enabled channel of the kind */
    char *title, *content, *html; /* owned; NULL: the literal ones (title, content) */
};

static void kinds_free(struct kind_out *k, int n)
{
    for (int i = 0; i < n; i++) {
        free(k[i].title);
        free(k[i].content);
        free(k[i].html);
    }
}

/* The resolving read's steps */
enum { R_TYPE, R_CHANNELS, R_PAIRS, R_TEMPLATES, R_APP /* a console send's: its app_id */ };

/* The first enabled channel of kind (R_CHANNELS: id, kind), or NULL. */
static const char *channel_of(const struct store_rows *chs, const char *kind)
{
    for (int i = 0; chs != NULL && i < chs->nrows; i++)
        if (strcmp(store_rows_text(chs, i, 1), kind) == 0)
            return store_rows_text(chs, i, 0);
    return NULL;
}

/* Whether the language tags a and b are the same: ASCII case and '_' / '-' do not matter (BCP 47
 * tags are case-insensitive; "zh_CN" is the POSIX spelling of "zh-CN"). */
static bool locale_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

/* The template variant row for code and kind, locale, then its language, then "" (locales
 * compared with locale_eq; of two variants that differ only in case, the one spelled as asked). */
static int template_row(const struct store_rows *t, const char *code, const char *kind,
                        const char *locale)
{
    char lang[24];
    snprintf(lang, sizeof(lang), "%s", locale);
    lang[strcspn(lang, "-_")] = '\0';
    const char *tries[3] = {locale, lang, ""};
    for (int k = 0; k < 3; k++) {
        int found = -1;
        for (int i = 0; t != NULL && i < t->nrows; i++) {
            const char *l = store_rows_text(t, i, 2);
            if (strcmp(store_rows_text(t, i, 0), code) != 0 ||
                strcmp(store_rows_text(t, i, 1), kind) != 0 || !locale_eq(l, tries[k]))
                continue;
            if (strcmp(l, tries[k]) == 0)
                return i;
            if (found < 0)
                found = i;
        }
        if (found >= 0)
            return found;
    }
    return -1;
}

/* Renders src with params into *out (NULL src: nothing). Returns 0 or -1 with msg set. */
static int render(const char *src, const cJSON *params, enum tpl_escape esc, char **out, char *msg,
                  size_t msglen)
{
    *out = NULL;
    if (src == NULL)
        return 0;
    struct tpl *t = NULL;
    struct tpl_error e;
    if (tpl_compile(src, strlen(src), &t, &e) != 0) {
        snprintf(msg, msglen, "the template does not compile: %s", e.message);
        return -1;
    }
    struct buf b = BUF_INIT;
    int rc = tpl_render(t, params, esc, CONTENT_MAX * 8, &b);
    tpl_free(t);
    if (rc != 0) {
        buf_release(&b);
        snprintf(msg, msglen, "the template could not be rendered with these params");
        return -1;
    }
    buf_putc(&b, '\0');
    *out = buf_detach(&b, NULL);
    return 0;
}

static void write_send(struct kit_job *j, struct kind_out *ko, int nk);

static void resolved(struct kit_job *j)
{
    struct sctx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "notification", NULL);
        return;
    }
    const struct store_rows *type = store_result_step(j->res, R_TYPE);
    const struct store_rows *chs = store_result_step(j->res, R_CHANNELS);
    const struct store_rows *pairs = store_result_step(j->res, R_PAIRS);
    const struct store_rows *tpls = store_result_step(j->res, R_TEMPLATES);
    if (c->operator_id[0]) { /* a console send names its app: it must exist */
        const struct store_rows *app = store_result_step(j->res, R_APP);
        if (app == NULL || app->nrows == 0) {
            http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
            return;
        }
    }
    bool typed = type != NULL && type->nrows > 0;
    if (typed && store_rows_int(type, 0, 1) == 0) {
        http_respond_error(j->req, 422, "validation_failed", "this message type is disabled",
                           "type");
        return;
    }
    /* the kinds: the override, else the type's defaults, else inapp */
    const char *kinds[KINDS_MAX];
    int nk = 0;
    cJSON *defaults = NULL;
    int64_t after[KINDS_MAX] = {0};
    cJSON *chain = NULL;
    if (c->in.nover == 0 && typed && !c->in.subscribers && !store_rows_is_null(type, 0, 2))
        chain = cJSON_Parse(store_rows_text(type, 0, 2));
    if (c->in.nover > 0) {
        for (int i = 0; i < c->in.nover; i++)
            kinds[nk++] = c->in.over[i];
    } else if (cJSON_GetArraySize(chain) > 0) { /* the escalation chain: its steps, in order */
        const cJSON *e;
        cJSON_ArrayForEach(e, chain)
        {
            const cJSON *ch = cJSON_GetObjectItemCaseSensitive(e, "channel");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "after_s");
            if (cJSON_IsString(ch) && notify_kind_is_known(ch->valuestring) && nk < KINDS_MAX &&
                !notify__eng_kind_in(kinds, nk, ch->valuestring)) {
                after[nk] = cJSON_IsNumber(a) && nk > 0 ? (int64_t)a->valuedouble * 1000 : 0;
                kinds[nk++] = ch->valuestring;
            }
        }
        c->escalating = nk > 1;
    } else if (typed) {
        defaults = cJSON_Parse(store_rows_text(type, 0, 0));
        const cJSON *e;
        cJSON_ArrayForEach(e, defaults)
        {
            if (cJSON_IsString(e) && notify_kind_is_known(e->valuestring) && nk < KINDS_MAX &&
                !notify__eng_kind_in(kinds, nk, e->valuestring))
                kinds[nk++] = e->valuestring;
        }
    }
    if (nk == 0)
        kinds[nk++] = "inapp";
    struct kind_out ko[KINDS_MAX];
    memset(ko, 0, sizeof(ko));
    char field[KIT_PATH_MAX], msg[160];
    for (int i = 0; i < nk; i++) {
        ko[i].kind = kinds[i];
        ko[i].after_ms = after[i];
        ko[i].channel_id = strcmp(kinds[i], "inapp") == 0 ? NULL : channel_of(chs, kinds[i]);
        if (ko[i].channel_id == NULL && strcmp(kinds[i], "inapp") != 0 && c->in.nover > 0) {
            snprintf(field, sizeof(field), "channels[%d]", i);
            http_respond_error(j->req, 422, "validation_failed",
                               "the app has no enabled channel of this kind", field);
            goto out;
        }
        /* the type's template for this channel (the pair names a channel id, or inapp) */
        const char *chan = ko[i].channel_id ? ko[i].channel_id : "inapp";
        const char *code = NULL;
        for (int k = 0; pairs != NULL && k < pairs->nrows; k++)
            if (strcmp(store_rows_text(pairs, k, 0), chan) == 0)
                code = store_rows_text(pairs, k, 1);
        int row = code != NULL ? template_row(tpls, code, kinds[i], c->locale) : -1;
        if (row >= 0) {
            const cJSON *params = c->in.params;
            if (render(store_rows_text(tpls, row, 3), params, TPL_ESCAPE_NONE, &ko[i].title, msg,
                       sizeof(msg)) != 0 ||
                render(store_rows_text(tpls, row, 4), params, TPL_ESCAPE_NONE, &ko[i].content, msg,
                       sizeof(msg)) != 0 ||
                render(store_rows_text(tpls, row, 5), params, TPL_ESCAPE_HTML, &ko[i].html, msg,
                       sizeof(msg)) != 0) {
                http_respond_error(j->req, 422, "validation_failed", msg, "params");
                goto out;
            }
        } else if (c->in.title == NULL && c->in.content == NULL) {
            snprintf(msg, sizeof(msg),
                     "give a title or a content: the type has no template for channel kind %s",
                     kinds[i]);
            http_respond_error(j->req, 422, "validation_failed", msg, "content");
            goto out;
        }
    }
    /* an ad-hoc address goes to its kind's channel, which must exist */
    for (int r = 0; r < c->in.nrecips; r++) {
        const char *k = c->in.recips[r].kind;
        if (k != NULL && channel_of(chs, k) == NULL) {
            snprintf(field, sizeof(field), "recipients[%d]", r);
            snprintf(msg, sizeof(msg), "the app has no enabled %s channel", k);
            http_respond_error(j->req, 422, "validation_failed", msg, field);
            goto out;
        }
    }
    write_send(j, ko, nk);
out:
    kinds_free(ko, nk);
    cJSON_Delete(defaults);
    cJSON_Delete(chain);
}

static void put_opt(struct buf *b, const char *name, const char *v)
{
    if (v == NULL)
        return;
    buf_printf(b, ",\"%s\":", name);
    buf_json_str(b, v);
}

/* One delivery row of the fan-out JSON (SQL_DELIVERIES_INSERT_*). */
static void put_row(struct buf *b, const char *id, const char *user, const char *addr,
                    const struct kind_out *k, const char *channel_id, int64_t next_at,
                    const char *escalates)
{
    buf_putc(b, '{');
    if (id != NULL) {
        buf_puts(b, "\"id\":");
        buf_json_str(b, id);
        buf_putc(b, ',');
    }
    buf_puts(b, "\"k\":");
    buf_json_str(b, k->kind);
    put_opt(b, "u", user);
    put_opt(b, "a", addr);
    put_opt(b, "c", channel_id);
    put_opt(b, "t", k->title);
    put_opt(b, "b", k->content);
    put_opt(b, "h", k->html);
    put_opt(b, "e", escalates);
    if (next_at > 0)
        buf_printf(b, ",\"n\":%lld", (long long)next_at);
    buf_putc(b, '}');
}

/* The one write: idempotency record, notification, deliveries, jobs, audit, count. */
static void write_send(struct kit_job *j, struct kind_out *ko, int nk)
{
    struct sctx *c = j->ctx;
    const struct notify_send_req *in = &c->in;
    const struct store_rows *chs = store_result_step(j->res, R_CHANNELS);
    struct buf list = BUF_INIT;
    int ndel = 0;
    buf_putc(&list, '[');
    if (c->in.subscribers) {
        for (int k = 0; k < nk; k++) {
            if (k)
                buf_putc(&list, ',');
            put_row(&list, NULL, NULL, NULL, &ko[k], ko[k].channel_id, 0, NULL);
        }
    } else {
        for (int r = 0; r < c->in.nrecips; r++) {
            const struct notify_recip *rc = &c->in.recips[r];
            char first[48] = "";
            for (int k = 0; k < nk; k++) {
                const char *kind = ko[k].kind;
                const struct kind_out *use = &ko[k];
                struct kind_out own = {0};
                if (rc->kind != NULL) { /* an address: its own kind only, once */
                    if (k > 0)
                        break;
                    int at = -1;
                    for (int x = 0; x < nk; x++)
                        if (strcmp(ko[x].kind, rc->kind) == 0)
                            at = x;
                    if (at >= 0) {
                        use = &ko[at];
                    } else {
                        own.kind = rc->kind;
                        use = &own;
                    }
                    kind = rc->kind;
                }
                char id[48];
                snprintf(id, sizeof(id), "%s-%d", c->nid, ndel + 1);
                if (k == 0)
                    snprintf(first, sizeof(first), "%s", id);
                /* a later step of an escalation: due after its delay, not needed once the first
                 * step was ACKed */
                bool step = c->escalating && rc->kind == NULL && k > 0;
                if (ndel > 0)
                    buf_putc(&list, ',');
                put_row(&list, id, rc->kind == NULL ? rc->val : NULL,
                        rc->kind != NULL ? rc->val : NULL, use,
                        strcmp(kind, "inapp") == 0 ? NULL : channel_of(chs, kind),
                        step ? c->send_at + use->after_ms : 0, step ? first : NULL);
                ndel++;
            }
        }
    }
    buf_putc(&list, ']');
    int64_t now = c->now;
    const char *app_id = c->app_id;
    const char *key = c->key[0] ? c->key : NULL;
    struct store_op *op = store_op_new();
    if (key != NULL) {
        store_op_add(op, &SQL_IDEMPOTENCY_KEYS_CLAIM);
        store_bind_text(op, app_id);
        store_bind_text(op, c->operator_id); /* the sender: "" for the app itself */
        store_bind_text(op, key);
        store_bind_text(op, c->hash);
        store_bind_text(op, c->nid);
        store_bind_int(op, now);
        store_bind_int(op, now + c->n->idem_window_ms);
        store_op_require_row(op);
    }
    char *params = json_text(in->params), *data = json_text(in->data);
    char *recips = json_text(in->recipients);
    struct buf ch = BUF_INIT;
    buf_putc(&ch, '[');
    for (int k = 0; k < nk; k++) {
        if (k)
            buf_putc(&ch, ',');
        buf_json_str(&ch, ko[k].kind);
    }
    buf_putc(&ch, ']');
    const char *prio = in->priority ? in->priority : "normal";
    store_op_add(op, &SQL_NOTIFICATIONS_INSERT);
    store_bind_text(op, c->nid);
    store_bind_text(op, app_id);
    store_bind_text(op, in->type);
    store_bind_text(op, in->title);
    store_bind_text(op, in->content);
    store_bind_text(op, params);
    store_bind_text(op, data);
    store_bind_textn(op, ch.data, ch.len);
    store_bind_text(op, recips);
    store_bind_text(op, prio);
    if (in->ttl != KIT_INT_ABSENT)
        store_bind_int(op, in->ttl);
    else
        store_bind_null(op);
    store_bind_int(op, c->send_at);
    if (in->ttl != KIT_INT_ABSENT)
        store_bind_int(op, c->send_at + in->ttl);
    else
        store_bind_null(op);
    store_bind_text(op, c->send_at > now ? "scheduled" : "queued");
    store_bind_text(op, key);
    store_bind_text(op, c->operator_id[0] ? "console" : "api");
    store_bind_text(op, c->operator_id[0] ? c->operator_id : NULL);
    store_bind_int(op, now);
    store_op_add(op, c->in.subscribers ? &SQL_DELIVERIES_INSERT_SUBSCRIBERS
                                       : &SQL_DELIVERIES_INSERT_LIST);
    store_bind_text(op, app_id);
    store_bind_text(op, c->nid);
    store_bind_text(op, in->type);
    store_bind_int(op, c->send_at);
    store_bind_int(op, now);
    store_bind_textn(op, list.data, list.len);
    store_op_add(op, &SQL_JOBS_INSERT_FOR);
    store_bind_text(op, c->nid);
    store_bind_int(op, c->send_at);
    store_bind_int(op, now);
    if (c->operator_id[0]) { /* the console's send is audited in the same write */
        store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_OPERATOR);
        store_bind_text(op, c->operator_id);
        store_bind_text(op, app_id);
        store_bind_text(op, "notification.send");
        store_bind_text(op, c->nid);
        struct buf detail = BUF_INIT;
        buf_puts(&detail, "{\"type\":");
        buf_json_str(&detail, in->type);
        buf_printf(&detail, ",\"deliveries\":%d}", c->in.subscribers ? -1 : ndel);
        store_bind_textn(op, detail.data, detail.len);
        buf_release(&detail);
        store_bind_text(op, c->ip);
        store_bind_int(op, now);
    }
    store_op_add(op, &SQL_NOTIFICATIONS_COUNT_SET);
    store_bind_text(op, c->nid);
    free(params);
    free(data);
    free(recips);
    buf_release(&ch);
    buf_release(&list);
    kit_store(j, op, KIT_WRITE, written);
}

/* Reads what a checked send depends on (resolved). Takes body and in (its recipients). Answers
 * 422 for the Idempotency-Key header. */
static void send_start(struct notify_engine *n, struct http_req *req, cJSON *body,
                       struct notify_send_req *in, const char *app_id, const char *operator_id)
{
    const char *hkey = http_req_header(req, "Idempotency-Key");
    if (hkey != NULL && !notify__eng_key_valid(hkey)) {
        http_respond_error(req, 422, "validation_failed",
                           "must be 1-128 printable ASCII characters", "Idempotency-Key");
        goto bad;
    }
    if (hkey != NULL && in->key != NULL && strcmp(hkey, in->key) != 0) {
        http_respond_error(req, 422, "validation_failed", "differs from the Idempotency-Key header",
                           "idempotency_key");
        goto bad;
    }
    const char *key = hkey != NULL ? hkey : in->key;
    struct sctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    c->body = body;
    c->in = *in;
    snprintf(c->app_id, sizeof(c->app_id), "%s", app_id);
    snprintf(c->operator_id, sizeof(c->operator_id), "%s", operator_id ? operator_id : "");
    const char *peer = http_req_peer(req);
    snprintf(c->ip, sizeof(c->ip), "%s", peer ? peer : "");
    snprintf(c->locale, sizeof(c->locale), "%s", in->locale ? in->locale : "");
    c->now = clock_wall_ms();
    nid_new(c->nid, c->now);
    c->send_at = in->send_at != KIT_INT_ABSENT && in->send_at > c->now ? in->send_at : c->now;
    if (key != NULL) {
        snprintf(c->key, sizeof(c->key), "%s", key);
        /* the request's hash: the body without its key, its members in name order */
        cJSON *copy = cJSON_Duplicate(body, true);
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "idempotency_key");
        sort_keys(copy);
        char *s = cJSON_PrintUnformatted(copy);
        sha256_hex(s, c->hash);
        cJSON_free(s);
        cJSON_Delete(copy);
    }
    struct store_op *op = store_op_new();
    const struct store_sql *reads[4] = {&SQL_NOTIFY_SEND_TYPE, &SQL_NOTIFY_SEND_CHANNELS,
                                        &SQL_NOTIFY_SEND_PAIRS, &SQL_NOTIFY_SEND_TEMPLATES};
    for (int k = 0; k < 4; k++) {
        store_op_add(op, reads[k]);
        store_bind_text(op, app_id);
        if (k != R_CHANNELS)
            store_bind_text(op, in->type);
    }
    if (c->operator_id[0]) {
        store_op_add(op, &SQL_APPS_GET);
        store_bind_text(op, app_id);
    }
    struct kit_job *j = kit_job_new(req, n->store, NULL, c, sctx_free);
    kit_store(j, op, KIT_READ, resolved);
    return;
bad:
    notify__send_req_release(in);
    cJSON_Delete(body);
}

/* The body, checked; NULL after answering. */
static cJSON *body_of(struct http_req *req, bool console, struct notify_send_req *in)
{
    cJSON *body = request_body_json(req);
    if (body == NULL)
        return NULL;
    struct kit_error err;
    if (notify__send_parse(body, console, in, &err) != 0) {
        kit_fail_decode(req, &err);
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}

static void app_authed(struct http_req *req, const char *app_id, void *ud)
{
    int retry_s;
    if (!notify_quota_take(((struct notify_engine *)ud)->quota, app_id, clock_wall_ms(),
                           &retry_s)) { /* the app's daily quota (quota.c) */
        char v[24];
        snprintf(v, sizeof(v), "%d", retry_s);
        http_res_header(req, "Retry-After", v);
        http_respond_error(req, 429, "quota_exceeded",
                           "the app's daily notification quota is used up", NULL);
        return;
    }
    struct notify_send_req in;
    cJSON *body = body_of(req, false, &in);
    if (body == NULL)
        return;
    send_start(ud, req, body, &in, app_id, NULL);
}

static void send_handler(struct http_req *req, void *ud)
{
    struct notify_engine *n = ud;
    identity_app_auth(n->id, req, app_authed, n);
}

void notify__send_as(struct notify_engine *n, struct http_req *req, const char *app_id,
                     const char *operator_id, const char *apps_json)
{
    (void)app_id;
    struct notify_send_req in;
    cJSON *body = body_of(req, true, &in);
    if (body == NULL)
        return;
    if (!notify__eng_app_in(apps_json, in.app_id)) {
        http_respond_error(req, 404, "not_found", "no such app", "app_id");
        notify__send_req_release(&in);
        cJSON_Delete(body);
        return;
    }
    char app[72];
    snprintf(app, sizeof(app), "%s", in.app_id);
    send_start(n, req, body, &in, app, operator_id);
}

void notify__send_register(struct notify_engine *n, struct router *r)
{
    router_add(r, HTTP_M_POST, "/api/v1/notifications", send_handler, n);
}
