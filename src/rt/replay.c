/*
 * Replay, then live, on one socket (rt.h, "Sync on a socket"; docs/protocol.md, "Sync"): while a
 * sync is under way the live frames of logged events wait here, and no cursor goes to the
 * socket twice, so the client sees every event once, in the order it was committed.
 *
 * A session's state (struct rt_replay) exists only around a sync: from the first live event in
 * the first REPLAY_WINDOW_MS of the connection (a client syncs right after hello; what reached
 * it live meanwhile must not be replayed again), and from a sync until REPLAY_GRACE_MS after
 * its last page (an event the page read may still be on its way live). Idle sockets have none.
 *
 * The hold after hello: a user's live events that come before the client's first frame wait
 * too, at most HELLO_HOLD_MS after the connection opened. A client that syncs right after hello
 * (docs/protocol.md, "The client's algorithm") so gets its replay first and then every live
 * event, a conversation's in seq order; one whose first frame is anything else gets them at
 * that frame, and one that sends nothing at the first sweep past the hold (within a second).
 * The hold takes no more than the socket's outgoing queue has room for: past that, the frames
 * go out at once (a client that does not read is then closed by the queue's bound, 1008).
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/frame.h"
#include "core/xalloc.h"
#include "net/server.h"
#include "rt/internal.h"

#define REPLAY_WINDOW_MS 10000 /* after hello: live cursors remembered for the first sync */
#define REPLAY_GRACE_MS 5000   /* after the last page: the cursors sent are still remembered */
#define REPLAY_WAIT_MS 10000   /* a page with has_more: the next sync is expected within */
#define REPLAY_SET_MAX 65536   /* cursors remembered, at most (the oldest half goes then) */
#define REPLAY_HELD_MAX 10000  /* live frames held during a sync before the socket is closed */
#define REPLAY_HELD_BYTES (4u << 20)
#define HELLO_HOLD_MS 500 /* after hello, live events wait this long for the client's sync */

struct rt_replay {
    int pending;       /* syncs read but not yet answered */
    bool holding;      /* live frames with a cursor wait in held */
    bool hello_hold;   /* holding because the client has not spoken since hello */
    uint64_t until_ms; /* not holding: the state is dropped after this */
    uint64_t page_ms;  /* when the last page (has_more) went out */
    int64_t *sent;     /* cursors sent to the socket, ascending */
    size_t nsent, capsent;
    struct frame **held;
    size_t nheld, capheld, held_bytes;
};

/* Index of the first cursor >= cur. */
static size_t lower_bound(const struct rt_replay *r, int64_t cur)
{
    size_t lo = 0, hi = r->nsent;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->sent[mid] < cur)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Records cur as sent; false when it was already. Cursors mostly come in ascending order. */
static bool mark_sent(struct rt_replay *r, int64_t cur)
{
    size_t at = r->nsent > 0 && r->sent[r->nsent - 1] < cur ? r->nsent : lower_bound(r, cur);
    if (at < r->nsent && r->sent[at] == cur)
        return false;
    if (r->nsent == REPLAY_SET_MAX) { /* forget the oldest half: at worst a duplicate, never a
                                         loss (the client dedupes by id) */
        size_t half = REPLAY_SET_MAX / 2;
        memmove(r->sent, r->sent + half, (r->nsent - half) * sizeof(*r->sent));
        r->nsent -= half;
        at = at > half ? at - half : 0;
    }
    if (r->nsent == r->capsent) {
        r->capsent = r->capsent ? 2 * r->capsent : 64;
        r->sent = xrealloc(r->sent, r->capsent * sizeof(*r->sent));
    }
    memmove(r->sent + at + 1, r->sent + at, (r->nsent - at) * sizeof(*r->sent));
    r->sent[at] = cur;
    r->nsent++;
    return true;
}

static bool was_sent(const struct rt_replay *r, int64_t cur)
{
    size_t at = lower_bound(r, cur);
    return at < r->nsent && r->sent[at] == cur;
}

void rt__replay_free(struct rt_session *s)
{
    struct rt_replay *r = s->replay;
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nheld; i++)
        frame_unref(r->held[i]);
    free(r->held);
    free(r->sent);
    free(r);
    s->replay = NULL;
}

static struct rt_replay *replay_of(struct rt_session *s)
{
    if (s->replay == NULL)
        s->replay = xcalloc(1, sizeof(*s->replay));
    return s->replay;
}

/* The sync is over: the held frames the replay did not cover go out, in the order they came. */
static void release(struct rt_session *s, uint64_t now)
{
    struct rt_replay *r = s->replay;
    for (size_t i = 0; i < r->nheld; i++) {
        struct frame *f = r->held[i];
        if (s->conn != NULL && mark_sent(r, f->cursor))
            ws_conn_send_frame(s->conn, f);
        frame_unref(f);
    }
    r->nheld = 0;
    r->held_bytes = 0;
    r->holding = false;
    r->hello_hold = false;
    if (r->until_ms < now + REPLAY_GRACE_MS)
        r->until_ms = now + REPLAY_GRACE_MS;
}

/* Whether a hold has no reason left: the time after hello is up, or the client stopped paging. */
static bool hold_over(const struct rt_session *s, const struct rt_replay *r, uint64_t now)
{
    if (!r->holding || r->pending > 0)
        return false;
    if (r->hello_hold)
        return now - s->opened_ms >= HELLO_HOLD_MS;
    return now - r->page_ms >= REPLAY_WAIT_MS;
}

void rt__replay_spoke(struct rt_session *s, bool is_sync)
{
    s->spoke = true;
    struct rt_replay *r = s->replay;
    if (r != NULL && r->hello_hold && !is_sync && r->pending == 0)
        release(s, clock_mono_ms());
}

void rt__replay_tick(struct rt_session *s)
{
    uint64_t now = clock_mono_ms();
    if (hold_over(s, s->replay, now))
        release(s, now);
}

bool rt__replay_live(struct rt_session *s, struct frame *f)
{
    uint64_t now = clock_mono_ms();
    struct rt_replay *r = s->replay;
    if (r == NULL) {
        if (now - s->opened_ms >= REPLAY_WINDOW_MS)
            return true;
        r = replay_of(s);
        r->until_ms = s->opened_ms + REPLAY_WINDOW_MS;
        if (now - s->opened_ms < HELLO_HOLD_MS && !s->spoke && !s->operator)
            r->holding = r->hello_hold = true;
    }
    if (hold_over(s, r, now))
        release(s, now);
    else if (r->hello_hold && r->pending == 0 && r->held_bytes + f->len > ws_conn_room(s->conn))
        release(s, now); /* no more waits than the socket's queue takes: a client that does not
                            read is closed as before (1008), and memory is what it was */
    if (r->holding) {
        if (was_sent(r, f->cursor))
            return false;
        if (r->nheld == REPLAY_HELD_MAX || r->held_bytes + f->len > REPLAY_HELD_BYTES) {
            /* too much arrives while the client syncs: it reconnects and syncs from its cursor */
            ws_conn_close(s->conn, 1013, "too many events during the sync; sync again");
            return false;
        }
        if (r->nheld == r->capheld) {
            r->capheld = r->capheld ? 2 * r->capheld : 16;
            r->held = xrealloc(r->held, r->capheld * sizeof(*r->held));
        }
        r->held[r->nheld++] = frame_ref(f);
        r->held_bytes += f->len;
        return false;
    }
    if (now >= r->until_ms) {
        rt__replay_free(s);
        return true;
    }
    return mark_sent(r, f->cursor);
}

void rt_sync_begin(struct rt_session *s)
{
    struct rt_replay *r = replay_of(s);
    r->pending++;
    r->holding = true;
    r->hello_hold = false; /* the replay's end releases the frames */
}

bool rt_sync_replayed(struct rt_session *s, int64_t cursor)
{
    return cursor <= 0 || mark_sent(replay_of(s), cursor);
}

void rt_sync_end(struct rt_session *s, bool more)
{
    struct rt_replay *r = s->replay;
    if (r == NULL) /* cannot happen after rt_sync_begin; be safe */
        return;
    if (r->pending > 0)
        r->pending--;
    uint64_t now = clock_mono_ms();
    if (more) {
        r->page_ms = now;
        return;
    }
    if (r->pending == 0 && r->holding)
        release(s, now);
}
