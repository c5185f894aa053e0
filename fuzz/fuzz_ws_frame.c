/*
 * libFuzzer target for the RFC 6455 frame parser and the UTF-8 validator
 * (ws_frame.c). The first byte picks require_mask, max_message and how the
 * input is cut; the second seeds the chunk sizes; the rest is the byte stream
 * from a peer. The stream is parsed once whole and once in chunks, and the two
 * runs must report the same events and the same result, since a streaming
 * parser may not depend on how reads split its input. Every reported message
 * and control frame is checked against the header's contract (lengths, NUL
 * termination, UTF-8 by an independent code-point decoder, close codes), the
 * validator is compared with that decoder on the raw bytes, and the masked
 * header writer round-trips through the parser.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/*
 * Reference UTF-8 check on code points: true when s is a valid prefix (every complete
 * sequence is a scalar value of its length's range, a trailing partial one can still be
 * completed to one); *complete when it ends on a boundary.
 */
static bool ref_utf8(const uint8_t *s, size_t n, bool *complete)
{
    static const uint32_t lo[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t hi[5] = {0, 0x7f, 0x7ff, 0xffff, 0x10ffff};
    size_t i = 0;

    *complete = true;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : c < 0xc0 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf8 ? 4 : 0;
        if (len == 0)
            return false;
        uint32_t cp = len == 1 ? c : (uint32_t)(c & (0x7f >> len));
        size_t k = 1;
        for (; k < len && i + k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        size_t missing = len - k;
        uint32_t min = cp << (6 * missing), max = min | ((1u << (6 * missing)) - 1);
        uint32_t a = min > lo[len] ? min : lo[len], b = max < hi[len] ? max : hi[len];
        if (a > b || (a >= 0xd800 && b <= 0xdfff))
            return false;
        if (missing) {
            *complete = false;
            return true;
        }
        if (cp >= 0xd800 && cp <= 0xdfff)
            return false;
        i += len;
    }
    return true;
}

static bool ref_utf8_whole(const void *s, size_t n)
{
    bool complete;
    return ref_utf8(s, n, &complete) && complete;
}

/* What one run saw: a hash over every event, in order. */
struct run {
    uint32_t max_message;
    uint64_t hash;
    size_t events;
    int stop_at; /* nonzero: the callback of this event asks to stop */
    bool closed_seen;
};

static void mix(struct run *r, uint64_t v, const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = r->hash ^ v;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    r->hash = (h ^ n) * 0x100000001b3ull;
}

static int done(struct run *r)
{
    CHECK(!r->closed_seen); /* nothing after a close frame */
    r->events++;
    return r->stop_at != 0 && r->events == (size_t)r->stop_at;
}

static int on_message(void *ud, int opcode, const char *data, size_t len)
{
    struct run *r = ud;
    CHECK(opcode == WS_OP_TEXT || opcode == WS_OP_BINARY);
    CHECK(data != NULL && len <= r->max_message && data[len] == '\0');
    if (opcode == WS_OP_TEXT) {
        uint32_t st = 0;
        CHECK(ws_utf8_feed(&st, (const uint8_t *)data, len) && ws_utf8_is_complete(st));
        CHECK(ref_utf8_whole(data, len));
    }
    mix(r, (uint64_t)opcode, data, len);
    return done(r);
}

static int on_control(struct run *r, int opcode, const char *data, size_t len)
{
    CHECK(data != NULL && len <= 125);
    mix(r, (uint64_t)opcode, data, len);
    return done(r);
}

static int on_ping(void *ud, const char *data, size_t len)
{
    return on_control(ud, WS_OP_PING, data, len);
}

static int on_pong(void *ud, const char *data, size_t len)
{
    return on_control(ud, WS_OP_PONG, data, len);
}

static int on_close(void *ud, int code, const char *reason, size_t len)
{
    struct run *r = ud;
    CHECK(code == WS_CLOSE_NO_STATUS || ws_close_code_is_valid(code));
    CHECK(code != WS_CLOSE_NO_STATUS || len == 0);
    CHECK(reason != NULL && len <= 123 && ref_utf8_whole(reason, len));
    mix(r, 0x10000u + (uint64_t)code, reason, len);
    done(r);
    r->closed_seen = true;
    return 0;
}

static const struct ws_parser_cb cbs = {on_message, on_ping, on_pong, on_close};

/* Chunk sizes from a small xorshift generator; limit 0 means one piece. */
struct cutter {
    uint32_t s;
    size_t limit;
};

static size_t next_chunk(struct cutter *c, size_t left)
{
    if (c->limit == 0)
        return left;
    c->s ^= c->s << 13;
    c->s ^= c->s >> 17;
    c->s ^= c->s << 5;
    size_t n = 1 + c->s % c->limit;
    return n < left ? n : left;
}

/* Parses the stream in chunks; returns the first nonzero result (or 0). */
static int parse(const uint8_t *d, size_t n, bool mask, struct cutter cut, struct run *r)
{
    struct ws_parser p;
    int rc = 0;
    size_t off = 0;

    ws_parser_init(&p, r->max_message, mask);
    CHECK(ws_parser_is_idle(&p));
    while (off < n) {
        size_t k = next_chunk(&cut, n - off);
        size_t before = r->events;
        rc = ws_parser_feed(&p, d + off, k, &cbs, r);
        off += k;
        if (rc != 0 || (r->stop_at && r->events == (size_t)r->stop_at && r->events > before))
            break;
        if (p.closed)
            break;
    }
    CHECK(rc == 0 || rc == WS_CLOSE_PROTOCOL || rc == WS_CLOSE_INVALID_DATA ||
          rc == WS_CLOSE_TOO_BIG);
    CHECK(p.msg_len <= p.max_message && (p.msg == NULL || p.msg_cap <= (size_t)p.max_message + 1));
    CHECK(p.ctl_len <= 125);
    if (p.closed) {
        /* refuses further input, with the same code; holds nothing */
        size_t before = r->events;
        CHECK(ws_parser_feed(&p, d, n, &cbs, r) == rc);
        CHECK(r->events == before);
        CHECK(ws_parser_is_idle(&p));
        CHECK(rc != 0 || r->closed_seen);
    }
    if (ws_parser_is_idle(&p))
        CHECK(p.msg == NULL && p.ctl == NULL);
    ws_parser_release(&p);
    return rc;
}

/* The validator, fed in chunks, against the reference on the same bytes. */
static void check_utf8(const uint8_t *d, size_t n, struct cutter cut)
{
    bool complete;
    bool want = ref_utf8(d, n, &complete);
    uint32_t st = 0;
    bool got = true;
    size_t off = 0;
    do {
        size_t k = next_chunk(&cut, n - off);
        got = ws_utf8_feed(&st, d + off, k);
        off += k;
    } while (got && off < n);
    CHECK(got == want);
    if (got)
        CHECK(ws_utf8_is_complete(st) == complete);
}

/* The stream as the payload of one masked binary frame written by ws_frame_header_masked. */
static void check_writer(const uint8_t *d, size_t n, const uint8_t key[4], bool fin)
{
    uint8_t *frame = malloc(n + 14);
    CHECK(frame != NULL);
    size_t hl = ws_frame_header_masked(frame, WS_OP_BINARY, fin, n, key);
    CHECK(hl == (n < 126 ? 6u : n < 65536 ? 8u : 14u));
    memcpy(frame + hl, d, n);
    ws_mask(frame + hl, n, key, 0);

    struct ws_parser p;
    struct run r = {.max_message = UINT32_MAX};
    ws_parser_init(&p, r.max_message, true);
    CHECK(ws_parser_feed(&p, frame, hl + n, &cbs, &r) == 0);
    CHECK(r.events == (fin ? 1u : 0u));
    CHECK(ws_parser_is_idle(&p) == fin);
    ws_parser_release(&p);

    struct run want = {0};
    mix(&want, WS_OP_BINARY, d, n);
    CHECK(!fin || r.hash == want.hash);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t limits[8] = {0, 1, 10, 125, 126, 1000, 65536, 1u << 20};
    static const size_t chunk_limits[8] = {1, 2, 3, 7, 16, 64, 1000, 0};

    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    bool mask = flags & 1;
    uint32_t max = limits[(flags >> 1) & 7];
    struct cutter cut = {.s = 0x9e3779b9u ^ data[1], .limit = chunk_limits[(flags >> 4) & 7]};
    bool stop = flags & 0x80;
    data += 2;
    size -= 2;

    struct run whole = {.max_message = max};
    int rc_whole = parse(data, size, mask, (struct cutter){0}, &whole);
    struct run parts = {.max_message = max};
    int rc_parts = parse(data, size, mask, cut, &parts);
    CHECK(rc_whole == rc_parts && whole.events == parts.events && whole.hash == parts.hash);

    if (stop && whole.events > 0) {
        /* a callback asking to stop: that event is the last one, and no error is reported */
        struct run r = {.max_message = max, .stop_at = 1 + (int)(data[0] % whole.events)};
        CHECK(parse(data, size, mask, cut, &r) == 0 && r.events == (size_t)r.stop_at);
    }

    check_utf8(data, size, cut);
    if (size <= 4096 && size >= 4)
        check_writer(data + 4, size - 4, data, flags & 0x40);
    return 0;
}
