/*
 * Validation of user bodies (docs/identity.md) and the JSON form of a user row. Errors
 * name the JSON path of the offending field ("name", "users[3].contacts.email").
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/store.h"

/* Characters (UTF-8 code points) of s. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int bad(char *field, size_t fieldlen, const char *prefix, const char *name, const char **msg,
               const char *why)
{
    snprintf(field, fieldlen, "%s%s", prefix, name);
    *msg = why;
    return ERR_INVAL;
}

/* A string member of at most max characters: 0, -1 (not a string) or -2 (too long). */
static int get_str(const cJSON *m, size_t max, const char **out)
{
    if (!cJSON_IsString(m))
        return -1;
    if (utf8_len(m->valuestring) > max)
        return -2;
    *out = m->valuestring;
    return 0;
}

int identity__user_fields_parse(const cJSON *obj, enum user_mode mode, const char *prefix,
                                struct user_fields *f, char *field, size_t fieldlen,
                                const char **msg)
{
    memset(f, 0, sizeof(*f));
    f->disabled = -1;
    if (!cJSON_IsObject(obj))
        return bad(field, fieldlen, prefix, "", msg, "must be a JSON object");
    if (prefix[0] == '\0' && fieldlen > 0)
        field[0] = '\0';
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        const char *k = m->string;
        int rc;
        if (strcmp(k, "id") == 0) {
            if (mode == USER_PATCH)
                return bad(field, fieldlen, prefix, k, msg, "cannot be changed");
            if (!cJSON_IsString(m) || !kit_id_is_valid(m->valuestring))
                return bad(field, fieldlen, prefix, k, msg,
                           "must be 1-64 characters of A-Z a-z 0-9 _ . @ : -");
            f->id = m->valuestring;
        } else if (strcmp(k, "name") == 0) {
            if ((rc = get_str(m, USER_NAME_MAX, &f->name)) != 0)
                return bad(field, fieldlen, prefix, k, msg,
                           rc == -1 ? "must be a string" : "must be at most 128 characters");
        } else if (strcmp(k, "avatar") == 0) {
            if ((rc = get_str(m, USER_AVATAR_MAX, &f->avatar)) != 0)
                return bad(field, fieldlen, prefix, k, msg,
                           rc == -1 ? "must be a string" : "must be at most 1024 characters");
        } else if (strcmp(k, "kind") == 0) {
            if ((rc = get_str(m, USER_KIND_MAX, &f->kind)) != 0)
                return bad(field, fieldlen, prefix, k, msg,
                           rc == -1 ? "must be a string" : "must be at most 32 characters");
        } else if (strcmp(k, "contacts") == 0) {
            if (!cJSON_IsObject(m))
                return bad(field, fieldlen, prefix, k, msg, "must be an object of strings");
            const cJSON *c;
            cJSON_ArrayForEach(c, m)
            {
                if (!cJSON_IsString(c) || utf8_len(c->valuestring) > 256 ||
                    strlen(c->string) > 64) {
                    char sub[128];
                    snprintf(sub, sizeof(sub), "contacts.%.64s", c->string);
                    return bad(field, fieldlen, prefix, sub, msg,
                               "must be a string of at most 256 characters");
                }
                if (strcmp(c->string, "email") == 0 && !kit_email_is_valid(c->valuestring))
                    return bad(field, fieldlen, prefix, "contacts.email", msg,
                               "must be an e-mail address");
            }
            free(f->contacts);
            f->contacts = cJSON_PrintUnformatted(m);
        } else if (strcmp(k, "metadata") == 0) {
            if (!cJSON_IsObject(m))
                return bad(field, fieldlen, prefix, k, msg, "must be a JSON object");
            free(f->metadata);
            f->metadata = cJSON_PrintUnformatted(m);
            if (f->metadata == NULL || strlen(f->metadata) > USER_METADATA_MAX)
                return bad(field, fieldlen, prefix, k, msg, "must be at most 64 KiB of JSON");
        } else if (strcmp(k, "disabled") == 0) {
            if (!cJSON_IsBool(m))
                return bad(field, fieldlen, prefix, k, msg, "must be true or false");
            f->disabled = cJSON_IsTrue(m) ? 1 : 0;
        } else if (strcmp(k, "app_id") == 0 || strcmp(k, "role") == 0 ||
                   strcmp(k, "password_hash") == 0) {
            return bad(field, fieldlen, prefix, k, msg, "cannot be set through this endpoint");
        } else {
            return bad(field, fieldlen, prefix, k, msg, "unknown field");
        }
    }
    if (mode == USER_CREATE && f->id == NULL)
        return bad(field, fieldlen, prefix, "id", msg, "is required");
    return 0;
}

void identity__user_fields_release(struct user_fields *f)
{
    free(f->contacts);
    free(f->metadata);
    f->contacts = f->metadata = NULL;
}

/* Parses a stored JSON object text; an empty object when it does not parse. */
static cJSON *stored_object(const char *s)
{
    cJSON *v = s ? cJSON_Parse(s) : NULL;
    if (v == NULL)
        v = cJSON_CreateObject();
    return v;
}

cJSON *identity__user_json(const struct store_rows *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    const char *id = store_rows_text(r, i, 0);
    cJSON_AddStringToObject(o, "id", id ? id : "");
    for (int c = 1; c <= 3; c++) {
        const char *v = store_rows_text(r, i, c);
        cJSON_AddStringToObject(o, r->cols[c], v ? v : "");
    }
    cJSON_AddItemToObject(o, "contacts", stored_object(store_rows_text(r, i, 4)));
    cJSON_AddItemToObject(o, "metadata", stored_object(store_rows_text(r, i, 5)));
    cJSON_AddBoolToObject(o, "disabled", store_rows_int(r, i, 6) != 0);
    cJSON_AddNumberToObject(o, "created_at", (double)store_rows_int(r, i, 7));
    cJSON_AddNumberToObject(o, "updated_at", (double)store_rows_int(r, i, 8));
    return o;
}
