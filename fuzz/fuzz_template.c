/*
 * libFuzzer target for the notification template engine (notify/template). The input is a
 * template source. Checked: nothing crashes, leaks or loops; compiling answers 0, ERR_INVAL
 * or ERR_TOOBIG, and an error carries a position inside the source (line and column at least
 * 1) and a non-empty UTF-8 message; tpl_check agrees with tpl_compile; a compiled template
 * renders against a fixed params object (every kind of value, values that look like template
 * syntax) in both escape modes with a small output bound, answering 0 or ERR_TOOBIG and
 * never writing past the bound; a source without "{{" renders as itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/json_check.h"
#include "notify/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUT 512

static const char PARAMS[] =
    "{\"name\":\"Ann & <Bob> \\\"q\\\" 'x'\",\"n\":42,\"f\":-1.5,\"t\":true,\"no\":false,"
    "\"nil\":null,\"e\":\"\",\"z\":0,\"inj\":\"{{name}}{{#t}}x{{/t}}{{{name}}}\","
    "\"user\":{\"name\":\"王\",\"tags\":[\"a\",\"b\"],\"addr\":{\"city\":\"Zürich\"}},"
    "\"items\":[{\"name\":\"i1\",\"qty\":1},{\"qty\":2},3,\"s\",null,[1,[2]]],"
    "\"a\":{\"a\":{\"a\":[1,2,3]}},\"list\":[1,2,3,4,5,6,7,8,9,10],\"empty\":[]}";

static cJSON *params;

static void render_one(const struct tpl *t, const cJSON *p, enum tpl_escape esc,
                       const uint8_t *data, size_t size)
{
    struct buf out = BUF_INIT;
    buf_puts(&out, "pre");
    int rc = tpl_render(t, p, esc, MAX_OUT, &out);
    if ((rc != 0 && rc != ERR_TOOBIG) || out.len > 3 + MAX_OUT || memcmp(out.data, "pre", 3))
        abort();
    if (memmem(data, size, "{{", 2) == NULL &&
        (size <= MAX_OUT ? rc != 0 || out.len != 3 + size || memcmp(out.data + 3, data, size)
                         : rc != ERR_TOOBIG))
        abort(); /* plain text is copied as is */
    buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (params == NULL)
        params = cJSON_Parse(PARAMS);
    if (params == NULL)
        abort();
    const char *src = (const char *)data;
    struct tpl *t = NULL;
    struct tpl_error e, e2;
    int rc = tpl_compile(src, size, &t, &e);
    int rc2 = tpl_check(src, size, &e2);
    if (rc != rc2 || (rc == 0) != (t != NULL))
        abort();
    if (rc != 0) {
        size_t mlen = strnlen(e.message, sizeof(e.message));
        if ((rc != ERR_INVAL && rc != ERR_TOOBIG) || (rc == ERR_TOOBIG && size <= TPL_MAX_SOURCE))
            abort();
        if (mlen == 0 || mlen == sizeof(e.message) || !json_utf8_is_valid(e.message, mlen) ||
            e.line < 1 || e.col < 1 || e.offset > size || e.offset != e2.offset ||
            e.line != e2.line || e.col != e2.col || strcmp(e.message, e2.message) != 0)
            abort();
        return 0;
    }
    render_one(t, params, TPL_ESCAPE_NONE, data, size);
    render_one(t, params, TPL_ESCAPE_HTML, data, size);
    render_one(t, NULL, TPL_ESCAPE_NONE, data, size);
    tpl_free(t);
    return 0;
}
