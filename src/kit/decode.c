/*
 * The table-driven JSON input decoder and the SPEC's id, name and e-mail rules (see
 * decode.h).
 */
#include "decode.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/json_check.h"
#include "core/json_exact.h"
#include "kit/media_url.h"
#include "net/http.h"
#include "router/request.h"

#define DECODE_DEPTH 32 /* nested objects and arrays a table may describe */

/* ---- the rules */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '@' || c == '-';
}

bool kit_id_is_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if ((!id_char(s[n]) && s[n] != ':') || n >= KIT_ID_MAX)
            return false;
    return n >= 1;
}

bool kit_id_is_reserved(const char *s)
{
    return s != NULL && (strcmp(s, "online") == 0 || strcmp(s, "batch") == 0);
}

bool kit_name_is_valid(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (!id_char(s[n]) || n >= max)
            return false;
    return n >= 1;
}

bool kit_email_is_valid(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 254 || at == NULL || at == s || strchr(at + 1, '@') != NULL)
        return false;
    const char *dot = strrchr(at + 1, '.');
    if (dot == NULL || dot == at + 1 || dot[1] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

size_t kit_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- paths and errors */

static int fail(struct kit_error *err, const char *path, const char *message)
{
    snprintf(err->field, sizeof(err->field), "%s", path);
    err->message = message;
    return ERR_INVAL;
}

/* fail with f's own message, or with the kind's message formatted into err->buf */
__attribute__((format(printf, 4, 5))) static int
failf(struct kit_error *err, const char *path, const struct kit_field *f, const char *fmt, ...)
{
    if (f->message != NULL)
        return fail(err, path, f->message);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->buf, sizeof(err->buf), fmt, ap);
    va_end(ap);
    return fail(err, path, err->buf);
}

/* path of member name inside the object at base ("a" + "b" = "a.b"; "" + "b" = "b") */
static void path_member(char *out, const char *base, const char *name)
{
    snprintf(out, KIT_PATH_MAX, "%s%s%s", base, base[0] ? "." : "", name);
}

/* ---- one value */

static int decode_obj(const cJSON *obj, const struct kit_table *t, void *out, const char *path,
                      struct kit_error *err, int depth);

static int check_string(const cJSON *v, const struct kit_field *f, const char *path,
                        struct kit_error *err)
{
    if (!cJSON_IsString(v))
        return fail(err, path, f->message ? f->message : "must be a string");
    const char *s = v->valuestring;
    switch (f->kind) {
    case KIT_ID:
        if (!kit_id_is_valid(s))
            return fail(err, path,
                        f->message ? f->message
                                   : "must be 1-64 characters of A-Z a-z 0-9 _ . @ : -");
        return 0;
    case KIT_NAME:
        if (!kit_name_is_valid(s, f->max > 0 ? (size_t)f->max : 64))
            return failf(err, path, f, "must be 1-%" PRId64 " characters of A-Z a-z 0-9 _ - . @",
                         f->max > 0 ? f->max : 64);
        return 0;
    case KIT_EMAIL:
        if (!kit_email_is_valid(s))
            return fail(err, path, f->message ? f->message : "must be an e-mail address");
        return 0;
    case KIT_MEDIA: /* "", an http(s) URL, or a /media/ path (never javascript: or data:) */
        if ((s[0] != '\0' && s[0] != '/' && strncasecmp(s, "http://", 7) != 0 &&
             strncasecmp(s, "https://", 8) != 0) ||
            media_url_stored(s) == NULL)
            return fail(err, path,
                        f->message ? f->message
                                   : "must be an http(s) URL, or a /media/ path of an upload"
                                     " (no '..', no empty or hidden segment)");
        break; /* and its length */
    default:
        break;
    }
    if ((f->flags & KIT_LINE) && !kit_is_one_line(s))
        return fail(err, path,
                    f->message ? f->message : "must be one line of text (no control characters)");
    bool bytes = (f->flags & KIT_BYTES) != 0;
    int64_t n = (int64_t)(bytes ? strlen(s) : kit_utf8_len(s));
    if (n < f->min || (f->max > 0 && n > f->max)) {
        const char *unit = bytes ? "bytes" : "characters";
        if (f->message != NULL)
            return fail(err, path, f->message);
        if (f->min > 0)
            snprintf(err->buf, sizeof(err->buf), "must be %" PRId64 " to %" PRId64 " %s", f->min,
                     f->max, unit);
        else
            snprintf(err->buf, sizeof(err->buf), "must be at most %" PRId64 " %s", f->max, unit);
        return fail(err, path, err->buf);
    }
    return 0;
}

bool kit_is_one_line(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Checks v against f and, when out is not NULL, stores it at out + f->off. */
static int decode_value(const cJSON *v, const struct kit_field *f, void *out, const char *path,
                        struct kit_error *err, int depth)
{
    char *dst = out != NULL && f->at != 0 ? (char *)out + f->at - 1 : NULL;
    if (f->flags & KIT_REFUSED)
        return fail(err, path, f->message ? f->message : "cannot be set through this endpoint");
    if (depth > DECODE_DEPTH)
        return fail(err, path, "is nested too deep");
    int rc;
    switch (f->kind) {
    case KIT_STRING:
    case KIT_ID:
    case KIT_NAME:
    case KIT_EMAIL:
    case KIT_MEDIA:
        if ((rc = check_string(v, f, path, err)) != 0)
            return rc;
        if (dst)
            *(const char **)dst =
                f->kind == KIT_MEDIA ? media_url_stored(v->valuestring) : v->valuestring;
        return 0;
    case KIT_INT: {
        double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        int64_t lo = f->min, hi = f->max > 0 ? f->max : INT64_MAX;
        /* doubles hold whole numbers exactly up to 2^53 */
        if (!(d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0) ||
            (int64_t)d < lo || (int64_t)d > hi)
            return failf(err, path, f, "must be a whole number from %" PRId64 " to %" PRId64, lo,
                         hi);
        if (dst)
            *(int64_t *)dst = (int64_t)d;
        return 0;
    }
    case KIT_BOOL:
        if (!cJSON_IsBool(v))
            return fail(err, path, f->message ? f->message : "must be true or false");
        if (dst)
            *(int *)dst = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    case KIT_OBJECT:
        if (!cJSON_IsObject(v))
            return fail(err, path, f->message ? f->message : "must be a JSON object");
        if (f->sub != NULL && (rc = decode_obj(v, f->sub, out, path, err, depth + 1)) != 0)
            return rc;
        if (f->max > 0) {
            char *s = cJSON_PrintUnformatted(v);
            size_t n = s ? strlen(s) : SIZE_MAX;
            cJSON_free(s);
            if (n > (size_t)f->max)
                return failf(err, path, f, "must be at most %" PRId64 " bytes of JSON", f->max);
        }
        if (f->sub == NULL) /* free JSON: its numbers kept exact (core/json_exact.h) */
            json_exact((cJSON *)v);
        if (dst)
            *(const cJSON **)dst = v;
        return 0;
    case KIT_ARRAY: {
        int n = cJSON_GetArraySize(v);
        if (!cJSON_IsArray(v) || n < f->min || (f->max > 0 && n > f->max)) {
            if (f->max > 0)
                return failf(err, path, f, "must be an array of %" PRId64 " to %" PRId64 " items",
                             f->min, f->max);
            return fail(err, path, f->message ? f->message : "must be an array");
        }
        if (f->elem != NULL) {
            int i = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, v)
            {
                char sub[KIT_PATH_MAX];
                snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
                if ((rc = decode_value(e, f->elem, NULL, sub, err, depth + 1)) != 0)
                    return rc;
            }
        }
        if (dst) {
            ((struct kit_array *)dst)->json = v;
            ((struct kit_array *)dst)->n = n;
        }
        return 0;
    }
    case KIT_JSON:
        json_exact((cJSON *)v); /* any JSON: its numbers kept exact (core/json_exact.h) */
        if (dst)
            *(const cJSON **)dst = v;
        return 0;
    }
    return fail(err, path, "unknown kind");
}

/* Sets every member of t to its "absent" value. */
static void clear(const struct kit_table *t, void *out)
{
    for (const struct kit_field *f = t->fields; f->name != NULL; f++) {
        if (f->kind == KIT_OBJECT && f->sub != NULL)
            clear(f->sub, out);
        if (f->at == 0)
            continue;
        char *dst = (char *)out + f->at - 1;
        switch (f->kind) {
        case KIT_INT:
            *(int64_t *)dst = KIT_INT_ABSENT;
            break;
        case KIT_BOOL:
            *(int *)dst = -1;
            break;
        case KIT_ARRAY:
            ((struct kit_array *)dst)->json = NULL;
            ((struct kit_array *)dst)->n = 0;
            break;
        default:
            *(const void **)dst = NULL;
            break;
        }
    }
}

static const struct kit_field *lookup(const struct kit_table *t, const char *name)
{
    for (const struct kit_field *f = t->fields; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static int decode_obj(const cJSON *obj, const struct kit_table *t, void *out, const char *path,
                      struct kit_error *err, int depth)
{
    if (!cJSON_IsObject(obj))
        return fail(err, path, "must be a JSON object");
    const cJSON *m;
    char sub[KIT_PATH_MAX];
    cJSON_ArrayForEach(m, obj)
    {
        path_member(sub, path, m->string);
        const struct kit_field *f = lookup(t, m->string);
        if (f == NULL) {
            if (!t->open)
                return fail(err, sub, t->unknown ? t->unknown : "unknown field");
            if (t->key_max > 0 && strlen(m->string) > t->key_max)
                return fail(err, sub,
                            t->rest && t->rest->message ? t->rest->message : "has too long a name");
            if (t->rest != NULL) {
                int rc = decode_value(m, t->rest, NULL, sub, err, depth);
                if (rc != 0)
                    return rc;
            }
            continue;
        }
        if (cJSON_IsNull(m) && (f->flags & KIT_NULLABLE))
            continue;
        int rc = decode_value(m, f, out, sub, err, depth);
        if (rc != 0)
            return rc;
    }
    for (const struct kit_field *f = t->fields; f->name != NULL; f++) {
        if (!(f->flags & KIT_REQUIRED))
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);
        if (v == NULL || (cJSON_IsNull(v) && (f->flags & KIT_NULLABLE))) {
            path_member(sub, path, f->name);
            return fail(err, sub, "is required");
        }
    }
    return 0;
}

int kit_decode(const cJSON *obj, const struct kit_table *t, void *out, const char *prefix,
               struct kit_error *err)
{
    err->field[0] = '\0';
    err->message = NULL;
    clear(t, out);
    return decode_obj(obj, t, out, prefix ? prefix : "", err, 0);
}

int kit_check(const cJSON *v, const struct kit_field *f, const char *path, struct kit_error *err)
{
    err->field[0] = '\0';
    err->message = NULL;
    return decode_value(v, f, NULL, path ? path : "", err, 0);
}

int kit_decode_text(const char *text, size_t len, const struct kit_table *t, void *out,
                    struct kit_error *err, cJSON **root)
{
    *root = NULL;
    err->field[0] = '\0';
    err->message = NULL;
    struct json_check_result r;
    int rc = json_check(text, len, REQUEST_JSON_DEPTH, &r);
    if (rc == ERR_INVAL) { /* a \u0000 inside a string: no C string can hold it */
        snprintf(err->field, sizeof(err->field), "%s", r.path);
        snprintf(err->buf, sizeof(err->buf), "%s", r.message);
        err->message = err->buf;
        return ERR_INVAL;
    }
    if (rc != 0)
        return ERR_JSON;
    cJSON *v = cJSON_ParseWithLength(text, len);
    if (v == NULL)
        return ERR_JSON;
    if ((rc = kit_decode(v, t, out, NULL, err)) != 0) {
        cJSON_Delete(v);
        return rc;
    }
    *root = v;
    return 0;
}

void kit_wipe_member(cJSON *obj, const char *name)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(m))
        return;
    explicit_bzero(m->valuestring, strlen(m->valuestring));
    cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
}

void kit_fail_decode(struct http_req *req, const struct kit_error *err)
{
    http_respond_error(req, 422, "validation_failed", err->message ? err->message : "is refused",
                       err->field);
}

cJSON *kit_body(struct http_req *req, const struct kit_table *t, void *out)
{
    cJSON *v = request_body_json(req);
    if (v == NULL)
        return NULL;
    struct kit_error err;
    if (kit_decode(v, t, out, NULL, &err) != 0) {
        kit_fail_decode(req, &err);
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}
