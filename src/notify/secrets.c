/*
 * The secret members of channel configs (internal.h): a driver names them by path
 * ("password", "accounts[].password"); each string found there is sealed with the server's
 * key (auth/secretbox.h) when saved, masked when read and opened only into a driver state.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/secretbox.h"
#include "core/err.h"
#include "notify/internal.h"

/* Called for the member name of obj (a string, or absent) and the same member of old. */
typedef int (*leaf_fn)(cJSON *obj, const char *name, const cJSON *old, void *ud);

/* Walks path (the part of a secret path still to follow) from n, and the same path from old
 * (may be NULL): "a.b" descends objects, "a[].b" every element of array a (old's by index). */
static int walk(cJSON *n, const cJSON *old, const char *path, leaf_fn fn, void *ud)
{
    if (!cJSON_IsObject(n))
        return 0;
    if (!cJSON_IsObject(old))
        old = NULL;
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    char seg[64];
    if (len == 0 || len >= sizeof(seg))
        return 0;
    memcpy(seg, path, len);
    seg[len] = '\0';
    bool each = len > 2 && strcmp(seg + len - 2, "[]") == 0;
    if (each)
        seg[len - 2] = '\0';
    cJSON *child = cJSON_GetObjectItemCaseSensitive(n, seg);
    const cJSON *ochild = old ? cJSON_GetObjectItemCaseSensitive(old, seg) : NULL;
    if (dot == NULL)
        return each ? 0 : fn(n, seg, ochild, ud);
    if (!each)
        return walk(child, ochild, dot + 1, fn, ud);
    if (!cJSON_IsArray(child))
        return 0;
    int i = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, child)
    {
        const cJSON *oe = cJSON_IsArray(ochild) ? cJSON_GetArrayItem(ochild, i) : NULL;
        int rc = walk(e, oe, dot + 1, fn, ud);
        if (rc != 0)
            return rc;
        i++;
    }
    return 0;
}

static int walk_all(const struct notify_driver *d, cJSON *config, const cJSON *old, leaf_fn fn,
                    void *ud)
{
    for (int i = 0; d->secret_fields != NULL && d->secret_fields[i] != NULL; i++) {
        int rc = walk(config, old, d->secret_fields[i], fn, ud);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The plain text of a sealed string (caller frees), or NULL. */
static char *open_str(const uint8_t *key, const cJSON *v)
{
    if (!cJSON_IsString(v))
        return NULL;
    uint8_t *out = NULL;
    size_t n = 0;
    if (secretbox_open(key, v->valuestring, &out, &n) != 0)
        return NULL;
    return (char *)out;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static int seal_leaf(cJSON *obj, const char *name, const cJSON *old, void *ud)
{
    const uint8_t *key = ud;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v))
        return 0;
    char *plain = open_str(key, old);
    if (plain != NULL) {
        char mask[SECRET_MASK_SIZE];
        bool same = strcmp(v->valuestring, secret_mask(plain, mask)) == 0;
        wipe_free(plain);
        if (same) { /* the masked value sent back: the stored secret stays */
            cJSON_ReplaceItemInObjectCaseSensitive(obj, name, cJSON_CreateString(old->valuestring));
            return 0;
        }
    }
    char *sealed = NULL;
    int rc = secretbox_seal(key, v->valuestring, strlen(v->valuestring), &sealed);
    if (rc != 0)
        return rc;
    explicit_bzero(v->valuestring, strlen(v->valuestring));
    cJSON_ReplaceItemInObjectCaseSensitive(obj, name, cJSON_CreateString(sealed));
    free(sealed);
    return 0;
}

int notify__config_seal(const uint8_t *key, const struct notify_driver *d, cJSON *config,
                        const cJSON *stored)
{
    return walk_all(d, config, stored, seal_leaf, (void *)key);
}

static int mask_leaf(cJSON *obj, const char *name, const cJSON *old, void *ud)
{
    (void)old;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v))
        return 0;
    char *plain = open_str(ud, v);
    char mask[SECRET_MASK_SIZE];
    cJSON_ReplaceItemInObjectCaseSensitive(
        obj, name, cJSON_CreateString(plain != NULL ? secret_mask(plain, mask) : "****"));
    wipe_free(plain);
    return 0;
}

void notify__config_mask(const uint8_t *key, const struct notify_driver *d, cJSON *config)
{
    walk_all(d, config, NULL, mask_leaf, (void *)key);
}

static int open_leaf(cJSON *obj, const char *name, const cJSON *old, void *ud)
{
    (void)old;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v))
        return 0;
    char *plain = open_str(ud, v);
    if (plain == NULL)
        return ERR_INVAL;
    cJSON_ReplaceItemInObjectCaseSensitive(obj, name, cJSON_CreateString(plain));
    wipe_free(plain);
    return 0;
}

int notify__config_open(const uint8_t *key, const struct notify_driver *d, cJSON *config)
{
    return walk_all(d, config, NULL, open_leaf, (void *)key);
}
