/*
 * libFuzzer target for the email driver's input handling (notify/email.c, email_mime.c):
 * the input is tried as a channel config and as the subject, the recipient and the sender
 * name of a message. Checked: nothing crashes or leaks; a config the driver's check accepts
 * opens; a header value never holds a CR or LF except folding ("\r\n "), nor a byte outside
 * printable ASCII; a recipient is accepted only without CR, LF, '<' or '>'; the built message
 * has exactly one line starting "Subject:" and one "To:".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "notify/drivers.h"
#include "notify/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void header_is_clean(const char *h)
{
    for (const char *p = h; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' && (p[1] != '\n' || p[2] != ' '))
            abort();
        if (c == '\n' && (p == h || p[-1] != '\r'))
            abort();
        if (c != '\r' && c != '\n' && (c < 0x20 || c >= 0x7f))
            abort();
    }
}

static int count_lines(const char *s, const char *prefix)
{
    int n = strncmp(s, prefix, strlen(prefix)) == 0;
    for (const char *p = s; (p = strstr(p, "\r\n")) != NULL; p += 2)
        n += strncmp(p + 2, prefix, strlen(prefix)) == 0;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    cJSON *config = cJSON_Parse(s);
    if (cJSON_IsObject(config)) {
        char field[128], msg[160];
        if (notify_driver_email.check(config, field, sizeof(field), msg, sizeof(msg)) == 0) {
            struct notify_driver_env env = {.allow_private = false};
            void *st = notify_driver_email.open(config, &env);
            if (st == NULL)
                abort();
            notify_driver_email.close(st);
        }
    }
    cJSON_Delete(config);

    struct buf b = BUF_INIT;
    notify__mail_header_text(&b, s);
    header_is_clean(b.data ? b.data : "");
    buf_clear(&b);

    bool to_ok = notify__mail_addr_ok(s);
    if (to_ok && strpbrk(s, "\r\n<>") != NULL)
        abort();
    int rc = notify__mail_build(&b, "<a@b.example>", to_ok ? s : "x@y.example", s, s, s,
                                "<m@herald>", 0);
    if (rc != 0 || count_lines(b.data, "Subject:") != 1 || count_lines(b.data, "To:") != 1)
        abort();
    buf_release(&b);
    free(s);
    return 0;
}
