/*
 * RFC 6455 frame parser and writer (ws_frame.c): every error case the header
 * lists with its close code, the three length forms, masking, fragmentation
 * with control frames in between, close frames, the UTF-8 validator against an
 * independent code-point reference, the message size limit at and past the
 * boundary, and the streaming property that any split of the input gives the
 * same events as feeding it whole.
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "net/ws_frame.h"

/* ---------------------------------------------------------------- helpers */

struct bytes {
    uint8_t *d;
    size_t len, cap;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 16;
        b->d = xrealloc(b->d, b->cap);
    }
    if (n)
        memcpy(b->d + b->len, p, n);
    b->len += n;
}

static void bytes_free(struct bytes *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

/* Appends a frame whose first byte is b0 verbatim (FIN, RSV, opcode); masked with a key that
 * changes from frame to frame. */
static void put_frame_b0(struct bytes *b, uint8_t b0, const void *payload, size_t n, bool masked)
{
    uint8_t hdr[14];
    uint8_t key[4] = {(uint8_t)(0x37 + b->len), 0xfa, (uint8_t)(0x21 ^ b->len), 0x3d};
    size_t hl = masked ? ws_frame_header_masked(hdr, b0 & 0x0f, b0 >> 7, n, key)
                       : ws_frame_header(hdr, b0 & 0x0f, b0 >> 7, n);
    hdr[0] = b0;
    put(b, hdr, hl);
    size_t at = b->len;
    put(b, payload, n);
    if (masked)
        ws_mask(b->d + at, n, key, 0);
}

static void put_frame(struct bytes *b, int op, bool fin, const void *payload, size_t n)
{
    put_frame_b0(b, (uint8_t)((fin ? 0x80 : 0) | op), payload, n, true);
}

static void put_text(struct bytes *b, int op, bool fin, const char *s)
{
    put_frame(b, op, fin, s, strlen(s));
}

static void put_close(struct bytes *b, int code, const char *reason)
{
    uint8_t p[125];
    size_t rl = strlen(reason);
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, reason, rl);
    put_frame(b, WS_OP_CLOSE, true, p, 2 + rl);
}

static uint64_t fnv(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

/* Events as text: short printable payloads verbatim, others as #length:hash. */
struct rec {
    char log[4096];
    size_t used;
    int events;
    int stop_at; /* return nonzero from the callback of this event (1-based); 0 never */
    bool bad_nul;
};

static void rec_add(struct rec *r, const char *what, const char *data, size_t len)
{
    bool printable = len <= 40;
    for (size_t i = 0; i < len && printable; i++)
        printable = data[i] >= 0x20 && data[i] < 0x7f;
    size_t room = sizeof(r->log) - r->used;
    int n = printable ? snprintf(r->log + r->used, room, "%s(%.*s) ", what, (int)len, data)
                      : snprintf(r->log + r->used, room, "%s(#%zu:%016llx) ", what, len,
                                 (unsigned long long)fnv(data, len));
    if (n > 0 && (size_t)n < room)
        r->used += (size_t)n;
}

static int rec_done(struct rec *r)
{
    return ++r->events == r->stop_at;
}

static int on_message(void *ud, int opcode, const char *data, size_t len)
{
    struct rec *r = ud;
    if (data == NULL || data[len] != '\0')
        r->bad_nul = true;
    rec_add(r, opcode == WS_OP_TEXT ? "T" : opcode == WS_OP_BINARY ? "B" : "?", data, len);
    return rec_done(r);
}

static int on_ping(void *ud, const char *data, size_t len)
{
    struct rec *r = ud;
    if (data == NULL || len > 125)
        r->bad_nul = true;
    rec_add(r, "ping", data, len);
    return rec_done(r);
}

static int on_pong(void *ud, const char *data, size_t len)
{
    struct rec *r = ud;
    if (data == NULL || len > 125)
        r->bad_nul = true;
    rec_add(r, "pong", data, len);
    return rec_done(r);
}

static int on_close(void *ud, int code, const char *reason, size_t len)
{
    struct rec *r = ud;
    char what[32];
    snprintf(what, sizeof(what), "close%d", code);
    if (reason == NULL)
        r->bad_nul = true;
    rec_add(r, what, reason, len);
    return rec_done(r);
}

static const struct ws_parser_cb cbs = {on_message, on_ping, on_pong, on_close};

/*
 * Feeds d in pieces ending at the offsets in cuts (then the rest), stopping at the first
 * nonzero return; returns it. Checks that a finished parser holds nothing.
 */
static int feed_cuts(const uint8_t *d, size_t n, const size_t *cuts, size_t ncuts, uint32_t max,
                     bool mask, struct rec *r)
{
    struct ws_parser p;
    size_t at = 0;
    int rc = 0;

    ws_parser_init(&p, max, mask);
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        if (end < at || end > n)
            continue;
        rc = ws_parser_feed(&p, d + at, end - at, &cbs, r);
        at = end;
    }
    if (p.closed && !ws_parser_is_idle(&p))
        r->bad_nul = true;
    ws_parser_release(&p);
    CHECK(!r->bad_nul);
    return rc;
}

static int feed_all(const struct bytes *b, uint32_t max, struct rec *r)
{
    return feed_cuts(b->d, b->len, NULL, 0, max, true, r);
}

static int feed_raw(const char *s, size_t n, uint32_t max, bool mask, struct rec *r)
{
    return feed_cuts((const uint8_t *)s, n, NULL, 0, max, mask, r);
}

/*
 * The streaming property: one piece, every two-piece split, one byte at a time and a few
 * irregular chunkings all give the same events and result.
 */
static void check_splits(const struct bytes *b, uint32_t max, const char *want_log, int want_rc)
{
    struct rec whole = {0};
    int rc = feed_all(b, max, &whole);
    CHECK_INT(rc, want_rc);
    if (want_log)
        CHECK_STR(whole.log, want_log);

    for (size_t k = 0; k <= b->len; k++) {
        struct rec r = {0};
        CHECK_INT(feed_cuts(b->d, b->len, &k, 1, max, true, &r), want_rc);
        if (strcmp(r.log, whole.log) != 0) {
            CHECK_STR(r.log, whole.log);
            break;
        }
    }

    size_t *cuts = xmalloc((b->len + 1) * sizeof(*cuts));
    for (size_t k = 0; k < b->len; k++)
        cuts[k] = k + 1;
    struct rec r1 = {0};
    CHECK_INT(feed_cuts(b->d, b->len, cuts, b->len, max, true, &r1), want_rc);
    CHECK_STR(r1.log, whole.log);

    for (size_t step = 2; step < 24; step += 3) {
        size_t nc = 0;
        for (size_t at = step; at < b->len; at += step + (at % 7))
            cuts[nc++] = at;
        struct rec r = {0};
        CHECK_INT(feed_cuts(b->d, b->len, cuts, nc, max, true, &r), want_rc);
        CHECK_STR(r.log, whole.log);
    }
    free(cuts);
}

/* ---------------------------------------------------------------- writer */

TEST(header_lengths)
{
    uint8_t h[14];
    CHECK_INT(ws_frame_header(h, WS_OP_TEXT, true, 0), 2);
    CHECK(h[0] == 0x81 && h[1] == 0x00);
    CHECK_INT(ws_frame_header(h, WS_OP_BINARY, true, 125), 2);
    CHECK(h[0] == 0x82 && h[1] == 125);
    CHECK_INT(ws_frame_header(h, WS_OP_TEXT, false, 126), 4);
    CHECK(h[0] == 0x01 && h[1] == 126 && h[2] == 0x00 && h[3] == 126);
    CHECK_INT(ws_frame_header(h, WS_OP_CONT, true, 65535), 4);
    CHECK(h[0] == 0x80 && h[1] == 126 && h[2] == 0xff && h[3] == 0xff);
    CHECK_INT(ws_frame_header(h, WS_OP_BINARY, true, 65536), 10);
    static const uint8_t l64[10] = {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0};
    CHECK(memcmp(h, l64, 10) == 0);
    CHECK_INT(ws_frame_header(h, WS_OP_BINARY, true, 0x0102030405060708ull), 10);
    static const uint8_t big[10] = {0x82, 127, 1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(memcmp(h, big, 10) == 0);
    CHECK_INT(ws_frame_header(h, WS_OP_PING, true, 5), 2);
    CHECK(h[0] == 0x89 && h[1] == 5);
    CHECK_INT(ws_frame_header(h, WS_OP_CLOSE, true, 2), 2);
    CHECK(h[0] == 0x88 && h[1] == 2);
}

TEST(header_masked_lengths)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t h[14];
    CHECK_INT(ws_frame_header_masked(h, WS_OP_TEXT, true, 5, key), 6);
    static const uint8_t h7[6] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d};
    CHECK(memcmp(h, h7, 6) == 0);
    CHECK_INT(ws_frame_header_masked(h, WS_OP_TEXT, true, 126, key), 8);
    static const uint8_t h16[8] = {0x81, 0xfe, 0x00, 0x7e, 0x37, 0xfa, 0x21, 0x3d};
    CHECK(memcmp(h, h16, 8) == 0);
    CHECK_INT(ws_frame_header_masked(h, WS_OP_BINARY, false, 65536, key), 14);
    static const uint8_t h64[14] = {0x02, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d};
    CHECK(memcmp(h, h64, 14) == 0);
}

/* RFC 6455 §5.7 examples. */
TEST(rfc_examples)
{
    struct rec r = {0};
    CHECK_INT(feed_raw("\x81\x05Hello", 7, 100, false, &r), 0);
    CHECK_STR(r.log, "T(Hello) ");

    struct rec m = {0};
    CHECK_INT(feed_raw("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, 100, true, &m), 0);
    CHECK_STR(m.log, "T(Hello) ");

    struct rec f = {0};
    CHECK_INT(feed_raw("\x01\x03Hel\x80\x02lo", 9, 100, false, &f), 0);
    CHECK_STR(f.log, "T(Hello) ");

    struct rec pp = {0};
    CHECK_INT(
        feed_raw("\x89\x05Hello\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 18, 100, false, &pp),
        0);
    CHECK_STR(pp.log, "ping(Hello) pong(Hello) ");
}

TEST(mask_offsets)
{
    static const uint8_t key[4] = {0x11, 0x22, 0x44, 0x88};
    uint8_t a[40], b[40];
    for (size_t len = 0; len <= sizeof(a); len++) {
        for (size_t pos = 0; pos < 8; pos++) {
            for (size_t i = 0; i < len; i++)
                a[i] = b[i] = (uint8_t)(i * 7 + 3);
            ws_mask(a, len, key, pos);
            bool ok = true;
            for (size_t i = 0; i < len; i++)
                ok = ok && a[i] == (uint8_t)(b[i] ^ key[(pos + i) & 3]);
            CHECK(ok);
            /* masking in two pieces with the running offset is the same */
            size_t cut = len / 3;
            ws_mask(b, cut, key, pos);
            ws_mask(b + cut, len - cut, key, pos + cut);
            CHECK(memcmp(a, b, len) == 0);
        }
    }
}

TEST(masked_writer_roundtrip)
{
    static const size_t lens[] = {0, 1, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536, 70001};
    static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
        size_t n = lens[t];
        uint8_t *frame = xmalloc(n + 14);
        uint8_t *plain = xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
            plain[i] = (uint8_t)('a' + i % 26);
        size_t hl = ws_frame_header_masked(frame, WS_OP_TEXT, true, n, key);
        CHECK_INT(hl, n < 126 ? 6 : n < 65536 ? 8 : 14);
        memcpy(frame + hl, plain, n);
        ws_mask(frame + hl, n, key, 0);

        struct rec r = {0}, want = {0};
        CHECK_INT(feed_cuts(frame, hl + n, NULL, 0, 1 << 20, true, &r), 0);
        rec_add(&want, "T", (const char *)plain, n);
        CHECK_STR(r.log, want.log);
        free(frame);
        free(plain);
    }
}

/* ---------------------------------------------------------------- valid input */

TEST(length_forms)
{
    static const size_t lens[] = {125, 126, 65535, 65536};
    for (size_t t = 0; t < 4; t++) {
        size_t n = lens[t];
        char *s = xmalloc(n);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(0x20 + (i * 31) % 95);
        struct bytes b = {0};
        put_frame(&b, WS_OP_TEXT, true, s, n);
        put_frame(&b, WS_OP_BINARY, true, s, n);
        CHECK_INT(b.len, 2 * (n + (n < 126 ? 6 : n < 65536 ? 8 : 14)));
        struct rec r = {0}, want = {0};
        CHECK_INT(feed_all(&b, 65536, &r), 0);
        rec_add(&want, "T", s, n);
        rec_add(&want, "B", s, n);
        CHECK_STR(r.log, want.log);

        /* unmasked frames with require_mask off */
        struct bytes u = {0};
        put_frame_b0(&u, 0x82, s, n, false);
        struct rec ru = {0}, wu = {0};
        CHECK_INT(feed_cuts(u.d, u.len, NULL, 0, 65536, false, &ru), 0);
        rec_add(&wu, "B", s, n);
        CHECK_STR(ru.log, wu.log);
        bytes_free(&u);
        bytes_free(&b);
        free(s);
    }
}

TEST(fragmented_with_ping)
{
    struct bytes b = {0};
    put_text(&b, WS_OP_TEXT, false, "Hel");
    put_text(&b, WS_OP_PING, true, "p1");
    put_text(&b, WS_OP_CONT, false, "lo ");
    put_text(&b, WS_OP_PONG, true, "");
    put_text(&b, WS_OP_PING, true, "");
    put_text(&b, WS_OP_CONT, true, "world");
    put_text(&b, WS_OP_TEXT, true, "next");
    check_splits(&b, 100, "ping(p1) pong() ping() T(Hello world) T(next) ", 0);
    bytes_free(&b);
}

TEST(empty_messages_and_fragments)
{
    struct bytes b = {0};
    put_text(&b, WS_OP_TEXT, true, "");
    put_text(&b, WS_OP_BINARY, true, "");
    put_text(&b, WS_OP_TEXT, false, "");
    put_text(&b, WS_OP_CONT, false, "");
    put_text(&b, WS_OP_CONT, true, "x");
    put_text(&b, WS_OP_BINARY, false, "");
    put_text(&b, WS_OP_CONT, false, "");
    put_text(&b, WS_OP_CONT, true, "");
    put_text(&b, WS_OP_TEXT, false, "a");
    put_text(&b, WS_OP_CONT, false, "");
    put_text(&b, WS_OP_CONT, true, "");
    check_splits(&b, 100, "T() B() T(x) B() T(a) ", 0);
    bytes_free(&b);
}

/* A mixed session fed at every split point and one byte at a time. */
TEST(session_every_split)
{
    struct bytes b = {0};
    char mid[300];
    for (size_t i = 0; i < sizeof(mid); i++)
        mid[i] = (char)('A' + i % 26);
    put_text(&b, WS_OP_TEXT, true, "hello");
    put_frame(&b, WS_OP_BINARY, true, "\x00\x01\x02\xff", 4);
    put_text(&b, WS_OP_TEXT, false, "caf\xc3");
    put_text(&b, WS_OP_PING, true, "between");
    put_text(&b, WS_OP_CONT, false, "\xa9 \xe2\x82");
    put_text(&b, WS_OP_CONT, true, "\xac \xf0\x9f\x98\x80");
    put_frame(&b, WS_OP_TEXT, true, mid, sizeof(mid));
    put_text(&b, WS_OP_TEXT, true, "");
    put_text(&b, WS_OP_PONG, true, "pong");
    put_text(&b, WS_OP_TEXT, true, "");
    put_close(&b, 1000, "bye");
    put_text(&b, WS_OP_TEXT, true, "after close: ignored");
    struct rec whole = {0};
    CHECK_INT(feed_all(&b, 1000, &whole), 0);
    CHECK(strstr(whole.log, "T(hello) B(#4:") == whole.log);
    CHECK(strstr(whole.log, " ping(between) T(#14:") != NULL);
    CHECK(strstr(whole.log, " T() pong(pong) T() close1000(bye) ") != NULL);
    CHECK(strstr(whole.log, "after") == NULL);
    CHECK_INT(whole.events, 9);
    check_splits(&b, 1000, whole.log, 0);
    bytes_free(&b);
}

TEST(close_frames)
{
    struct rec r0 = {0};
    CHECK_INT(feed_raw("\x88\x00", 2, 10, false, &r0), 0);
    CHECK_STR(r0.log, "close1005() ");

    struct bytes b = {0};
    put_close(&b, 1000, "");
    struct rec r1 = {0};
    CHECK_INT(feed_all(&b, 10, &r1), 0);
    CHECK_STR(r1.log, "close1000() ");
    bytes_free(&b);

    static const int ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                             1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        put_close(&b, ok[i], "going \xe2\x82\xac");
        struct rec r = {0};
        char want[64];
        snprintf(want, sizeof(want), "close%d(#9:%016llx) ", ok[i],
                 (unsigned long long)fnv("going \xe2\x82\xac", 9));
        CHECK_INT(feed_all(&b, 10, &r), 0);
        CHECK_STR(r.log, want);
        bytes_free(&b);
    }

    /* the longest reason: 123 bytes */
    char reason[124];
    memset(reason, 'r', 123);
    reason[123] = '\0';
    put_close(&b, 4000, reason);
    struct rec rl = {0};
    CHECK_INT(feed_all(&b, 10, &rl), 0);
    CHECK_INT(rl.events, 1);
    bytes_free(&b);
}

TEST(close_stops_parsing)
{
    struct ws_parser p;
    struct rec r = {0};
    struct bytes b = {0};
    put_close(&b, 1001, "away");
    put_text(&b, WS_OP_TEXT, true, "ignored");
    ws_parser_init(&p, 100, true);
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 0);
    CHECK(p.closed);
    CHECK(ws_parser_is_idle(&p));
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 0);
    CHECK_STR(r.log, "close1001(away) ");
    ws_parser_release(&p);
    bytes_free(&b);
}

TEST(close_code_validity)
{
    for (int c = -1; c < 70000; c++) {
        bool want =
            (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
        if (ws_close_code_is_valid(c) != want) {
            CHECK_INT(c, -2);
            break;
        }
    }
    CHECK(!ws_close_code_is_valid(1004));
    CHECK(!ws_close_code_is_valid(1005));
    CHECK(!ws_close_code_is_valid(1006));
    CHECK(!ws_close_code_is_valid(1015));
    CHECK(ws_close_code_is_valid(1014));
}

/* ---------------------------------------------------------------- protocol errors */

static int one_frame(uint8_t b0, const char *payload, size_t n, bool masked, bool require)
{
    struct bytes b = {0};
    struct rec r = {0};
    put_frame_b0(&b, b0, payload, n, masked);
    int rc = feed_cuts(b.d, b.len, NULL, 0, 1000, require, &r);
    CHECK(rc == 0 || r.events == 0);
    bytes_free(&b);
    return rc;
}

TEST(error_unmasked)
{
    CHECK_INT(one_frame(0x81, "hi", 2, false, true), 1002);
    CHECK_INT(one_frame(0x89, "", 0, false, true), 1002);
    CHECK_INT(one_frame(0x88, "", 0, false, true), 1002);
    CHECK_INT(one_frame(0x81, "hi", 2, false, false), 0);
    CHECK_INT(one_frame(0x81, "hi", 2, true, true), 0);
    /* detected from the first two bytes */
    struct ws_parser p;
    struct rec r = {0};
    ws_parser_init(&p, 100, true);
    CHECK_INT(ws_parser_feed(&p, (const uint8_t *)"\x81\x05", 2, &cbs, &r), 1002);
    ws_parser_release(&p);
}

TEST(error_rsv_bits)
{
    static const uint8_t rsv[3] = {0x40, 0x20, 0x10};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(one_frame((uint8_t)(0x81 | rsv[i]), "hi", 2, true, true), 1002);
        CHECK_INT(one_frame((uint8_t)(0x82 | rsv[i]), "", 0, true, true), 1002);
        CHECK_INT(one_frame((uint8_t)(0x89 | rsv[i]), "", 0, true, true), 1002);
        CHECK_INT(one_frame((uint8_t)(0x80 | rsv[i]), "", 0, true, true), 1002);
    }
    /* on a continuation, with a message in progress */
    struct bytes b = {0};
    struct rec r = {0};
    put_text(&b, WS_OP_TEXT, false, "a");
    put_frame_b0(&b, 0xc0, "b", 1, true);
    CHECK_INT(feed_all(&b, 100, &r), 1002);
    CHECK_INT(r.events, 0);
    bytes_free(&b);
}

TEST(error_reserved_opcodes)
{
    for (int op = 0; op < 16; op++) {
        bool valid = op <= 2 || (op >= 8 && op <= 10);
        int want = valid ? 0 : 1002;
        if (op == WS_OP_CONT)
            want = 1002; /* no message in progress */
        CHECK_INT(one_frame((uint8_t)(0x80 | op), "", 0, true, true), want);
        if (!valid)
            CHECK_INT(one_frame((uint8_t)op, "x", 1, true, true), 1002);
    }
}

TEST(error_control_frames)
{
    /* FIN=0 */
    CHECK_INT(one_frame(0x09, "", 0, true, true), 1002);
    CHECK_INT(one_frame(0x0a, "x", 1, true, true), 1002);
    CHECK_INT(one_frame(0x08, "\x03\xe8", 2, true, true), 1002);
    /* 126 bytes is one too many */
    char big[126];
    memset(big, 'p', sizeof(big));
    CHECK_INT(one_frame(0x89, big, 125, true, true), 0);
    CHECK_INT(one_frame(0x8a, big, 125, true, true), 0);
    CHECK_INT(one_frame(0x89, big, 126, true, true), 1002);
    CHECK_INT(one_frame(0x8a, big, 126, true, true), 1002);
    CHECK_INT(one_frame(0x88, big, 126, true, true), 1002);
    /* a 64-bit length on a ping, even a small one */
    struct rec r = {0};
    CHECK_INT(feed_raw("\x89\x7f\0\0\0\0\0\0\0\x01x", 11, 100, false, &r), 1002);
    /* a control frame inside a fragmented message must still be whole */
    struct bytes b = {0};
    struct rec rf = {0};
    put_text(&b, WS_OP_TEXT, false, "a");
    put_frame_b0(&b, 0x09, "", 0, true);
    CHECK_INT(feed_all(&b, 100, &rf), 1002);
    bytes_free(&b);
}

TEST(error_close_payload)
{
    struct rec r = {0};
    CHECK_INT(feed_raw("\x88\x01\x03", 3, 100, false, &r), 1002);
    CHECK_INT(feed_raw("\x88\x01", 2, 100, false, &r), 1002); /* from the header alone */
    static const int bad[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                              1016, 1100, 2000, 2999, 5000, 6000, 65535};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bytes b = {0};
        put_close(&b, bad[i], "");
        CHECK_INT(feed_all(&b, 100, &r), 1002);
        bytes_free(&b);
        put_close(&b, bad[i], "why");
        CHECK_INT(feed_all(&b, 100, &r), 1002);
        bytes_free(&b);
    }
    struct bytes b = {0};
    put_close(&b, 1000, "bad \xc0\xaf");
    CHECK_INT(feed_all(&b, 100, &r), 1007);
    bytes_free(&b);
    put_close(&b, 1000, "cut \xe2\x82");
    CHECK_INT(feed_all(&b, 100, &r), 1007);
    bytes_free(&b);
    put_close(&b, 1000, "\xed\xa0\x80");
    CHECK_INT(feed_all(&b, 100, &r), 1007);
    bytes_free(&b);
    CHECK_INT(r.events, 0);
}

TEST(error_continuation)
{
    struct rec r = {0};
    CHECK_INT(one_frame(0x80, "x", 1, true, true), 1002);
    CHECK_INT(one_frame(0x00, "x", 1, true, true), 1002);

    struct bytes b = {0};
    put_text(&b, WS_OP_TEXT, true, "done");
    put_text(&b, WS_OP_CONT, true, "more");
    CHECK_INT(feed_all(&b, 100, &r), 1002);
    CHECK_STR(r.log, "T(done) ");
    bytes_free(&b);

    static const int ops[2] = {WS_OP_TEXT, WS_OP_BINARY};
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            struct rec q = {0};
            put_text(&b, ops[i], false, "part");
            put_text(&b, WS_OP_PING, true, "");
            put_text(&b, ops[j], true, "new");
            CHECK_INT(feed_all(&b, 100, &q), 1002);
            CHECK_STR(q.log, "ping() ");
            bytes_free(&b);
        }
    }
}

TEST(error_length_msb)
{
    struct ws_parser p;
    struct rec r = {0};
    ws_parser_init(&p, UINT32_MAX, true);
    /* header without the mask key yet: refused already */
    CHECK_INT(ws_parser_feed(&p, (const uint8_t *)"\x82\xff\x80\0\0\0\0\0\0\0", 10, &cbs, &r),
              1002);
    ws_parser_release(&p);
    CHECK_INT(
        feed_raw("\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff\1\2\3\4", 14, UINT32_MAX, true, &r),
        1002);
    /* top bit clear but far too big: 1009 */
    CHECK_INT(
        feed_raw("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\1\2\3\4", 14, UINT32_MAX, true, &r),
        1009);
    CHECK_INT(r.events, 0);
}

TEST(errors_are_sticky)
{
    struct ws_parser p;
    struct rec r = {0};
    struct bytes b = {0};
    put_text(&b, WS_OP_TEXT, false, "abc");
    ws_parser_init(&p, 100, true);
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 0);
    CHECK(!ws_parser_is_idle(&p));
    CHECK_INT(ws_parser_feed(&p, (const uint8_t *)"\xc1\x80", 2, &cbs, &r), 1002);
    CHECK(p.closed);
    CHECK(ws_parser_is_idle(&p)); /* the partial message was freed */
    bytes_free(&b);
    put_text(&b, WS_OP_TEXT, true, "fine");
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 1002);
    CHECK_INT(ws_parser_feed(&p, NULL, 0, &cbs, &r), 1002);
    CHECK_INT(r.events, 0);
    ws_parser_release(&p);
    /* init makes it usable again */
    ws_parser_init(&p, 100, true);
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 0);
    CHECK_STR(r.log, "T(fine) ");
    ws_parser_release(&p);
    bytes_free(&b);
}

/* ---------------------------------------------------------------- size limit */

TEST(max_message)
{
    char s[40];
    memset(s, 'm', sizeof(s));
    struct bytes b = {0};
    struct rec r = {0};

    put_frame(&b, WS_OP_TEXT, true, s, 10);
    CHECK_INT(feed_all(&b, 10, &r), 0);
    CHECK_INT(r.events, 1);
    bytes_free(&b);
    put_frame(&b, WS_OP_BINARY, true, s, 11);
    CHECK_INT(feed_all(&b, 10, &r), 1009);
    bytes_free(&b);

    /* fragments add up */
    put_frame(&b, WS_OP_TEXT, false, s, 4);
    put_frame(&b, WS_OP_PING, true, s, 20); /* control frames do not count */
    put_frame(&b, WS_OP_CONT, false, s, 0);
    put_frame(&b, WS_OP_CONT, true, s, 6);
    check_splits(&b, 10, "ping(mmmmmmmmmmmmmmmmmmmm) T(mmmmmmmmmm) ", 0);
    bytes_free(&b);
    put_frame(&b, WS_OP_TEXT, false, s, 4);
    put_frame(&b, WS_OP_CONT, true, s, 7);
    check_splits(&b, 10, "", 1009);
    bytes_free(&b);

    /* detected from the header, before any payload byte */
    struct ws_parser p;
    uint8_t h[14];
    static const uint8_t key[4] = {1, 2, 3, 4};
    ws_parser_init(&p, 65535, true);
    CHECK_INT(
        ws_parser_feed(&p, h, ws_frame_header_masked(h, WS_OP_TEXT, true, 65536, key), &cbs, &r),
        1009);
    ws_parser_release(&p);
    ws_parser_init(&p, 65535, true);
    CHECK_INT(
        ws_parser_feed(&p, h, ws_frame_header_masked(h, WS_OP_TEXT, true, 65535, key), &cbs, &r),
        0);
    CHECK(p.msg == NULL); /* nothing allocated before payload arrives */
    ws_parser_release(&p);

    /* max_message 0: only empty messages */
    bytes_free(&b);
    put_frame(&b, WS_OP_TEXT, true, s, 0);
    CHECK_INT(feed_all(&b, 0, &r), 0);
    put_frame(&b, WS_OP_TEXT, true, s, 1);
    CHECK_INT(feed_all(&b, 0, &r), 1009);
    bytes_free(&b);
}

/* The buffer grows with what arrives and never past max_message + 1. */
TEST(buffer_growth)
{
    const uint32_t max = 1 << 20;
    char *s = xmalloc(max);
    memset(s, 'g', max);
    struct bytes b = {0};
    put_frame(&b, WS_OP_TEXT, false, s, max / 2);
    put_frame(&b, WS_OP_CONT, true, s, max / 2);

    struct ws_parser p;
    struct rec r = {0};
    ws_parser_init(&p, max, true);
    size_t peak = 0;
    bool early_ok = true;
    for (size_t at = 0; at < b.len; at += 1000) {
        size_t n = b.len - at < 1000 ? b.len - at : 1000;
        CHECK_INT(ws_parser_feed(&p, b.d + at, n, &cbs, &r), 0);
        if (p.msg_cap > peak)
            peak = p.msg_cap;
        /* pinned memory stays within about twice what has arrived */
        if (p.msg && p.msg_cap > 2 * p.msg_len + 4097)
            early_ok = false;
    }
    CHECK(early_ok);
    CHECK_INT(peak, (size_t)max + 1);
    CHECK_INT(r.events, 1);
    CHECK(ws_parser_is_idle(&p));
    ws_parser_release(&p);
    bytes_free(&b);
    free(s);
}

/* ---------------------------------------------------------------- UTF-8 */

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | cp >> 6);
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | cp >> 12);
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | cp >> 18);
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/*
 * Reference validator built on code points rather than byte ranges: the input is a valid
 * prefix when every complete sequence decodes to a scalar value in its length's range and a
 * trailing partial sequence can still be completed to one. *complete tells whether it ends on
 * a boundary.
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

/* ws_utf8_feed whole and byte by byte against the reference. */
static bool utf8_agrees(const uint8_t *s, size_t n)
{
    bool complete;
    bool want = ref_utf8(s, n, &complete);
    uint32_t st = 0;
    bool got = ws_utf8_feed(&st, s, n);
    if (got != want || (got && ws_utf8_is_complete(st) != complete))
        return false;
    st = 0;
    for (size_t i = 0; i < n; i++)
        got = ws_utf8_feed(&st, s + i, 1) && got;
    return got == want && (!got || ws_utf8_is_complete(st) == complete);
}

TEST(utf8_exhaustive_short)
{
    uint8_t s[4];
    bool ok = true;
    for (unsigned a = 0; a < 256 && ok; a++) {
        s[0] = (uint8_t)a;
        ok = utf8_agrees(s, 1);
        for (unsigned b = 0; b < 256 && ok; b++) {
            s[1] = (uint8_t)b;
            ok = utf8_agrees(s, 2);
            if (a < 0xc0)
                continue;
            for (unsigned c = 0; c < 256 && ok; c++) {
                s[2] = (uint8_t)c;
                ok = utf8_agrees(s, 3);
            }
        }
    }
    CHECK(ok);
    /* four-byte leads with a sample of third bytes */
    static const uint8_t thirds[] = {0x41, 0x80, 0x9f, 0xbf, 0xc0};
    for (unsigned a = 0xf0; a < 0x100 && ok; a++) {
        s[0] = (uint8_t)a;
        for (unsigned b = 0x7f; b <= 0xc0 && ok; b++) {
            s[1] = (uint8_t)b;
            for (size_t t = 0; t < sizeof(thirds) && ok; t++) {
                s[2] = thirds[t];
                for (unsigned d = 0; d < 256 && ok; d++) {
                    s[3] = (uint8_t)d;
                    ok = utf8_agrees(s, 4);
                }
            }
        }
    }
    CHECK(ok);
}

TEST(utf8_boundaries)
{
    static const uint32_t cps[] = {0x0,    0x7f,   0x80,   0x7ff,   0x800,   0xd7ff,
                                   0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff};
    for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
        char s[8];
        size_t n = 0;
        s[n++] = '<';
        put_utf8(s, &n, cps[i]);
        s[n++] = '>';
        uint32_t st = 0;
        CHECK(ws_utf8_feed(&st, (const uint8_t *)s, n) && ws_utf8_is_complete(st));
        struct bytes b = {0};
        struct rec r = {0};
        put_frame(&b, WS_OP_TEXT, true, s, n);
        CHECK_INT(feed_all(&b, 100, &r), 0);
        CHECK_INT(r.events, 1);
        bytes_free(&b);
    }
    /* the four-byte character split across every pair of fragments */
    static const char smile[] = "\xf0\x9f\x98\x80";
    for (size_t k = 0; k <= 4; k++) {
        struct bytes b = {0};
        struct rec r = {0};
        put_frame(&b, WS_OP_TEXT, false, smile, k);
        put_frame(&b, WS_OP_CONT, true, smile + k, 4 - k);
        CHECK_INT(feed_all(&b, 100, &r), 0);
        CHECK_INT(r.events, 1);
        bytes_free(&b);
    }
}

TEST(utf8_invalid)
{
    static const char *const bad[] = {
        "\xc0\x80",
        "\xc1\xbf",
        "\xe0\x80\x80",
        "\xe0\x9f\xbf",
        "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf",
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xf7\xbf\xbf\xbf",
        "\xf8\x88\x80\x80\x80",
        "\xfe",
        "\xff",
        "\x80",
        "\xbf",
        "\xc2\x41",
        "\xe1\x80\x41",
        "\xf1\x80\x80\x41",
        "\xc2\xc2\x80",
        "\xe2\x82",
        "\xce",
        "\xf0\x9f\x98",
        "ok\xed\xa0\x80ok",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i]);
        uint32_t st = 0;
        bool fed = ws_utf8_feed(&st, (const uint8_t *)bad[i], n);
        CHECK(!(fed && ws_utf8_is_complete(st)));
        if (!fed)
            CHECK(!ws_utf8_feed(&st, (const uint8_t *)"a", 1)); /* stays failed */
        struct bytes b = {0};
        put_frame(&b, WS_OP_TEXT, true, bad[i], n);
        check_splits(&b, 100, "", 1007);
        bytes_free(&b);
    }
    /* the same bytes are fine in a binary message */
    struct bytes b = {0};
    struct rec r = {0};
    put_frame(&b, WS_OP_BINARY, true, "\xc0\x80\xff", 3);
    CHECK_INT(feed_all(&b, 100, &r), 0);
    bytes_free(&b);
    /* truncated at the end of the message, across fragments */
    put_text(&b, WS_OP_TEXT, false, "ok \xe2");
    put_text(&b, WS_OP_CONT, true, "\x82");
    CHECK_INT(feed_all(&b, 100, &r), 1007);
    bytes_free(&b);
}

/* The bad byte is reported as soon as it arrives: in a non-final fragment, mid-frame. */
TEST(utf8_fail_fast)
{
    struct ws_parser p;
    struct rec r = {0};
    struct bytes b = {0};

    put_text(&b, WS_OP_TEXT, false, "abc\xc0");
    ws_parser_init(&p, 1000, true);
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 1007);
    ws_parser_release(&p);
    bytes_free(&b);

    /* a 100-byte frame whose 5th byte is bad: the first 5 payload bytes are enough */
    char s[100];
    memset(s, 'x', sizeof(s));
    s[4] = (char)0xf5;
    put_frame(&b, WS_OP_TEXT, true, s, sizeof(s));
    ws_parser_init(&p, 1000, true);
    CHECK_INT(ws_parser_feed(&p, b.d, 6 + 4, &cbs, &r), 0);
    CHECK_INT(ws_parser_feed(&p, b.d + 10, 1, &cbs, &r), 1007);
    ws_parser_release(&p);
    bytes_free(&b);

    /* a truncated sequence at the end of a non-final fragment is not an error yet */
    put_text(&b, WS_OP_TEXT, false, "euro \xe2\x82");
    ws_parser_init(&p, 1000, true);
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 0);
    bytes_free(&b);
    put_text(&b, WS_OP_CONT, false, "\x41"); /* but a non-continuation next is */
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 1007);
    ws_parser_release(&p);
    bytes_free(&b);
    CHECK_INT(r.events, 0);

    /* a ping between fragments does not disturb the pending sequence */
    put_text(&b, WS_OP_TEXT, false, "\xe2");
    put_text(&b, WS_OP_PING, true, "\xff");
    put_text(&b, WS_OP_CONT, true, "\x82\xac");
    check_splits(&b, 100, NULL, 0);
    bytes_free(&b);
}

/* The 8-byte ASCII path and the per-byte path agree wherever the odd byte sits. */
TEST(utf8_positions)
{
    uint8_t s[72];
    for (size_t pos = 0; pos < 64; pos++) {
        memset(s, 'a', sizeof(s));
        s[pos] = 0x80;
        uint32_t st = 0;
        CHECK(!ws_utf8_feed(&st, s, sizeof(s)));
        memset(s, 'a', sizeof(s));
        memcpy(s + pos, "\xf4\x8f\xbf\xbf", 4);
        st = 0;
        CHECK(ws_utf8_feed(&st, s, sizeof(s)) && ws_utf8_is_complete(st));
        for (size_t cut = 0; cut <= sizeof(s); cut += 5) {
            st = 0;
            CHECK(ws_utf8_feed(&st, s, cut) && ws_utf8_feed(&st, s + cut, sizeof(s) - cut));
            CHECK(ws_utf8_is_complete(st));
        }
        memcpy(s + pos, "\xf4\x90\xbf\xbf", 4);
        st = 0;
        CHECK(!ws_utf8_feed(&st, s, sizeof(s)));
        CHECK(utf8_agrees(s, pos + 2));
    }
}

/* ---------------------------------------------------------------- lifecycle */

TEST(idle_and_allocation)
{
    struct ws_parser p;
    struct rec r = {0};
    struct bytes b = {0};
    ws_parser_init(&p, 100, true);
    CHECK(ws_parser_is_idle(&p));
    CHECK(sizeof(p) < 100);

    put_text(&b, WS_OP_TEXT, true, "one");
    CHECK_INT(ws_parser_feed(&p, b.d, 1, &cbs, &r), 0);
    CHECK(!ws_parser_is_idle(&p)); /* half a header */
    CHECK_INT(ws_parser_feed(&p, b.d + 1, b.len - 2, &cbs, &r), 0);
    CHECK(!ws_parser_is_idle(&p)); /* in the payload */
    CHECK(p.msg != NULL);
    CHECK_INT(ws_parser_feed(&p, b.d + b.len - 1, 1, &cbs, &r), 0);
    CHECK(ws_parser_is_idle(&p));
    CHECK(p.msg == NULL && p.ctl == NULL && p.msg_cap == 0);
    bytes_free(&b);

    put_text(&b, WS_OP_TEXT, false, "frag");
    put_text(&b, WS_OP_PING, true, "x");
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 0);
    CHECK(!ws_parser_is_idle(&p)); /* a message is in progress */
    CHECK(p.ctl == NULL);
    bytes_free(&b);
    put_text(&b, WS_OP_CONT, true, "ment");
    CHECK_INT(ws_parser_feed(&p, b.d, b.len, &cbs, &r), 0);
    CHECK(ws_parser_is_idle(&p));
    CHECK_STR(r.log, "T(one) ping(x) T(fragment) ");
    bytes_free(&b);

    /* release in the middle of everything frees it all (checked by ASan) */
    put_text(&b, WS_OP_TEXT, false, "left");
    put_text(&b, WS_OP_PING, true, "half");
    CHECK_INT(ws_parser_feed(&p, b.d, b.len - 2, &cbs, &r), 0);
    CHECK(p.msg != NULL && p.ctl != NULL);
    ws_parser_release(&p);
    ws_parser_release(&p);
    bytes_free(&b);
}

/* A callback asking to stop leaves the rest of the input unconsumed. */
TEST(callback_stop)
{
    struct bytes b = {0};
    put_text(&b, WS_OP_TEXT, true, "first");
    put_text(&b, WS_OP_TEXT, true, "second");
    put_text(&b, WS_OP_PING, true, "third");
    for (int stop = 1; stop <= 3; stop++) {
        struct rec r = {.stop_at = stop};
        CHECK_INT(feed_all(&b, 100, &r), 0);
        CHECK_INT(r.events, stop);
    }
    bytes_free(&b);
}

int main(void)
{
    RUN(header_lengths);
    RUN(header_masked_lengths);
    RUN(rfc_examples);
    RUN(mask_offsets);
    RUN(masked_writer_roundtrip);
    RUN(length_forms);
    RUN(fragmented_with_ping);
    RUN(empty_messages_and_fragments);
    RUN(session_every_split);
    RUN(close_frames);
    RUN(close_stops_parsing);
    RUN(close_code_validity);
    RUN(error_unmasked);
    RUN(error_rsv_bits);
    RUN(error_reserved_opcodes);
    RUN(error_control_frames);
    RUN(error_close_payload);
    RUN(error_continuation);
    RUN(error_length_msb);
    RUN(errors_are_sticky);
    RUN(max_message);
    RUN(buffer_growth);
    RUN(utf8_exhaustive_short);
    RUN(utf8_boundaries);
    RUN(utf8_invalid);
    RUN(utf8_fail_fast);
    RUN(utf8_positions);
    RUN(idle_and_allocation);
    RUN(callback_stop);
    return test_summary();
}
