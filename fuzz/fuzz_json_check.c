/*
 * libFuzzer target for the strict JSON check (core/json_check) that runs before cJSON on every
 * JSON text from outside. Checked: nothing crashes or leaks; every result is consistent (a
 * NUL-terminated, valid UTF-8 message and path; an offset inside the text); what the check
 * accepts, cJSON parses, and cJSON's compact print of it passes the check again (a round trip
 * keeps it strict JSON); an accepted text without \u0000 is valid UTF-8, and cJSON finds no
 * object with a key twice and no string or key that is not UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted text: no object repeats a key, every string and key is UTF-8 without NUL. */
static void walk(const cJSON *v)
{
    if (cJSON_IsString(v) && !json_utf8_is_valid(v->valuestring, strlen(v->valuestring)))
        abort();
    for (const cJSON *c = v->child; c != NULL; c = c->next) {
        if (cJSON_IsObject(v)) {
            if (!json_utf8_is_valid(c->string, strlen(c->string)))
                abort();
            for (const cJSON *d = v->child; d != c; d = d->next)
                if (strcmp(d->string, c->string) == 0)
                    abort();
        }
        walk(c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct json_check_result r;
    int rc = json_check(s, size, 0, &r);
    size_t plen = strnlen(r.path, sizeof(r.path));
    size_t mlen = strnlen(r.message, sizeof(r.message));
    if (plen == sizeof(r.path) || !json_utf8_is_valid(r.path, plen) || mlen == sizeof(r.message) ||
        !json_utf8_is_valid(r.message, mlen))
        abort(); /* both end up in a JSON response */
    if (rc == 0) {
        if (r.kind != JSON_CHECK_OK || !json_utf8_is_valid(s, size))
            abort();
    } else {
        if (r.message[0] == '\0' || r.offset > size)
            abort();
        if ((rc == ERR_INVAL) != (r.kind == JSON_CHECK_NUL) || (rc != ERR_INVAL && rc != ERR_JSON))
            abort();
    }
    if (rc == ERR_JSON)
        return 0;
    cJSON *v = cJSON_ParseWithLength(s, size);
    if (v == NULL)
        abort(); /* strict JSON that cJSON refuses */
    if (rc == 0) {
        walk(v);
        char *out = cJSON_PrintUnformatted(v);
        if (out == NULL || json_check(out, strlen(out), 0, &r) != 0)
            abort();
        cJSON_free(out);
    }
    cJSON_Delete(v);
    return 0;
}
