/*
 * The customer context (docs/service.md, "Customer context"): a direct conversation shows the
 * peer's profile with its free JSON `metadata` (the business system's customer data: orders,
 * tier, ...) as `peer.metadata`, and each member's in `members[].metadata`; when a user's
 * name, avatar, kind or metadata changes (PATCH /users/{id}, PATCH /auth/me), each of their
 * direct conversations — the CHAT_PROFILE_FANOUT_MAX most recently active ones — gets a
 * `member.updated` event in the change's own write op (identity's profile hook), so sync
 * replays it to the peer, and after the commit a `conversation.updated` frame with its
 * cursor goes to the peer and the app's monitors (not to the user: 200 frames about their own
 * change would tell them nothing).
 */
#include <string.h>

#include "bus/bus.h"
#include "chat/internal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/frame.h"
#include "identity/identity.h"
#include "net/server.h"
#include "rt/rt.h"
#include "store/sql.h"
#include "store/store.h"

enum { MB_CONV = 0, MB_USER = 1 }; /* SQL_CONVERSATION_MEMBERS_COLS */

void chat__metadata_add(cJSON *o, const struct store_rows *r, int i, int col)
{
    const char *meta = store_rows_text(r, i, col);
    /* stored compact and checked valid JSON (users.metadata): embedded as it is */
    cJSON_AddItemToObject(o, "metadata",
                          meta != NULL ? cJSON_CreateRaw(meta) : cJSON_CreateObject());
}

/* Loop thread (building the change's op): the events, then the conversations and their members. */
static void profile_add(struct store_op *op, const char *app_id, const char *user_id, void *ud)
{
    (void)ud;
    int64_t now = clock_wall_ms();
    store_op_add(op, &SQL_EVENTS_INSERT_PROFILE);
    store_bind_text(op, app_id);
    store_bind_text(op, user_id);
    store_bind_int(op, now);
    store_bind_int(op, CHAT_PROFILE_FANOUT_MAX);
    const struct store_sql *reads[] = {&SQL_CONVERSATIONS_PROFILE,
                                       &SQL_CONVERSATION_MEMBERS_PROFILE};
    for (size_t k = 0; k < 2; k++) {
        store_op_add(op, reads[k]);
        store_bind_text(op, app_id);
        store_bind_text(op, user_id);
        store_bind_int(op, now);
    }
}

/* The cursor of the event logged for conversation id (0: none). */
static int64_t cursor_of(const struct store_rows *ev, const char *id)
{
    for (int k = 0; ev != NULL && k < ev->nrows; k++) {
        const char *cid = store_rows_text(ev, k, 1);
        if (cid != NULL && strcmp(cid, id) == 0)
            return store_rows_int(ev, k, 0);
    }
    return 0;
}

/* After the commit: each conversation's frame to the peer and the app's monitors. */
static void profile_done(const struct store_result *res, int first, const char *app_id,
                         const char *user_id, void *ud)
{
    struct chat *c = ud;
    const struct store_rows *ev = store_result_step(res, first);
    const struct store_rows *convs = store_result_step(res, first + 1);
    const struct store_rows *members = store_result_step(res, first + 2);
    struct bus *bus = rt_bus(c->rt);
    char topic[BUS_TOPIC_MAX + 1];
    struct buf b = BUF_INIT;
    for (int i = 0; convs != NULL && i < convs->nrows; i++) {
        const char *id = store_rows_text(convs, i, 0);
        int64_t cursor = id != NULL ? cursor_of(ev, id) : 0;
        if (cursor == 0)
            continue;
        cJSON *o = chat__conv_json(convs, i, members, NULL, NULL);
        buf_clear(&b);
        chat__updated_frame(&b, o, NULL, cursor);
        cJSON_Delete(o);
        struct frame *f = ws_frame_text(b.data, b.len);
        f->cursor = cursor;
        rt_cursor_seen(c->rt, cursor);
        for (int k = 0; members != NULL && k < members->nrows; k++) {
            const char *cid = store_rows_text(members, k, MB_CONV);
            const char *uid = store_rows_text(members, k, MB_USER);
            if (cid == NULL || uid == NULL || strcmp(cid, id) != 0 || strcmp(uid, user_id) == 0)
                continue; /* the peer only: the user knows their own change */
            bus_topic_user(topic, app_id, uid);
            bus_publish(bus, bus_event_new(BUS_KIND_FRAME, topic, frame_ref(f)));
        }
        chat__publish_monitors(c->rt, app_id, f);
        frame_unref(f);
    }
    buf_release(&b);
}

void chat__context_init(struct chat *c)
{
    c->id->profile = (struct identity_profile_hook){
        .add = profile_add,
        .done = profile_done,
        .ud = c,
    };
}
