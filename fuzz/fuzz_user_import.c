/*
 * libFuzzer target for the `herald user import` reader: each input is read as JSON lines
 * and as CSV (RFC 4180 quoting, header row, contacts/metadata/password_hash columns) by the
 * import's validating pass, through fmemopen. Checked: nothing crashes or leaks; the result
 * is 0, ERR_INVAL or ERR_IO; a success means no record was refused, and no more records
 * are counted valid than the input has lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "identity/user_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, bool csv, FILE *sink)
{
    FILE *in = fmemopen((void *)data, size, "r");
    if (in == NULL)
        return;
    int64_t count = -1, errors = -1;
    int rc = identity_users_import_check(in, csv, sink, &count, &errors);
    fclose(in);
    if (rc != 0 && rc != ERR_INVAL && rc != ERR_IO)
        abort();
    if (count < 0 || errors < 0 || (rc == 0 && errors != 0))
        abort();
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if ((size_t)count > lines)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (sink == NULL) {
        log_setup(LOG_OFF, false);
        sink = fopen("/dev/null", "w");
    }
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    check(data, size, false, sink);
    check(data, size, true, sink);
    return 0;
}
