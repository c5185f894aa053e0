/*
 * libFuzzer target for the request kit's table-driven JSON decoder (kit/decode.h): each input
 * is decoded, as strict JSON text, against a table with every kind (strings in characters and
 * bytes, ids, names, e-mails, ints, bools, a nested open object, arrays of names and of
 * objects, any JSON, a refused member). Checked: nothing crashes or leaks; a refused input has
 * a message and a NUL-terminated path that starts at a member the text names (or is the
 * root); an accepted one holds only values within the table's rules, and every required
 * member is set.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/log.h"
#include "kit/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct target {
    const char *id, *name, *code, *email, *tag;
    int64_t n;
    int flag;
    const cJSON *contacts, *any;
    struct kit_array tags, items;
};

static const struct kit_field rest = {.name = "", .kind = KIT_STRING, .max = 256};
static const struct kit_field contact_fields[] = {
    {.name = "email", .kind = KIT_EMAIL, .at = KIT_AT(struct target, email)},
    {.name = NULL},
};
static const struct kit_table contacts = {
    .fields = contact_fields, .open = true, .rest = &rest, .key_max = 64};
static const struct kit_field item_fields[] = {
    {.name = "id", .kind = KIT_ID, .flags = KIT_REQUIRED},
    {.name = "contacts", .kind = KIT_OBJECT, .sub = &contacts},
    {.name = NULL},
};
static const struct kit_table item = {.fields = item_fields, .open = false};
static const struct kit_field item_elem = {.name = "", .kind = KIT_OBJECT, .sub = &item};
static const struct kit_field tag_elem = {.name = "", .kind = KIT_NAME, .max = 8};
static const struct kit_field fields[] = {
    {.name = "id", .kind = KIT_ID, .flags = KIT_REQUIRED, .at = KIT_AT(struct target, id)},
    {.name = "name", .kind = KIT_STRING, .max = 5, .at = KIT_AT(struct target, name)},
    {.name = "code",
     .kind = KIT_STRING,
     .flags = KIT_BYTES,
     .min = 2,
     .max = 6,
     .at = KIT_AT(struct target, code)},
    {.name = "tag", .kind = KIT_NAME, .max = 8, .at = KIT_AT(struct target, tag)},
    {.name = "n", .kind = KIT_INT, .min = -5, .max = 1000, .at = KIT_AT(struct target, n)},
    {.name = "flag", .kind = KIT_BOOL, .at = KIT_AT(struct target, flag)},
    {.name = "contacts",
     .kind = KIT_OBJECT,
     .max = 512,
     .at = KIT_AT(struct target, contacts),
     .sub = &contacts},
    {.name = "any", .kind = KIT_JSON, .flags = KIT_NULLABLE, .at = KIT_AT(struct target, any)},
    {.name = "tags",
     .kind = KIT_ARRAY,
     .max = 4,
     .at = KIT_AT(struct target, tags),
     .elem = &tag_elem},
    {.name = "items",
     .kind = KIT_ARRAY,
     .min = 1,
     .max = 8,
     .at = KIT_AT(struct target, items),
     .elem = &item_elem},
    {.name = "role", .kind = KIT_STRING, .flags = KIT_REFUSED},
    {.name = NULL},
};
static const struct kit_table table = {.fields = fields, .open = false};

static void check_str(const char *s, size_t lo, size_t hi, bool bytes)
{
    if (s == NULL)
        return;
    size_t n = bytes ? strlen(s) : kit_utf8_len(s);
    if (n < lo || n > hi)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        log_setup(LOG_OFF, false);
        init = 1;
    }
    struct target t;
    struct kit_error err;
    cJSON *root = NULL;
    memset(&t, 0xa5, sizeof(t));
    int rc = kit_decode_text((const char *)data, size, &table, &t, &err, &root);
    if (rc == ERR_JSON)
        return root == NULL ? 0 : (abort(), 0);
    if (rc == ERR_INVAL) {
        if (root != NULL || err.message == NULL || err.message[0] == '\0' ||
            strnlen(err.field, sizeof(err.field)) == sizeof(err.field))
            abort();
        return 0;
    }
    if (rc != 0 || root == NULL)
        abort();
    if (t.id == NULL || !kit_id_is_valid(t.id))
        abort();
    check_str(t.name, 0, 5, false);
    check_str(t.code, 2, 6, true);
    if (t.tag != NULL && !kit_name_is_valid(t.tag, 8))
        abort();
    if (t.email != NULL && !kit_email_is_valid(t.email))
        abort();
    if (t.n != KIT_INT_ABSENT && (t.n < -5 || t.n > 1000))
        abort();
    if (t.flag < -1 || t.flag > 1)
        abort();
    if (t.contacts != NULL && !cJSON_IsObject(t.contacts))
        abort();
    if ((t.tags.json != NULL && (t.tags.n > 4 || !cJSON_IsArray(t.tags.json))) ||
        (t.items.json != NULL && (t.items.n < 1 || t.items.n > 8)))
        abort();
    if (cJSON_GetObjectItemCaseSensitive(root, "role") != NULL)
        abort();
    const cJSON *it;
    cJSON_ArrayForEach(it, t.items.json)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!cJSON_IsString(id) || !kit_id_is_valid(id->valuestring))
            abort();
    }
    cJSON_Delete(root);
    return 0;
}
