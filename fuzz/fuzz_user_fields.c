/*
 * libFuzzer target for the JSON-to-struct decoding of request bodies: each
 * input is parsed as JSON and decoded as a user object (POST /users and
 * /users/batch mode, then PATCH mode). Checked: nothing crashes or leaks; a
 * refused object names a field and a message; an accepted one has only
 * valid parts (id valid when given, lengths within the limits, contacts and
 * metadata compact JSON objects that parse again), and PATCH never accepts
 * an id or a privileged field.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "identity/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json_object(const char *text, size_t max)
{
    if (text == NULL)
        return;
    if (strlen(text) > max)
        abort();
    cJSON *v = cJSON_Parse(text);
    if (!cJSON_IsObject(v))
        abort();
    cJSON_Delete(v);
}

static void decode(const cJSON *obj, enum user_mode mode)
{
    struct user_fields f;
    struct kit_error err;
    memset(&f, 0, sizeof(f));
    int rc = identity__user_fields_parse(obj, mode, "users[7]", &f, &err);
    if (rc != 0) {
        if (err.message == NULL || err.message[0] == '\0' || strncmp(err.field, "users[7]", 8) != 0)
            abort();
    } else {
        if (mode == USER_PATCH && f.id != NULL)
            abort();
        if (f.id && !kit_id_is_valid(f.id))
            abort();
        if (f.disabled < -1 || f.disabled > 1)
            abort();
        check_json_object(f.contacts, USER_METADATA_MAX);
        check_json_object(f.metadata, USER_METADATA_MAX);
        if (mode == USER_PATCH && (cJSON_GetObjectItemCaseSensitive(obj, "app_id") ||
                                   cJSON_GetObjectItemCaseSensitive(obj, "role") ||
                                   cJSON_GetObjectItemCaseSensitive(obj, "password_hash")))
            abort();
    }
    identity__user_fields_release(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        log_setup(LOG_OFF, false);
        init = 1;
    }
    cJSON *obj = cJSON_ParseWithLength((const char *)data, size);
    if (obj == NULL)
        return 0;
    decode(obj, USER_CREATE);
    decode(obj, USER_PATCH);
    cJSON_Delete(obj);
    return 0;
}
