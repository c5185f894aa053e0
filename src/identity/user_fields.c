/*
 * Validation of user bodies (docs/identity.md) with the kit's decoder (kit/decode.h), and the
 * JSON form of a user row. Errors name the JSON path of the offending field ("name",
 * "users[3].contacts.email").
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_exact.h"
#include "core/err.h"
#include "kit/media_url.h"
#include "store/store.h"

/* What the decoder binds of a user object; contacts and metadata are printed after. */
struct user_in {
    const char *id, *name, *avatar, *kind, *email;
    const cJSON *contacts, *metadata;
    int disabled;
};

#define USER_FIELD(n, k, mx, member)                                                               \
    {                                                                                              \
        .name = n, .kind = k, .max = mx, .at = KIT_AT(struct user_in, member)                      \
    }

/* contacts: an object of strings of at most 256 characters under names of at most 64 bytes;
 * "email" must be an address */
static const struct kit_field contact_rest = {
    .kind = KIT_STRING, .max = 256, .message = "must be a string of at most 256 characters"};
static const struct kit_field contact_fields[] = {
    {.name = "email",
     .kind = KIT_EMAIL,
     .at = KIT_AT(struct user_in, email),
     .message = "must be an e-mail address"},
    {.name = NULL},
};
static const struct kit_table contacts_table = {
    .fields = contact_fields, .open = true, .rest = &contact_rest, .key_max = 64};

/* the members every mode shares, then the id, then the fixed members */
#define USER_COMMON_FIELDS                                                                         \
    USER_FIELD("name", KIT_STRING, USER_NAME_MAX, name),                                           \
        USER_FIELD("avatar", KIT_MEDIA, USER_AVATAR_MAX, avatar),                                  \
        USER_FIELD("kind", KIT_STRING, USER_KIND_MAX, kind),                                       \
        {.name = "contacts",                                                                       \
         .kind = KIT_OBJECT,                                                                       \
         .at = KIT_AT(struct user_in, contacts),                                                   \
         .sub = &contacts_table,                                                                   \
         .message = "must be an object of strings"},                                               \
        {.name = "metadata",                                                                       \
         .kind = KIT_OBJECT,                                                                       \
         .max = USER_METADATA_MAX,                                                                 \
         .at = KIT_AT(struct user_in, metadata)},                                                  \
        {.name = "disabled", .kind = KIT_BOOL, .at = KIT_AT(struct user_in, disabled)},            \
        {.name = "app_id", .kind = KIT_JSON, .flags = KIT_REFUSED},                                \
        {.name = "role", .kind = KIT_JSON, .flags = KIT_REFUSED},                                  \
    {                                                                                              \
        .name = "password_hash", .kind = KIT_JSON, .flags = KIT_REFUSED                            \
    }

static const struct kit_field create_fields[] = {
    {.name = "id", .kind = KIT_ID, .flags = KIT_REQUIRED, .at = KIT_AT(struct user_in, id)},
    USER_COMMON_FIELDS,
    {.name = NULL},
};
static const struct kit_field patch_fields[] = {
    {.name = "id", .kind = KIT_JSON, .flags = KIT_REFUSED, .message = "cannot be changed"},
    USER_COMMON_FIELDS,
    {.name = NULL},
};
static const struct kit_table create_table = {.fields = create_fields};
static const struct kit_table patch_table = {.fields = patch_fields};

int identity__user_fields_parse(const cJSON *obj, enum user_mode mode, const char *path,
                                struct user_fields *f, struct kit_error *err)
{
    memset(f, 0, sizeof(*f));
    f->disabled = -1;
    struct user_in in;
    int rc = kit_decode(obj, mode == USER_CREATE ? &create_table : &patch_table, &in, path, err);
    if (rc != 0)
        return rc;
    if (mode == USER_CREATE && kit_id_is_reserved(in.id)) {
        snprintf(err->field, sizeof(err->field), "%s%sid", path ? path : "",
                 path && path[0] ? "." : "");
        err->message = "is reserved: /users/online and /users/batch are routes, not users";
        return ERR_INVAL;
    }
    f->id = in.id;
    f->name = in.name;
    f->avatar = in.avatar;
    f->kind = in.kind;
    f->disabled = in.disabled;
    if (in.contacts != NULL)
        f->contacts = cJSON_PrintUnformatted(in.contacts);
    if (in.metadata != NULL)
        f->metadata = cJSON_PrintUnformatted(in.metadata);
    /* no NULL check: cJSON allocates through xmalloc (xalloc_json_hooks) */
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
    cJSON *v = s ? json_exact_parse(s) : NULL; /* numbers as sent (core/json_exact.h) */
    if (v == NULL)
        v = cJSON_CreateObject();
    return v;
}

cJSON *identity__user_json(const struct store_rows *r, int i, struct http_req *req)
{
    cJSON *o = cJSON_CreateObject();
    const char *id = store_rows_text(r, i, 0);
    cJSON_AddStringToObject(o, "id", id ? id : "");
    for (int c = 1; c <= 3; c++) {
        const char *v = store_rows_text(r, i, c);
        char *abs = c == 2 && v != NULL ? media_url_out(req, v) : NULL; /* the avatar */
        cJSON_AddStringToObject(o, r->cols[c], abs ? abs : v ? v : "");
        free(abs);
    }
    cJSON_AddItemToObject(o, "contacts", stored_object(store_rows_text(r, i, 4)));
    cJSON_AddItemToObject(o, "metadata", stored_object(store_rows_text(r, i, 5)));
    cJSON_AddBoolToObject(o, "disabled", store_rows_int(r, i, 6) != 0);
    cJSON_AddNumberToObject(o, "created_at", (double)store_rows_int(r, i, 7));
    cJSON_AddNumberToObject(o, "updated_at", (double)store_rows_int(r, i, 8));
    return o;
}
