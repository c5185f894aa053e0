/*
 * RFC 6455 framing: the streaming frame parser the WebSocket connections feed
 * their input to, the frame header writers, the masking routine and the
 * incremental UTF-8 validator (see ws_frame.h for the contract). It exists
 * apart from ws.c so the byte-level protocol can be unit-tested and fuzzed with
 * no sockets, and so an idle connection costs only the struct: the message and
 * control buffers are allocated when a frame needs them and freed as soon as
 * the callback it was assembled for returns.
 */
#include "net/ws_frame.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* Internal result of a step: stop consuming input, without an error. */
#define STOP (-1)

/* The first allocation of a message buffer is at most this large (plus the NUL). */
#define MSG_INITIAL_CAP 4096

#define CTL_MAX 125

/*
 * UTF-8 validator state: 0 on a code point boundary; otherwise the number of
 * continuation bytes still expected (bits 0-7) and the inclusive range the next
 * byte must fall in (bits 8-15 and 16-23). Restricting the first continuation
 * byte after E0, ED, F0 and F4 is what rejects overlongs, surrogates and code
 * points above U+10FFFF. The bad state has an empty range, so it absorbs.
 */
#define UTF8_STATE(need, lo, hi) ((uint32_t)(need) | (uint32_t)(lo) << 8 | (uint32_t)(hi) << 16)
#define UTF8_BAD UTF8_STATE(0xff, 0xff, 0x00)
#define UTF8_ASCII_MASK 0x8080808080808080ull

/* ---------------------------------------------------------------- UTF-8 */

/* The state after a lead byte of a multi-byte sequence, or UTF8_BAD. */
static inline uint32_t utf8_lead(uint8_t c)
{
    if (c < 0xc2)
        return UTF8_BAD; /* continuation byte, or C0/C1 (always overlong) */
    if (c < 0xe0)
        return UTF8_STATE(1, 0x80, 0xbf);
    if (c < 0xf0)
        return UTF8_STATE(2, c == 0xe0 ? 0xa0 : 0x80, c == 0xed ? 0x9f : 0xbf);
    if (c < 0xf5)
        return UTF8_STATE(3, c == 0xf0 ? 0x90 : 0x80, c == 0xf4 ? 0x8f : 0xbf);
    return UTF8_BAD;
}

/* The state after continuation byte c, or UTF8_BAD. */
static inline uint32_t utf8_cont(uint32_t st, uint8_t c)
{
    uint32_t lo = (st >> 8) & 0xff, hi = (st >> 16) & 0xff;
    if (c < lo || c > hi)
        return UTF8_BAD;
    uint32_t need = (st & 0xff) - 1;
    return need ? UTF8_STATE(need, 0x80, 0xbf) : 0;
}

bool ws_utf8_feed(uint32_t *state, const uint8_t *data, size_t len)
{
    uint32_t st = *state;
    size_t i = 0;

    if (st == UTF8_BAD)
        return false;
    while (i < len) {
        if (st != 0) {
            /* inside a sequence that began in an earlier call or near the end */
            st = utf8_cont(st, data[i++]);
            if (st == UTF8_BAD)
                goto bad;
            continue;
        }
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, data + i, 8);
            if (w & UTF8_ASCII_MASK) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                i += (size_t)__builtin_ctzll(w & UTF8_ASCII_MASK) / 8; /* skip the ASCII head */
#endif
                break;
            }
            i += 8;
        }
        if (i == len)
            break;
        uint8_t c = data[i++];
        if (c < 0x80)
            continue;
        st = utf8_lead(c);
        if (st == UTF8_BAD)
            goto bad;
        size_t need = st & 0xff;
        if (len - i < need)
            continue; /* the sequence ends in a later call: go byte by byte */
        uint8_t first = data[i];
        if (first < ((st >> 8) & 0xff) || first > ((st >> 16) & 0xff))
            goto bad;
        for (size_t k = 1; k < need; k++) {
            if ((data[i + k] & 0xc0) != 0x80)
                goto bad;
        }
        i += need;
        st = 0;
    }
    *state = st;
    return true;
bad:
    *state = UTF8_BAD;
    return false;
}

bool ws_utf8_is_complete(uint32_t state)
{
    return state == 0;
}

/* ---------------------------------------------------------------- writing */

bool ws_close_code_is_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* Writes the length field (with the mask bit) after out[0]; returns the bytes used. */
static size_t put_length(uint8_t *out, uint8_t mask_bit, uint64_t len)
{
    if (len < 126) {
        out[1] = mask_bit | (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_frame_header(uint8_t *out, int opcode, bool fin, uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    return put_length(out, 0, len);
}

size_t ws_frame_header_masked(uint8_t *out, int opcode, bool fin, uint64_t len,
                              const uint8_t mask[4])
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    size_t n = put_length(out, 0x80, len);
    memcpy(out + n, mask, 4);
    return n + 4;
}

/* dst = src XOR the mask key starting at key offset pos; dst may equal src. */
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4],
                      size_t pos)
{
    uint8_t key[8];
    for (size_t i = 0; i < 8; i++)
        key[i] = mask[(pos + i) & 3];
    uint64_t kw;
    memcpy(&kw, key, 8);

    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= kw;
        memcpy(dst + i, &w, 8);
    }
    for (; i < len; i++)
        dst[i] = src[i] ^ key[i & 7];
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t pos)
{
    mask_copy(data, data, len, mask, pos);
}

/* ---------------------------------------------------------------- parsing */

void ws_parser_init(struct ws_parser *p, uint32_t max_message, bool require_mask)
{
    memset(p, 0, sizeof(*p));
    p->max_message = max_message;
    p->require_mask = require_mask;
}

static void msg_free(struct ws_parser *p)
{
    free(p->msg);
    p->msg = NULL;
    p->msg_len = 0;
    p->msg_cap = 0;
    p->msg_opcode = 0;
    p->utf8_state = 0;
}

static void ctl_free(struct ws_parser *p)
{
    free(p->ctl);
    p->ctl = NULL;
    p->ctl_len = 0;
}

void ws_parser_release(struct ws_parser *p)
{
    msg_free(p);
    ctl_free(p);
}

bool ws_parser_is_idle(const struct ws_parser *p)
{
    return p->hdr_len == 0 && !p->in_payload && p->msg_opcode == 0 && p->msg == NULL &&
           p->ctl == NULL;
}

/* Ends the stream with an error: nothing stays allocated, later input gets the same code. */
static int fail(struct ws_parser *p, int code)
{
    ws_parser_release(p);
    p->hdr_len = 0;
    p->in_payload = 0;
    p->closed = true;
    p->error = (uint16_t)code;
    return code;
}

static bool is_control(uint8_t opcode)
{
    return opcode & 0x08;
}

/* Largest message the buffer arithmetic can hold: max_message, or less on 32-bit. */
static uint64_t msg_limit(const struct ws_parser *p)
{
    uint64_t lim = p->max_message;
    return lim < SIZE_MAX ? lim : SIZE_MAX - 1;
}

/* Everything decidable from the first two header bytes. */
static int check_start(const struct ws_parser *p)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
    uint8_t len7 = b1 & 0x7f;

    if (b0 & 0x70)
        return WS_CLOSE_PROTOCOL; /* no extension was negotiated */
    switch (b0 & 0x0f) {
    case WS_OP_CONT:
        if (p->msg_opcode == 0)
            return WS_CLOSE_PROTOCOL;
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (p->msg_opcode != 0)
            return WS_CLOSE_PROTOCOL;
        break;
    case WS_OP_CLOSE:
        if (len7 == 1)
            return WS_CLOSE_PROTOCOL;
        /* fall through */
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!(b0 & 0x80) || len7 > CTL_MAX)
            return WS_CLOSE_PROTOCOL;
        break;
    default:
        return WS_CLOSE_PROTOCOL;
    }
    if (p->require_mask && !(b1 & 0x80))
        return WS_CLOSE_PROTOCOL;
    return 0;
}

/* Bytes of the extended length field (after the first two header bytes). */
static size_t ext_size(const struct ws_parser *p)
{
    uint8_t len7 = p->hdr[1] & 0x7f;
    return len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
}

/* Payload length, once the first 2 + ext_size() header bytes are in. */
static uint64_t frame_length(const struct ws_parser *p)
{
    uint64_t len = p->hdr[1] & 0x7f;
    if (len == 126)
        return (uint64_t)p->hdr[2] << 8 | p->hdr[3];
    if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p->hdr[2 + i];
    }
    return len;
}

/* The length is refused as soon as it is known, before the mask key and the payload. */
static int check_length(const struct ws_parser *p)
{
    uint64_t len = frame_length(p);
    if (len >> 63)
        return WS_CLOSE_PROTOCOL;
    if (!is_control(p->hdr[0] & 0x0f) && len > msg_limit(p) - p->msg_len)
        return WS_CLOSE_TOO_BIG;
    return 0;
}

static int frame_end(struct ws_parser *p, const struct ws_parser_cb *cb, void *ud);

/* A whole header is in p->hdr and its length was checked: gets ready for the payload. */
static int frame_begin(struct ws_parser *p, const struct ws_parser_cb *cb, void *ud)
{
    size_t at = 2 + ext_size(p);
    uint64_t len = frame_length(p);

    p->opcode = p->hdr[0] & 0x0f;
    p->fin = p->hdr[0] >> 7;
    p->masked = p->hdr[1] >> 7;
    if (p->masked)
        memcpy(p->mask, p->hdr + at, 4);
    p->mask_pos = 0;
    p->hdr_len = 0;

    if (is_control(p->opcode)) {
        if (len > 0) /* at most CTL_MAX, checked with the first two bytes */
            p->ctl = xmalloc((size_t)len + 1);
        p->ctl_len = 0;
    } else if (p->opcode != WS_OP_CONT) {
        p->msg_opcode = p->opcode;
        p->utf8_state = 0;
    }
    p->remaining = len;
    if (len == 0)
        return frame_end(p, cb, ud);
    p->in_payload = 1;
    return 0;
}

/* Copies header bytes until p->hdr holds upto of them; false when the input ran out first. */
static bool take_header(struct ws_parser *p, size_t upto, const uint8_t *data, size_t len,
                        size_t *off)
{
    if (p->hdr_len >= upto)
        return true;
    size_t n = upto - p->hdr_len;
    if (n > len - *off)
        n = len - *off;
    memcpy(p->hdr + p->hdr_len, data + *off, n);
    p->hdr_len = (uint8_t)(p->hdr_len + n);
    *off += n;
    return p->hdr_len == upto;
}

/* Makes room for need bytes (payload plus the NUL) in the message buffer. */
static void msg_reserve(struct ws_parser *p, size_t need)
{
    if (need <= p->msg_cap)
        return;
    /* need never passes msg_limit() + 1: check_length() saw the total */
    size_t cap;
    if (p->msg_cap == 0) {
        /* size the first allocation to the frame, but grow with what arrives */
        uint64_t frame_end_len = (uint64_t)p->msg_len + p->remaining + 1;
        cap = frame_end_len < MSG_INITIAL_CAP + 1 ? (size_t)frame_end_len : MSG_INITIAL_CAP + 1;
    } else {
        cap = p->msg_cap <= SIZE_MAX / 2 ? p->msg_cap * 2 : SIZE_MAX;
    }
    if (cap < need)
        cap = need;
    if (cap - 1 > msg_limit(p))
        cap = (size_t)msg_limit(p) + 1;
    p->msg = xrealloc(p->msg, cap);
    p->msg_cap = cap;
}

/* n payload bytes of the current frame (n <= p->remaining). */
static int payload(struct ws_parser *p, const uint8_t *src, size_t n)
{
    uint8_t *dst;

    if (is_control(p->opcode)) {
        dst = (uint8_t *)p->ctl + p->ctl_len;
        p->ctl_len = (uint8_t)(p->ctl_len + n);
    } else {
        msg_reserve(p, p->msg_len + n + 1);
        dst = (uint8_t *)p->msg + p->msg_len;
        p->msg_len += n;
    }
    if (p->masked)
        mask_copy(dst, src, n, p->mask, p->mask_pos);
    else
        memcpy(dst, src, n);
    p->mask_pos = (uint8_t)((p->mask_pos + n) & 3);

    if (!is_control(p->opcode) && p->msg_opcode == WS_OP_TEXT &&
        !ws_utf8_feed(&p->utf8_state, dst, n))
        return WS_CLOSE_INVALID_DATA;
    return 0;
}

static int control_end(struct ws_parser *p, const struct ws_parser_cb *cb, void *ud)
{
    const char *data = "";
    size_t len = p->ctl_len;
    int stop = 0;

    if (p->ctl) {
        p->ctl[len] = '\0';
        data = p->ctl;
    }
    if (p->opcode == WS_OP_CLOSE) {
        int code = WS_CLOSE_NO_STATUS;
        const char *reason = "";
        size_t rlen = 0;
        if (len >= 2) { /* a 1-byte payload was refused with the header */
            const uint8_t *u = (const uint8_t *)data;
            uint32_t st = 0;
            code = u[0] << 8 | u[1];
            if (!ws_close_code_is_valid(code))
                return WS_CLOSE_PROTOCOL;
            reason = data + 2;
            rlen = len - 2;
            if (!ws_utf8_feed(&st, u + 2, rlen) || !ws_utf8_is_complete(st))
                return WS_CLOSE_INVALID_DATA;
        }
        p->closed = true;
        p->error = 0;
        if (cb->on_close)
            cb->on_close(ud, code, reason, rlen);
        ws_parser_release(p);
        return STOP;
    }
    if (p->opcode == WS_OP_PING && cb->on_ping)
        stop = cb->on_ping(ud, data, len);
    else if (p->opcode == WS_OP_PONG && cb->on_pong)
        stop = cb->on_pong(ud, data, len);
    ctl_free(p);
    return stop ? STOP : 0;
}

/* The current frame's payload is complete. */
static int frame_end(struct ws_parser *p, const struct ws_parser_cb *cb, void *ud)
{
    p->in_payload = 0;
    if (is_control(p->opcode))
        return control_end(p, cb, ud);
    if (!p->fin)
        return 0;
    if (p->msg_opcode == WS_OP_TEXT && !ws_utf8_is_complete(p->utf8_state))
        return WS_CLOSE_INVALID_DATA;

    const char *data = "";
    if (p->msg) {
        p->msg[p->msg_len] = '\0';
        data = p->msg;
    }
    int stop = cb->on_message ? cb->on_message(ud, p->msg_opcode, data, p->msg_len) : 0;
    msg_free(p);
    return stop ? STOP : 0;
}

int ws_parser_feed(struct ws_parser *p, const uint8_t *data, size_t len,
                   const struct ws_parser_cb *cb, void *ud)
{
    size_t off = 0;
    int rc;

    if (p->closed)
        return p->error;
    while (off < len) {
        if (!p->in_payload) {
            if (p->hdr_len < 2) {
                if (!take_header(p, 2, data, len, &off))
                    break;
                rc = check_start(p);
                if (rc == 0 && ext_size(p) == 0)
                    rc = check_length(p); /* a 7-bit length is complete already */
                if (rc)
                    return fail(p, rc);
            }
            size_t ext = 2 + ext_size(p);
            if (p->hdr_len < ext) {
                if (!take_header(p, ext, data, len, &off))
                    break;
                rc = check_length(p);
                if (rc)
                    return fail(p, rc);
            }
            if (!take_header(p, ext + (p->hdr[1] & 0x80 ? 4 : 0), data, len, &off))
                break;
            rc = frame_begin(p, cb, ud);
        } else {
            size_t n = len - off;
            if (p->remaining < n)
                n = (size_t)p->remaining;
            rc = payload(p, data + off, n);
            off += n;
            p->remaining -= n;
            if (rc == 0 && p->remaining == 0)
                rc = frame_end(p, cb, ud);
        }
        if (rc == STOP)
            return 0;
        if (rc)
            return fail(p, rc);
    }
    return 0;
}
