/*
 * A streaming multipart/form-data parser (RFC 7578 on RFC 2046), push style: the caller feeds
 * the body in pieces of any size as they arrive and the parser calls back with each part's
 * headers, its data and its end. It holds no body bytes itself (a delimiter split across two
 * pieces is matched in place: what was held back is always a prefix of the delimiter), so
 * its memory is one struct plus one part's header block, bounded by the limits. No I/O, no
 * allocation per byte; any thread (one parser per thread).
 */
#ifndef HERALD_UPLOAD_MULTIPART_H
#define HERALD_UPLOAD_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 */

enum multipart_err {
    MULTIPART_OK = 0,
    MULTIPART_SYNTAX = -1,    /* malformed framing or part headers */
    MULTIPART_PARTS = -2,     /* more parts than allowed */
    MULTIPART_HEADERS = -3,   /* a part's header block over the limit */
    MULTIPART_STOPPED = -4,   /* a callback returned non-zero */
    MULTIPART_TRUNCATED = -5, /* multipart_finish before the closing delimiter */
};

/* One part's headers, as on_part_begin sees them (borrowed for the call). */
struct multipart_part {
    const char *name;         /* the form field's name; "" when absent */
    const char *filename;     /* decoded (filename* in UTF-8 wins over filename); NULL: none */
    size_t filename_len;      /* bytes of filename (it may hold a NUL from %00) */
    const char *content_type; /* as sent, or NULL; never to be trusted */
};

/* Callbacks return 0 to go on, non-zero to stop the parse (MULTIPART_STOPPED). */
struct multipart_cb {
    int (*on_part_begin)(const struct multipart_part *part, void *ud);
    int (*on_part_data)(const uint8_t *data, size_t len, void *ud);
    int (*on_part_end)(void *ud);
};

struct multipart_limits {
    size_t max_parts;        /* parts in the body (>= 1) */
    size_t max_header_bytes; /* bytes of one part's header block (>= 64) */
};

struct multipart;

/*
 * Extracts the boundary parameter of a Content-Type "multipart/form-data; boundary=..."
 * into out (MULTIPART_BOUNDARY_MAX + 1 bytes). Returns 0, or -1 when the type is not
 * multipart/form-data or the boundary is absent or not 1-70 allowed characters.
 */
int multipart_boundary(const char *content_type, char *out);

/*
 * A parser for a body with this boundary (as multipart_boundary gives it), calling cb with
 * ud. Returns NULL when the boundary is not valid. Owned by the caller: multipart_free.
 */
struct multipart *multipart_new(const char *boundary, const struct multipart_limits *lim,
                                const struct multipart_cb *cb, void *ud);
void multipart_free(struct multipart *m); /* NULL-safe */

/*
 * Parses len more bytes. Returns 0, or a negative enum multipart_err; after an error every
 * later call returns the same error and calls nothing.
 */
int multipart_feed(struct multipart *m, const uint8_t *data, size_t len);

/* The body has ended: 0 when the closing delimiter was seen, else MULTIPART_TRUNCATED (or
 * the earlier error). */
int multipart_finish(struct multipart *m);

/* Why the parse failed, for an error message ("" while it has not). */
const char *multipart_why(const struct multipart *m);

/* Number of parts begun so far. */
size_t multipart_nparts(const struct multipart *m);

#endif
