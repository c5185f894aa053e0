/*
 * Frames: reference-counted, immutable byte strings that many connections
 * send. An event for many recipients is encoded once (JSON and WebSocket
 * header, see ws_frame_text() in net/server.h) into one frame, and every
 * recipient connection queues a reference to those same bytes: no copy and
 * no allocation per recipient. The count is atomic, so a frame may be shared
 * by the event loops and the thread that built it.
 */
#ifndef HERALD_CORE_FRAME_H
#define HERALD_CORE_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct frame {
    atomic_uint refs;
    uint32_t len;   /* bytes in data */
    int64_t cursor; /* the event's cursor when the frame is a logged event (docs/protocol.md),
                       else 0; set by the creator before sharing, like data */
    char data[];
};

/*
 * A frame of len bytes (uninitialised: the creator fills data before sharing
 * it) with one reference, owned by the caller. Aborts when out of memory.
 * Any thread.
 */
struct frame *frame_new(size_t len);

/* A frame holding a copy of p[0..len). */
struct frame *frame_new_copy(const void *p, size_t len);

/* Takes one more reference; returns f. Any thread. */
struct frame *frame_ref(struct frame *f);

/* Drops one reference; the last one frees. NULL-safe. Any thread. */
void frame_unref(struct frame *f);

/* Frames created since the process started (for tests and metrics). */
uint64_t frame_created_total(void);

#endif
