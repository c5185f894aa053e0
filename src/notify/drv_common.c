/*
 * What the HTTP channel drivers share (http_drivers.h): config checks with the JSON path of
 * the bad member, result helpers and the text of a message.
 */
#include "notify/http_drivers.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/xalloc.h"
#include "notify/http_out.h"

const char *notify__cfg_str(const cJSON *cfg, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int bad(char *field, size_t fieldsz, const char *name, char *msg, size_t msgsz,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int bad(char *field, size_t fieldsz, const char *name, char *msg, size_t msgsz,
               const char *fmt, ...)
{
    va_list ap;
    snprintf(field, fieldsz, "%s", name);
    va_start(ap, fmt);
    vsnprintf(msg, msgsz, fmt, ap);
    va_end(ap);
    return ERR_INVAL;
}

int notify__check_object(const cJSON *cfg, const char *const *allowed, char *field, size_t fieldsz,
                         char *msg, size_t msgsz)
{
    if (!cJSON_IsObject(cfg))
        return bad(field, fieldsz, "", msg, msgsz, "must be an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, cfg)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = it->string && strcmp(it->string, *a) == 0;
        if (!ok)
            return bad(field, fieldsz, it->string ? it->string : "", msg, msgsz,
                       "is not a member of this channel kind's config");
    }
    return 0;
}

int notify__check_str(const cJSON *cfg, const char *name, bool required, size_t maxlen, char *field,
                      size_t fieldsz, char *msg, size_t msgsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, name);
    if (v == NULL) {
        if (required)
            return bad(field, fieldsz, name, msg, msgsz, "is required");
        return 0;
    }
    if (!cJSON_IsString(v))
        return bad(field, fieldsz, name, msg, msgsz, "must be a string");
    size_t n = strlen(v->valuestring);
    if (n == 0 || n > maxlen)
        return bad(field, fieldsz, name, msg, msgsz, "must be 1 to %zu bytes", maxlen);
    if (!http_out_header_is_clean(v->valuestring))
        return bad(field, fieldsz, name, msg, msgsz, "must not contain control characters");
    return 0;
}

int notify__check_url(const cJSON *cfg, const char *name, bool required, char *field,
                      size_t fieldsz, char *msg, size_t msgsz)
{
    int rc = notify__check_str(cfg, name, required, HTTP_OUT_URL_MAX, field, fieldsz, msg, msgsz);
    if (rc != 0)
        return rc;
    const char *url = notify__cfg_str(cfg, name);
    char why[128];
    if (url && !http_out_url_check(url, why, sizeof why))
        return bad(field, fieldsz, name, msg, msgsz, "%s", why);
    return 0;
}

int notify__check_timeout(const cJSON *cfg, char *field, size_t fieldsz, char *msg, size_t msgsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "timeout_s");
    if (v == NULL)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble || v->valueint < 1 ||
        v->valueint > HTTP_OUT_TIMEOUT_MAX_S)
        return bad(field, fieldsz, "timeout_s", msg, msgsz, "must be an integer from 1 to %d",
                   HTTP_OUT_TIMEOUT_MAX_S);
    return 0;
}

int notify__check_str_map(const cJSON *cfg, const char *name, size_t max, size_t maxlen,
                          char *field, size_t fieldsz, char *msg, size_t msgsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, name);
    if (v == NULL)
        return 0;
    if (!cJSON_IsObject(v))
        return bad(field, fieldsz, name, msg, msgsz, "must be an object of strings");
    size_t count = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        char path[160];
        snprintf(path, sizeof path, "%s.%s", name, it->string ? it->string : "");
        if (++count > max)
            return bad(field, fieldsz, name, msg, msgsz, "must have at most %zu members", max);
        if (!cJSON_IsString(it) || strlen(it->valuestring) == 0 ||
            strlen(it->valuestring) > maxlen || !http_out_header_is_clean(it->valuestring))
            return bad(field, fieldsz, path, msg, msgsz, "must be a string of 1 to %zu bytes",
                       maxlen);
    }
    return 0;
}

int notify__cfg_timeout(const cJSON *cfg)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "timeout_s");
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

void notify__result(struct notify_result *r, enum notify_outcome o, int code, const char *fmt, ...)
{
    va_list ap;
    r->outcome = o;
    r->code = code;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

void notify__msg_text(struct buf *b, const struct notify_msg *m)
{
    if (m->title && m->title[0]) {
        buf_puts(b, m->title);
        buf_putc(b, '\n');
    }
    buf_puts(b, m->content ? m->content : "");
}

void notify__param_text(struct buf *b, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        buf_puts(b, v->valuestring);
    } else if (cJSON_IsNumber(v) && v->valuedouble > -1e15 && v->valuedouble < 1e15 &&
               v->valuedouble == (double)(long long)v->valuedouble) {
        buf_printf(b, "%lld", (long long)v->valuedouble);
    } else if (cJSON_IsNumber(v)) {
        buf_printf(b, "%.17g", v->valuedouble);
    } else if (cJSON_IsTrue(v)) {
        buf_puts(b, "true");
    } else if (cJSON_IsFalse(v)) {
        buf_puts(b, "false");
    } else if (!cJSON_IsNull(v)) {
        char *s = cJSON_PrintUnformatted(v);
        buf_puts(b, s);
        cJSON_free(s);
    }
}

char *notify__dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void notify__cut_utf8(struct buf *b, size_t max)
{
    if (b->len <= max)
        return;
    size_t n = max - 3;
    while (n > 0 && ((unsigned char)b->data[n] & 0xc0) == 0x80)
        n--; /* b->data[n] starts a character: the text before it is whole */
    b->len = n;
    buf_puts(b, "...");
}
