/*
 * libFuzzer target for the streaming multipart/form-data parser (upload/multipart.c) and the
 * upload name sanitizer. The first byte picks the chunk size, the rest is a body with the
 * boundary "B0". The body is parsed once whole and once in chunks: the two runs must agree on
 * the result, the parts (headers) and the data, since a streaming parser may not depend on
 * how reads split its input. Every filename is also sanitized and the result checked: valid
 * length, no '/', '\\', CR, LF or NUL.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "upload/multipart.h"
#include "upload/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

struct run {
    struct buf log;
};

static int on_begin(const struct multipart_part *p, void *ud)
{
    struct run *r = ud;
    buf_printf(&r->log, "B[%s]", p->name);
    if (p->filename != NULL) {
        buf_append(&r->log, p->filename, p->filename_len);
        char out[UPLOAD_NAME_MAX + 1];
        upload_name_sanitize(p->filename, p->filename_len, out);
        size_t n = strlen(out);
        CHECK(n > 0 && n <= UPLOAD_NAME_MAX);
        CHECK(strpbrk(out, "/\\\r\n") == NULL);
    }
    if (p->content_type != NULL)
        buf_printf(&r->log, "T[%s]", p->content_type);
    return 0;
}

static int on_data(const uint8_t *d, size_t n, void *ud)
{
    struct run *r = ud;
    CHECK(n > 0);
    buf_append(&r->log, d, n);
    return 0;
}

static int on_end(void *ud)
{
    struct run *r = ud;
    buf_puts(&r->log, "E");
    return 0;
}

static const struct multipart_cb cb = {on_begin, on_data, on_end};

static int parse(const uint8_t *d, size_t n, size_t step, struct run *r)
{
    const struct multipart_limits lim = {.max_parts = 8, .max_header_bytes = 512};
    struct multipart *m = multipart_new("B0", &lim, &cb, r);
    CHECK(m != NULL);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += step)
        rc = multipart_feed(m, d + i, n - i < step ? n - i : step);
    if (rc == 0)
        rc = multipart_finish(m);
    CHECK(multipart_nparts(m) <= 9);
    multipart_free(m);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    struct run a, b;
    buf_init(&a.log);
    buf_init(&b.log);
    int ra = parse(data, size, size ? size : 1, &a);
    int rb = parse(data, size, step, &b);
    CHECK(ra == rb);
    if (ra == 0) {
        /* the logs agree up to the point an error stopped a run; on success, in full */
        CHECK(a.log.len == b.log.len);
        CHECK(a.log.len == 0 || memcmp(a.log.data, b.log.data, a.log.len) == 0);
    }
    buf_release(&a.log);
    buf_release(&b.log);
    char ct[160];
    size_t n = size < sizeof(ct) - 1 ? size : sizeof(ct) - 1;
    memcpy(ct, data, n);
    ct[n] = '\0';
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    if (multipart_boundary(ct, boundary) == 0)
        CHECK(strlen(boundary) >= 1 && strlen(boundary) <= MULTIPART_BOUNDARY_MAX);
    return 0;
}
