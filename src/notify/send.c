/*
 * Sending (docs/notifications.md, "Sending", "Idempotency"): POST /api/v1/notifications
 * (app authentication) and the console's POST /admin/notifications share this path. The body
 * is decoded by the kit's tables, the recipients and channels checked, and one store write
 * holds everything: the idempotency record (when a key is given), the notification, one
 * delivery per recipient per channel kind (a user the app does not know is `skipped`), and a
 * job per pending delivery, due at send_at. Only after that write has committed the caller
 * gets 202 {"id","deliveries"} and the dispatcher is woken.
 *
 * Idempotency (SPEC §4a): the key (Idempotency-Key header or idempotency_key) is the app's,
 * for NOTIFY_IDEM_WINDOW_MS. A repeat inside the window finds the record (the write's upsert
 * changes no row, which undoes the whole op): the same body (its SHA-256, key left out) is
 * answered with the first answer and `Idempotency-Replay: true`, another body 422, and a
 * record not readable yet (the first send is still being written) 409.
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
#include "notify/engine.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define TITLE_MAX 256    /* characters */
#define CONTENT_MAX 8192 /* characters */
#define JSON_MAX 16384   /* bytes of params, of data */
#define KEY_MAX 128      /* bytes of an idempotency key */
#define TTL_MAX (30LL * 24 * 3600000)
#define SEND_AT_MAX 4102444800000LL /* 2100-01-01 */
#define KINDS_MAX 9

/* The channel kinds (SPEC §2). Only kinds with an address-free target or a contact. */
static const char *const kinds[] = {"inapp",  "email", "webhook",    "dingtalk",  "wecom",
                                    "feishu", "slack", "sms_aliyun", "wechat_mp", NULL};

struct send_in {
    const char *app_id; /* the console's */
    const char *type, *title, *content, *priority, *key;
    const cJSON *recipients, *params, *data;
    struct kit_array channels;
    int64_t ttl, send_at;
};

static const struct kit_field kind_elem = {
    .kind = KIT_STRING, .min = 1, .max = 16, .message = "must be a channel kind"};

#define SEND_FIELDS                                                                                \
    {.name = "type",                                                                               \
     .kind = KIT_STRING,                                                                           \
     .flags = KIT_REQUIRED | KIT_BYTES,                                                            \
     .min = 1,                                                                                     \
     .max = 64,                                                                                    \
     .at = KIT_AT(struct send_in, type),                                                           \
     .message = "must be a message type code: 1-64 characters of A-Z a-z 0-9 _ . : -"},            \
        {.name = "recipients",                                                                     \
         .kind = KIT_JSON,                                                                         \
         .flags = KIT_REQUIRED,                                                                    \
         .at = KIT_AT(struct send_in, recipients)},                                                \
        {.name = "title",                                                                          \
         .kind = KIT_STRING,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = TITLE_MAX,                                                                         \
         .at = KIT_AT(struct send_in, title)},                                                     \
        {.name = "content",                                                                        \
         .kind = KIT_STRING,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = CONTENT_MAX,                                                                       \
         .at = KIT_AT(struct send_in, content)},                                                   \
        {.name = "params",                                                                         \
         .kind = KIT_OBJECT,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = JSON_MAX,                                                                          \
         .at = KIT_AT(struct send_in, params)},                                                    \
        {.name = "data",                                                                           \
         .kind = KIT_OBJECT,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = JSON_MAX,                                                                          \
         .at = KIT_AT(struct send_in, data)},                                                      \
        {.name = "channels",                                                                       \
         .kind = KIT_ARRAY,                                                                        \
         .flags = KIT_NULLABLE,                                                                    \
         .min = 1,                                                                                 \
         .max = KINDS_MAX,                                                                         \
         .elem = &kind_elem,                                                                       \
         .at = KIT_AT(struct send_in, channels)},                                                  \
        {.name = "priority",                                                                       \
         .kind = KIT_STRING,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = 16,                                                                                \
         .at = KIT_AT(struct send_in, priority),                                                   \
         .message = "must be \"normal\", \"high\" or \"urgent\""},                                 \
        {.name = "ttl",                                                                            \
         .kind = KIT_INT,                                                                          \
         .flags = KIT_NULLABLE,                                                                    \
         .min = 1000,                                                                              \
         .max = TTL_MAX,                                                                           \
         .at = KIT_AT(struct send_in, ttl),                                                        \
         .message = "must be milliseconds from 1000 to 30 days"},                                  \
        {.name = "send_at",                                                                        \
         .kind = KIT_INT,                                                                          \
         .flags = KIT_NULLABLE,                                                                    \
         .min = 0,                                                                                 \
         .max = SEND_AT_MAX,                                                                       \
         .at = KIT_AT(struct send_in, send_at),                                                    \
         .message = "must be a time in milliseconds since the Unix epoch"},                        \
    {                                                                                              \
        .name = "idempotency_key", .kind = KIT_STRING, .flags = KIT_NULLABLE | KIT_BYTES,          \
        .min = 1, .max = KEY_MAX, .at = KIT_AT(struct send_in, key),                               \
        .message = "must be 1-128 printable ASCII characters"                                      \
    }

static const struct kit_field send_fields[] = {SEND_FIELDS, {.name = NULL}};
static const struct kit_table send_table = {.fields = send_fields};
static const struct kit_field admin_fields[] = {
    {.name = "app_id",
     .kind = KIT_NAME,
     .flags = KIT_REQUIRED,
     .max = 64,
     .at = KIT_AT(struct send_in, app_id),
     .message = "must be an app id"},
    SEND_FIELDS,
    {.name = NULL},
};
static const struct kit_table admin_table = {.fields = admin_fields};

/* ---- checks */

static bool code_is_valid(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == ':' || *p == '-'))
            return false;
    return *s != '\0';
}

static bool key_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > KEY_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

static bool kind_is_known(const char *k)
{
    for (int i = 0; kinds[i]; i++)
        if (strcmp(kinds[i], k) == 0)
            return true;
    return false;
}

/* The failure of a check: path and message (answered as 422 by the caller). */
struct fail {
    char field[KIT_PATH_MAX];
    const char *message;
};

static int failf(struct fail *f, const char *message, const char *member, int i)
{
    snprintf(f->field, sizeof(f->field), "%s[%d]", member, i);
    f->message = message;
    return -1;
}

/* A recipient: a user id, or an object with one of user_id, email, phone, webhook. Its kind
 * (NULL: a user, every channel) and its text go to *kind and *val. */
static int recipient(const cJSON *e, int i, const char **kind, const char **val, struct fail *f)
{
    if (cJSON_IsString(e)) {
        if (!kit_id_is_valid(e->valuestring))
            return failf(f, "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -",
                         "recipients", i);
        *kind = NULL;
        *val = e->valuestring;
        return 0;
    }
    if (!cJSON_IsObject(e) || e->child == NULL || e->child->next != NULL)
        return failf(f, "must be a user id or an object with one of user_id, email, phone, webhook",
                     "recipients", i);
    const cJSON *m = e->child;
    char path[KIT_PATH_MAX];
    snprintf(path, sizeof(path), "recipients[%d].%.40s", i, m->string);
    if (!cJSON_IsString(m)) {
        snprintf(f->field, sizeof(f->field), "%s", path);
        f->message = "must be a string";
        return -1;
    }
    const char *v = m->valuestring;
    bool ok;
    if (strcmp(m->string, "user_id") == 0) {
        *kind = NULL;
        ok = kit_id_is_valid(v);
        f->message = "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -";
    } else if (strcmp(m->string, "email") == 0) {
        *kind = "email";
        ok = kit_email_is_valid(v);
        f->message = "must be an e-mail address";
    } else if (strcmp(m->string, "phone") == 0) {
        *kind = "sms_aliyun";
        size_t n = strlen(v), d = 0;
        ok = n >= 5 && n <= 20;
        for (size_t k = 0; ok && k < n; k++) {
            ok = (v[k] >= '0' && v[k] <= '9') || (k == 0 && v[k] == '+');
            d += v[k] != '+';
        }
        ok = ok && d >= 5;
        f->message = "must be a phone number: an optional + and 5-20 digits";
    } else if (strcmp(m->string, "webhook") == 0) {
        *kind = "webhook";
        ok = strlen(v) <= 2048 && (strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0);
        for (const char *p = v; ok && *p; p++)
            ok = (unsigned char)*p > 0x20 && *p != 0x7f;
        f->message = "must be an http:// or https:// URL of at most 2048 characters";
    } else {
        snprintf(f->field, sizeof(f->field), "recipients[%d]", i);
        f->message = "unknown recipient: give one of user_id, email, phone, webhook";
        return -1;
    }
    if (!ok) {
        snprintf(f->field, sizeof(f->field), "%s", path);
        return -1;
    }
    *val = v;
    return 0;
}

/* ---- the job */

struct sctx {
    struct notify_engine *n;
    cJSON *body; /* owned */
    char app_id[72];
    char operator_id[72];
    char nid[32];
    char key[KEY_MAX + 1];
    char hash[65];
    int64_t send_at;
};

static void sctx_free(void *p)
{
    struct sctx *c = p;
    cJSON_Delete(c->body);
    free(c);
}

static void answer(struct kit_job *j, const char *id, int64_t deliveries, bool replay)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"id\":");
    buf_json_str(&b, id);
    buf_printf(&b, ",\"deliveries\":%lld}", (long long)deliveries);
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

/* Checks in, builds the write and starts it. Answers 422 itself on a bad request. */
static void send_start(struct notify_engine *n, struct http_req *req, cJSON *body,
                       const struct send_in *in, const char *app_id, const char *operator_id)
{
    struct fail f = {.message = NULL};
    if (!code_is_valid(in->type)) {
        http_respond_error(req, 422, "validation_failed",
                           "must be a message type code: 1-64 characters of A-Z a-z 0-9 _ . : -",
                           "type");
        goto bad;
    }
    const char *prio = in->priority ? in->priority : "normal";
    if (strcmp(prio, "normal") != 0 && strcmp(prio, "high") != 0 && strcmp(prio, "urgent") != 0) {
        http_respond_error(req, 422, "validation_failed",
                           "must be \"normal\", \"high\" or \"urgent\"", "priority");
        goto bad;
    }
    /* the key: the header or the member, the same when both */
    const char *hkey = http_req_header(req, "Idempotency-Key");
    if (hkey != NULL && !key_is_valid(hkey)) {
        http_respond_error(req, 422, "validation_failed",
                           "must be 1-128 printable ASCII characters", "Idempotency-Key");
        goto bad;
    }
    if (in->key != NULL && !key_is_valid(in->key)) {
        http_respond_error(req, 422, "validation_failed",
                           "must be 1-128 printable ASCII characters", "idempotency_key");
        goto bad;
    }
    if (hkey != NULL && in->key != NULL && strcmp(hkey, in->key) != 0) {
        http_respond_error(req, 422, "validation_failed", "differs from the Idempotency-Key header",
                           "idempotency_key");
        goto bad;
    }
    const char *key = hkey != NULL ? hkey : in->key;
    /* channels: the override, else inapp (message types' defaults: docs/notifications.md) */
    const char *chans[KINDS_MAX];
    int nchans = 0;
    if (in->channels.json != NULL) {
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, in->channels.json)
        {
            if (!kind_is_known(e->valuestring)) {
                failf(&f,
                      "must be a channel kind: inapp, email, webhook, dingtalk, wecom, feishu,"
                      " slack, sms_aliyun, wechat_mp",
                      "channels", i);
                goto fail;
            }
            for (int k = 0; k < nchans; k++)
                if (strcmp(chans[k], e->valuestring) == 0) {
                    failf(&f, "this channel is listed twice", "channels", i);
                    goto fail;
                }
            if (strcmp(e->valuestring, "inapp") != 0) {
                failf(&f, "the app has no enabled channel of this kind", "channels", i);
                goto fail;
            }
            chans[nchans++] = e->valuestring;
            i++;
        }
    } else {
        chans[nchans++] = "inapp";
    }
    if (in->title == NULL && in->content == NULL) {
        http_respond_error(req, 422, "validation_failed", "give a title or a content", "content");
        goto bad;
    }
    /* recipients */
    bool subscribers = false;
    struct buf list = BUF_INIT;
    int64_t now = clock_wall_ms();
    char nid[32];
    nid_new(nid, now);
    int ndel = 0;
    if (cJSON_IsString(in->recipients) && strcmp(in->recipients->valuestring, "subscribers") == 0) {
        subscribers = true;
    } else if (!cJSON_IsArray(in->recipients) || cJSON_GetArraySize(in->recipients) < 1 ||
               cJSON_GetArraySize(in->recipients) > NOTIFY_RECIPIENTS_MAX) {
        http_respond_error(req, 422, "validation_failed",
                           "must be \"subscribers\" or an array of 1-1000 recipients",
                           "recipients");
        goto bad;
    } else {
        const cJSON *e;
        int i = 0;
        buf_putc(&list, '[');
        const char *vals[NOTIFY_RECIPIENTS_MAX];
        const char *rkinds[NOTIFY_RECIPIENTS_MAX];
        cJSON_ArrayForEach(e, in->recipients)
        {
            const char *kind = NULL, *val = NULL;
            if (recipient(e, i, &kind, &val, &f) != 0) {
                buf_release(&list);
                goto fail;
            }
            for (int k = 0; k < i; k++)
                if (strcmp(vals[k], val) == 0 && (rkinds[k] == NULL) == (kind == NULL) &&
                    (kind == NULL || strcmp(kind, rkinds[k]) == 0)) {
                    failf(&f, "this recipient is listed twice", "recipients", i);
                    buf_release(&list);
                    goto fail;
                }
            if (kind != NULL) { /* an address: its own kind's channel */
                failf(&f,
                      strcmp(kind, "email") == 0     ? "the app has no enabled email channel"
                      : strcmp(kind, "webhook") == 0 ? "the app has no enabled webhook channel"
                                                     : "the app has no enabled sms_aliyun channel",
                      "recipients", i);
                buf_release(&list);
                goto fail;
            }
            vals[i] = val;
            rkinds[i] = kind;
            for (int k = 0; k < nchans; k++) {
                if (ndel > 0)
                    buf_putc(&list, ',');
                buf_printf(&list, "{\"id\":\"%s-%d\",\"u\":", nid, ndel + 1);
                buf_json_str(&list, val);
                buf_puts(&list, ",\"k\":");
                buf_json_str(&list, chans[k]);
                buf_putc(&list, '}');
                ndel++;
            }
            i++;
        }
        buf_putc(&list, ']');
    }
    int64_t send_at = in->send_at != KIT_INT_ABSENT ? in->send_at : now;
    if (send_at < now)
        send_at = now;
    int64_t expires = in->ttl != KIT_INT_ABSENT ? send_at + in->ttl : KIT_INT_ABSENT;

    struct sctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    snprintf(c->app_id, sizeof(c->app_id), "%s", app_id);
    snprintf(c->operator_id, sizeof(c->operator_id), "%s", operator_id ? operator_id : "");
    snprintf(c->nid, sizeof(c->nid), "%s", nid);
    c->send_at = send_at;
    if (key != NULL) {
        snprintf(c->key, sizeof(c->key), "%s", key);
        /* the request's hash: the body without its key (and the console's app_id) */
        cJSON *copy = cJSON_Duplicate(body, true);
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "idempotency_key");
        char *s = cJSON_PrintUnformatted(copy);
        sha256_hex(s, c->hash);
        cJSON_free(s);
        cJSON_Delete(copy);
    }
    struct store_op *op = store_op_new();
    if (key != NULL) {
        store_op_add(op, &SQL_IDEMPOTENCY_KEYS_CLAIM);
        store_bind_text(op, app_id);
        store_bind_text(op, key);
        store_bind_text(op, c->hash);
        store_bind_text(op, nid);
        store_bind_int(op, now);
        store_bind_int(op, now + NOTIFY_IDEM_WINDOW_MS);
        store_op_require_row(op);
    }
    char *params = json_text(in->params), *data = json_text(in->data);
    char *recips = json_text(in->recipients);
    struct buf ch = BUF_INIT;
    buf_putc(&ch, '[');
    for (int k = 0; k < nchans; k++) {
        if (k)
            buf_putc(&ch, ',');
        buf_json_str(&ch, chans[k]);
    }
    buf_putc(&ch, ']');
    store_op_add(op, &SQL_NOTIFICATIONS_INSERT);
    store_bind_text(op, nid);
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
    store_bind_int(op, send_at);
    if (expires != KIT_INT_ABSENT)
        store_bind_int(op, expires);
    else
        store_bind_null(op);
    store_bind_text(op, send_at > now ? "scheduled" : "queued");
    store_bind_text(op, key);
    store_bind_text(op, operator_id ? "console" : "api");
    store_bind_text(op, operator_id);
    store_bind_int(op, now);
    store_op_add(op,
                 subscribers ? &SQL_DELIVERIES_INSERT_SUBSCRIBERS : &SQL_DELIVERIES_INSERT_LIST);
    store_bind_text(op, app_id);
    store_bind_text(op, nid);
    store_bind_text(op, in->type);
    store_bind_int(op, send_at);
    store_bind_int(op, now);
    if (subscribers)
        store_bind_textn(op, ch.data, ch.len);
    else
        store_bind_textn(op, list.data, list.len);
    store_op_add(op, &SQL_JOBS_INSERT_FOR);
    store_bind_text(op, nid);
    store_bind_int(op, send_at);
    store_bind_int(op, now);
    if (operator_id != NULL) { /* the console's send is audited in the same write */
        store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_OPERATOR);
        store_bind_text(op, operator_id);
        store_bind_text(op, app_id);
        store_bind_text(op, "notification.send");
        store_bind_text(op, nid);
        struct buf detail = BUF_INIT;
        buf_puts(&detail, "{\"type\":");
        buf_json_str(&detail, in->type);
        buf_printf(&detail, ",\"deliveries\":%d}", subscribers ? -1 : ndel);
        store_bind_textn(op, detail.data, detail.len);
        buf_release(&detail);
        const char *peer = http_req_peer(req);
        store_bind_text(op, peer ? peer : "");
        store_bind_int(op, now);
    }
    store_op_add(op, &SQL_NOTIFICATIONS_COUNT_SET);
    store_bind_text(op, nid);
    free(params);
    free(data);
    free(recips);
    buf_release(&ch);
    buf_release(&list);
    c->body = body;
    struct kit_job *j = kit_job_new(req, n->store, NULL, c, sctx_free);
    kit_store(j, op, KIT_WRITE, written);
    return;
fail:
    http_respond_error(req, 422, "validation_failed", f.message, f.field);
bad:
    cJSON_Delete(body);
}

static void app_authed(struct http_req *req, const char *app_id, void *ud)
{
    struct send_in in;
    cJSON *body = kit_body(req, &send_table, &in);
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
    struct send_in in;
    cJSON *body = kit_body(req, &admin_table, &in);
    if (body == NULL)
        return;
    if (!notify__eng_app_in(apps_json, in.app_id)) {
        http_respond_error(req, 404, "not_found", "no such app", "app_id");
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
