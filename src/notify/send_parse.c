/*
 * The body of a send (docs/notifications.md, "Sending"): POST /api/v1/notifications and the
 * console's POST /admin/notifications decoded by the kit's tables and checked — the type code,
 * the priority, the locale, the idempotency key, the channel kinds, the recipients (user ids or
 * addresses, at most 1000, no repeats) — with no I/O, so that the fuzz target
 * (fuzz/fuzz_notify_request.c) runs the same code as the handler (send.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/xalloc.h"
#include "kit/decode.h"
#include "notify/driver.h"
#include "notify/engine.h"

#define TITLE_MAX 256    /* characters */
#define CONTENT_MAX 8192 /* characters */
#define JSON_MAX 16384   /* bytes of params, of data */
#define KEY_MAX 128      /* bytes of an idempotency key */
#define TTL_MAX (30LL * 24 * 3600000)
#define SEND_AT_MAX 4102444800000LL /* 2100-01-01 */
#define KINDS_MAX NOTIFY_KINDS_MAX

static const struct kit_field kind_elem = {
    .kind = KIT_STRING, .min = 1, .max = 16, .message = "must be a channel kind"};

#define SEND_FIELDS                                                                                \
    {.name = "type",                                                                               \
     .kind = KIT_STRING,                                                                           \
     .flags = KIT_REQUIRED | KIT_BYTES,                                                            \
     .min = 1,                                                                                     \
     .max = 64,                                                                                    \
     .at = KIT_AT(struct notify_send_req, type),                                                   \
     .message = "must be a message type code: 1-64 characters of A-Z a-z 0-9 _ . : -"},            \
        {.name = "recipients",                                                                     \
         .kind = KIT_JSON,                                                                         \
         .flags = KIT_REQUIRED,                                                                    \
         .at = KIT_AT(struct notify_send_req, recipients)},                                        \
        {.name = "title",                                                                          \
         .kind = KIT_STRING,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = TITLE_MAX,                                                                         \
         .at = KIT_AT(struct notify_send_req, title)},                                             \
        {.name = "content",                                                                        \
         .kind = KIT_STRING,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = CONTENT_MAX,                                                                       \
         .at = KIT_AT(struct notify_send_req, content)},                                           \
        {.name = "params",                                                                         \
         .kind = KIT_OBJECT,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = JSON_MAX,                                                                          \
         .at = KIT_AT(struct notify_send_req, params)},                                            \
        {.name = "data",                                                                           \
         .kind = KIT_OBJECT,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = JSON_MAX,                                                                          \
         .at = KIT_AT(struct notify_send_req, data)},                                              \
        {.name = "channels",                                                                       \
         .kind = KIT_ARRAY,                                                                        \
         .flags = KIT_NULLABLE,                                                                    \
         .min = 1,                                                                                 \
         .max = KINDS_MAX,                                                                         \
         .elem = &kind_elem,                                                                       \
         .at = KIT_AT(struct notify_send_req, channels)},                                          \
        {.name = "priority",                                                                       \
         .kind = KIT_STRING,                                                                       \
         .flags = KIT_NULLABLE,                                                                    \
         .max = 16,                                                                                \
         .at = KIT_AT(struct notify_send_req, priority),                                           \
         .message = "must be \"normal\", \"high\" or \"urgent\""},                                 \
        {.name = "ttl",                                                                            \
         .kind = KIT_INT,                                                                          \
         .flags = KIT_NULLABLE,                                                                    \
         .min = 1000,                                                                              \
         .max = TTL_MAX,                                                                           \
         .at = KIT_AT(struct notify_send_req, ttl),                                                \
         .message = "must be milliseconds from 1000 to 30 days"},                                  \
        {.name = "send_at",                                                                        \
         .kind = KIT_INT,                                                                          \
         .flags = KIT_NULLABLE,                                                                    \
         .min = 0,                                                                                 \
         .max = SEND_AT_MAX,                                                                       \
         .at = KIT_AT(struct notify_send_req, send_at),                                            \
         .message = "must be a time in milliseconds since the Unix epoch"},                        \
        {.name = "locale",                                                                         \
         .kind = KIT_STRING,                                                                       \
         .flags = KIT_NULLABLE | KIT_BYTES,                                                        \
         .min = 1,                                                                                 \
         .max = 16,                                                                                \
         .at = KIT_AT(struct notify_send_req, locale),                                             \
         .message = "must be a locale such as \"en\" or \"zh-CN\""},                               \
    {                                                                                              \
        .name = "idempotency_key", .kind = KIT_STRING, .flags = KIT_NULLABLE | KIT_BYTES,          \
        .min = 1, .max = KEY_MAX, .at = KIT_AT(struct notify_send_req, key),                       \
        .message = "must be 1-128 printable ASCII characters"                                      \
    }

static const struct kit_field send_fields[] = {SEND_FIELDS, {.name = NULL}};
static const struct kit_table send_table = {.fields = send_fields};
static const struct kit_field admin_fields[] = {
    {.name = "app_id",
     .kind = KIT_NAME,
     .flags = KIT_REQUIRED,
     .max = 64,
     .at = KIT_AT(struct notify_send_req, app_id),
     .message = "must be an app id"},
    SEND_FIELDS,
    {.name = NULL},
};
static const struct kit_table admin_table = {.fields = admin_fields};

/* ---- checks */

bool notify__eng_type_valid(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == ':' || *p == '-'))
            return false;
    return *s != '\0' && strlen(s) <= 64;
}

bool notify__eng_key_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > KEY_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

static int failv(struct kit_error *f, const char *message, const char *field)
{
    snprintf(f->field, sizeof(f->field), "%s", field);
    f->message = message;
    return ERR_INVAL;
}

static int failf(struct kit_error *f, const char *message, const char *member, int i)
{
    snprintf(f->field, sizeof(f->field), "%s[%d]", member, i);
    f->message = message;
    return -1;
}

/* A recipient: a user id, or an object with one of user_id, email, phone, webhook. Its kind
 * (NULL: a user, every channel) and its text go to *kind and *val. */
static int recipient(const cJSON *e, int i, const char **kind, const char **val,
                     struct kit_error *f)
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

bool notify__eng_kind_in(const char *const *list, int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], k) == 0)
            return true;
    return false;
}

int notify__send_parse(const cJSON *body, bool console, struct notify_send_req *in,
                       struct kit_error *err)
{
    struct kit_error *f = err;
    memset(in, 0, sizeof(*in));
    if (kit_decode(body, console ? &admin_table : &send_table, in, NULL, err) != 0)
        return ERR_INVAL;
    if (!notify__eng_type_valid(in->type))
        return failv(f, "must be a message type code: 1-64 characters of A-Z a-z 0-9 _ . : -",
                     "type");
    const char *prio = in->priority ? in->priority : "normal";
    if (strcmp(prio, "normal") != 0 && strcmp(prio, "high") != 0 && strcmp(prio, "urgent") != 0)
        return failv(f, "must be \"normal\", \"high\" or \"urgent\"", "priority");
    if (in->locale != NULL) {
        bool ok = strlen(in->locale) <= 16;
        for (const char *p = in->locale; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_';
        if (!ok)
            return failv(f, "must be a locale such as \"en\" or \"zh-CN\"", "locale");
    }
    if (in->key != NULL && !notify__eng_key_valid(in->key))
        return failv(f, "must be 1-128 printable ASCII characters", "idempotency_key");
    if (in->channels.json != NULL) {
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, in->channels.json)
        {
            if (!notify_kind_is_known(e->valuestring))
                return failf(f, "must be a channel kind: " NOTIFY_KINDS_TEXT, "channels", i);
            if (notify__eng_kind_in(in->over, in->nover, e->valuestring))
                return failf(f, "this channel is listed twice", "channels", i);
            in->over[in->nover++] = e->valuestring;
            i++;
        }
    }
    if (cJSON_IsString(in->recipients) && strcmp(in->recipients->valuestring, "subscribers") == 0) {
        in->subscribers = true;
        return 0;
    }
    if (!cJSON_IsArray(in->recipients) || cJSON_GetArraySize(in->recipients) < 1 ||
        cJSON_GetArraySize(in->recipients) > NOTIFY_RECIPIENTS_MAX)
        return failv(f, "must be \"subscribers\" or an array of 1-1000 recipients", "recipients");
    in->recips = xcalloc((size_t)cJSON_GetArraySize(in->recipients), sizeof(*in->recips));
    const cJSON *e;
    cJSON_ArrayForEach(e, in->recipients)
    {
        int i = in->nrecips;
        struct notify_recip *r = in->recips;
        if (recipient(e, i, &r[i].kind, &r[i].val, f) != 0)
            goto bad;
        for (int k = 0; k < i; k++)
            if (strcmp(r[k].val, r[i].val) == 0 && (r[k].kind == NULL) == (r[i].kind == NULL) &&
                (r[i].kind == NULL || strcmp(r[k].kind, r[i].kind) == 0)) {
                failf(f, "this recipient is listed twice", "recipients", i);
                goto bad;
            }
        in->nrecips++;
    }
    return 0;
bad:
    notify__send_req_release(in);
    return ERR_INVAL;
}

void notify__send_req_release(struct notify_send_req *in)
{
    free(in->recips);
    in->recips = NULL;
    in->nrecips = 0;
}
