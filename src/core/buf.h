/*
 * Growable byte buffer used to build responses, frames and log lines. Always
 * NUL-terminated after its length so it can be handed to C string functions.
 */
#ifndef HERALD_CORE_BUF_H
#define HERALD_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* owned; NULL while empty and never grown */
    size_t len;
    size_t cap;
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_init(struct buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_release(struct buf *b);
/* Keeps the storage, sets the length to zero. */
void buf_clear(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends the decimal form of v (no printf on hot paths). */
void buf_put_uint(struct buf *b, unsigned long long v);
/* Appends s as the contents of a JSON string (no quotes), escaping as RFC 8259 requires. */
void buf_json_escape(struct buf *b, const char *s, size_t n);
/* Appends s as a quoted JSON string. */
void buf_json_str(struct buf *b, const char *s);
/* Hands the storage to the caller (NUL-terminated, never NULL); the buffer is empty afterwards. */
char *buf_detach(struct buf *b, size_t *len);

#endif
