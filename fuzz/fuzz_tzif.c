/*
 * libFuzzer target for the time-zone readers of quiet hours (notify/tz): the input is parsed
 * as a TZif file and as a POSIX TZ string. Checked: nothing crashes, leaks or reads past the
 * input (ASan); a parse either fails with ERR_INVAL and no zone or gives a zone whose offset
 * at any instant of ±30,000 years around the epoch is within two days.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "notify/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void probe(const struct notify_tz *z)
{
    static const int64_t at[] = {
        -946728000000LL, -2208988800, -1,         0,          1,          583718400,
        1772953200,      2147483647,  2147483648, 2215062000, 4102444800, 32503680000LL,
        946728000000LL,
    };
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        int32_t off = notify_tz_utoff(z, at[i]);
        if (off < -2 * 86400 || off > 2 * 86400)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct notify_tz *z = (struct notify_tz *)1;
    int rc = notify_tz_parse_tzif(data, size, &z);
    if ((rc != 0 && rc != ERR_INVAL) || (rc == 0) != (z != NULL))
        abort();
    if (z != NULL)
        probe(z);
    notify_tz_free(z);
    z = (struct notify_tz *)1;
    rc = notify_tz_parse_posix((const char *)data, size, &z);
    if ((rc != 0 && rc != ERR_INVAL) || (rc == 0) != (z != NULL))
        abort();
    if (z != NULL)
        probe(z);
    notify_tz_free(z);
    return 0;
}
