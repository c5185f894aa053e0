/*
 * RFC 6455 frame parser and writer, with no I/O and no allocation while idle.
 * The parser is a streaming state machine: it consumes every byte it is given
 * (a frame header split across reads is kept in the 14-byte hdr array), unmasks
 * payload as it arrives, assembles fragmented data messages, validates UTF-8 of
 * text messages incrementally (failing on the first byte that cannot start or
 * continue a valid sequence), and reports complete messages and control frames
 * through callbacks. A message buffer exists only while a data message is being
 * received; it is freed when the message has been delivered.
 *
 * Not thread-safe; each parser belongs to one connection on one loop thread.
 */
#ifndef HERALD_NET_WS_FRAME_H
#define HERALD_NET_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close codes used by the server. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never sent; means "close frame had no code" */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
    WS_CLOSE_TRY_AGAIN = 1013,
};

struct ws_parser_cb {
    /*
     * A complete data message (opcode WS_OP_TEXT or WS_OP_BINARY). data is
     * borrowed for the call and is NUL-terminated after len bytes. Return 0 to
     * go on, nonzero to stop parsing (ws_parser_feed then returns 0 and the
     * rest of the input is not consumed; the caller is closing the connection).
     */
    int (*on_message)(void *ud, int opcode, const char *data, size_t len);
    /* A ping frame; payload borrowed (0..125 bytes). Same return convention. */
    int (*on_ping)(void *ud, const char *data, size_t len);
    /* A pong frame; same conventions. */
    int (*on_pong)(void *ud, const char *data, size_t len);
    /*
     * A valid close frame: code is WS_CLOSE_NO_STATUS when the frame had no
     * payload; reason borrowed (valid UTF-8). Parsing stops after a close frame.
     */
    int (*on_close)(void *ud, int code, const char *reason, size_t len);
};

struct ws_parser {
    /* limits, set by ws_parser_init */
    uint32_t max_message; /* largest data message (sum of fragments), bytes */
    bool require_mask;    /* server side: every client frame must be masked */
    bool closed;          /* a close frame was parsed or an error returned */
    uint16_t error;       /* the close code returned after an error; 0 after a close */
    /* frame header being read */
    uint8_t hdr[14];
    uint8_t hdr_len;
    /* current frame */
    uint8_t opcode;
    uint8_t fin;
    uint8_t masked;
    uint8_t mask[4];
    uint8_t mask_pos;
    uint8_t in_payload;
    uint64_t remaining;
    /* fragmented/streaming data message being assembled */
    uint8_t msg_opcode; /* 0 when no data message is in progress */
    uint32_t utf8_state;
    char *msg; /* owned; NULL while idle */
    size_t msg_len, msg_cap;
    /* control frame payload being assembled (at most 125 bytes) */
    char *ctl; /* owned; NULL while idle */
    uint8_t ctl_len;
};

/* Sets up a parser; allocates nothing. */
void ws_parser_init(struct ws_parser *p, uint32_t max_message, bool require_mask);
/* Frees any partial message. The parser may be reused after ws_parser_init. */
void ws_parser_release(struct ws_parser *p);

/*
 * Consumes len bytes. Returns 0 when every byte was consumed (or a callback
 * asked to stop, or a close frame ended the stream), or a positive close code
 * the caller must send before closing the connection:
 *   1002 protocol error: unmasked client frame (when require_mask), RSV bits
 *        set, unknown opcode, control frame with FIN=0 or payload > 125,
 *        continuation without a message in progress, new data frame while a
 *        fragmented message is in progress, 64-bit length with the top bit set,
 *        close payload of 1 byte, invalid close code;
 *   1007 invalid UTF-8 in a text message or close reason;
 *   1009 message larger than max_message (detected from the frame header,
 *        before the payload arrives).
 * After an error or a close frame the parser refuses further input (returns
 * the same code, or 0 after a close).
 */
int ws_parser_feed(struct ws_parser *p, const uint8_t *data, size_t len,
                   const struct ws_parser_cb *cb, void *ud);

/* True when the parser holds no partial frame or message (nothing allocated). */
bool ws_parser_is_idle(const struct ws_parser *p);

/* True if code may appear in a close frame on the wire (RFC 6455 §7.4). */
bool ws_close_code_is_valid(int code);

/*
 * Writes a server (unmasked) frame header for a payload of len bytes into out
 * (at least 10 bytes). Returns the header length (2, 4 or 10).
 */
size_t ws_frame_header(uint8_t *out, int opcode, bool fin, uint64_t len);

/*
 * Writes a masked (client) frame header with the given mask key into out (at
 * least 14 bytes); the payload must be masked by the caller with
 * ws_mask(). Returns the header length. Used by tests and the load generator.
 */
size_t ws_frame_header_masked(uint8_t *out, int opcode, bool fin, uint64_t len,
                              const uint8_t mask[4]);

/* XORs data with the mask key starting at key offset pos. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t pos);

/*
 * Incremental UTF-8 validation. *state starts at 0. Returns false at the first
 * byte that makes the sequence invalid (overlongs, surrogates, > U+10FFFF,
 * bad continuation). ws_utf8_is_complete(state) is true on a code point boundary.
 */
bool ws_utf8_feed(uint32_t *state, const uint8_t *data, size_t len);
bool ws_utf8_is_complete(uint32_t state);

#endif
